import Crypto
import Foundation
import Ichigo
import IchigoHSM

/// A key-encryption key outside the database that wraps key versions' data keys (envelope encryption): the
/// database holds only wrapped keys, so a copy of it opens nothing without this key.
public protocol KeyWrapper: Sendable {
    /// What `KeyVersion.wrappedBy` says for keys wrapped here: `file` or `pkcs11:<token>/<key>`.
    var name: String { get }
    /// Wraps the 32-byte data key of `version`.
    func wrap(_ key: [UInt8], version: Int) throws -> [UInt8]
    /// Unwraps what `wrap` made for `version`; throws if it was altered or made under another key.
    func unwrap(_ blob: [UInt8], version: Int) throws -> [UInt8]
    /// Proves the key-encryption key still works (an HSM that stopped answering throws).
    func check() throws
}

/// The file key store: data keys wrapped with AES-256-GCM under a key derived (HKDF-SHA256) from `master.key` (or
/// `ICHIGO_MASTER_KEY`), the version number as associated data. Whoever reads the file can unwrap every version.
public struct FileKeyWrapper: KeyWrapper {
    public let name = "file"
    private let key: SymmetricKey

    public init(masterKey: MasterKey) {
        key = HKDF<SHA256>.deriveKey(
            inputKeyMaterial: SymmetricKey(data: masterKey.bytes), salt: Array("ichigo".utf8),
            info: Array("key-wrap v1".utf8), outputByteCount: 32)
    }

    private static func associatedData(_ version: Int) -> [UInt8] { Array("ichigo key version \(version)".utf8) }

    public func wrap(_ dataKey: [UInt8], version: Int) throws -> [UInt8] {
        let box = try AES.GCM.seal(dataKey, using: key, authenticating: Self.associatedData(version))
        return Array(box.combined!)
    }

    public func unwrap(_ blob: [UInt8], version: Int) throws -> [UInt8] {
        do {
            let box = try AES.GCM.SealedBox(combined: blob)
            return Array(try AES.GCM.open(box, using: key, authenticating: Self.associatedData(version)))
        } catch {
            throw IchigoError(.corruptData, detail: "key version \(version) does not unwrap under master.key")
        }
    }

    public func check() throws {}
}

/// The PKCS #11 key store: data keys wrapped by the HSM's never-extractable AES key (RFC 5649,
/// `CKM_AES_KEY_WRAP_PAD`). The HSM is called when a version is loaded or made, and by `check`; never by a
/// verification.
public struct PKCS11KeyWrapper: KeyWrapper {
    public let name: String
    let kek: PKCS11KeyEncryptionKey

    public init(kek: PKCS11KeyEncryptionKey) {
        self.kek = kek
        name = "pkcs11:\(kek.tokenLabel)/\(kek.keyLabel)"
    }

    /// The version number (8 bytes, big-endian: with the 32-byte key a multiple of the wrap's 8-byte block, so no
    /// padding, which some modules do not strip) is wrapped with the key and checked on unwrapping (key wrap has no
    /// associated data): a wrapped key copied into another version's row does not load.
    private static func bound(_ version: Int) -> [UInt8] { withUnsafeBytes(of: UInt64(version).bigEndian) { Array($0) } }

    public func wrap(_ dataKey: [UInt8], version: Int) throws -> [UInt8] {
        var plain = Self.bound(version) + dataKey
        defer { for index in plain.indices { plain[index] = 0 } }
        do { return try kek.wrap(plain) } catch let error as PKCS11Error {
            throw IchigoError(.serviceUnavailable, detail: "the HSM did not wrap key version \(version): \(error)")
        }
    }

    public func unwrap(_ blob: [UInt8], version: Int) throws -> [UInt8] {
        let plain: [UInt8]
        do { plain = try kek.unwrap(blob) } catch let error as PKCS11Error {
            throw IchigoError(.corruptData, detail: "key version \(version) does not unwrap in the HSM: \(error)")
        }
        guard plain.count > 8, Array(plain.prefix(8)) == Self.bound(version) else {
            throw IchigoError(.corruptData, detail: "the key stored as version \(version) was wrapped for another version")
        }
        return Array(plain.dropFirst(8))
    }

    public func check() throws {
        let probe = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0) }
        guard try unwrap(try wrap(probe, version: 0), version: 0) == probe else {
            throw IchigoError(.serviceUnavailable, detail: "the HSM's unwrap did not give back what it wrapped")
        }
    }
}
