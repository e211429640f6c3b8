import Crypto
import CryptoExtras
import Foundation
import OTP

/// The key everything at rest is protected with. Generated on first start into the data directory
/// (mode 0600), or given by configuration. Sub-keys are derived from it with HKDF per purpose.
public struct MasterKey: Sendable {
    let key: SymmetricKey

    /// Wraps 32 raw bytes.
    public init?(bytes: [UInt8]) {
        guard bytes.count == 32 else { return nil }
        self.key = SymmetricKey(data: bytes)
    }

    /// A new random 256-bit key.
    public static func random() -> MasterKey { MasterKey(key: SymmetricKey(size: .bits256)) }

    private init(key: SymmetricKey) { self.key = key }

    /// The key's bytes, for writing the key file once. Never log them.
    public var bytes: [UInt8] { key.withUnsafeBytes { Array($0) } }

    /// A sub-key for one purpose (HKDF-SHA256, RFC 5869).
    func derivedKey(for purpose: String) -> SymmetricKey {
        HKDF<SHA256>.deriveKey(
            inputKeyMaterial: key, salt: Array("ichigo".utf8), info: Array(purpose.utf8), outputByteCount: 32)
    }
}

/// A seed sealed with AES-256-GCM under one key version: nonce, ciphertext and tag, bound to its token's ID.
public struct SealedSeed: Sendable, Hashable {
    /// `nonce || ciphertext || tag`, as stored.
    public let combined: [UInt8]
    /// The key version it is sealed under (`Keyring`).
    public let keyVersion: Int
    public init(combined: [UInt8], keyVersion: Int = 1) {
        self.combined = combined
        self.keyVersion = keyVersion
    }
}

/// Seals and opens token seeds under the keyring's versions: new seeds under the current version, stored ones
/// under the version they name. The token ID is the associated data, so a sealed seed copied onto another token's
/// row does not open.
public struct SeedVault: Sendable {
    public let keyring: Keyring

    public init(keyring: Keyring) { self.keyring = keyring }

    /// A vault over one key (version 1).
    public init(masterKey: MasterKey) { self.init(keyring: Keyring(masterKey)) }

    /// Encrypts `seed` for storage with `token`, under the current key version.
    public func seal(_ seed: Seed, for token: TokenID) throws -> SealedSeed {
        let (version, keys) = keyring.currentKeys()
        return try seal(seed, for: token, version: version, key: keys.seed)
    }

    private func seal(_ seed: Seed, for token: TokenID, version: Int, key: SymmetricKey) throws -> SealedSeed {
        let box = try seed.withUnsafeBytes { bytes in
            try AES.GCM.seal(bytes, using: key, authenticating: Array(token.rawValue.utf8))
        }
        guard let combined = box.combined else {
            throw IchigoError(.corruptData, detail: "AES-GCM gave no combined form")
        }
        return SealedSeed(combined: Array(combined), keyVersion: version)
    }

    /// Decrypts a stored seed; throws `corruptData` if it was altered, moved, or sealed under another key, and
    /// `serviceUnavailable` if its key version is not loaded in this process.
    public func open(_ sealed: SealedSeed, for token: TokenID) throws(IchigoError) -> Seed {
        let key = try keyring.keys(sealed.keyVersion).seed
        do {
            let box = try AES.GCM.SealedBox(combined: sealed.combined)
            let bytes = try AES.GCM.open(box, using: key, authenticating: Array(token.rawValue.utf8))
            return Seed(bytes: bytes)
        } catch {
            throw IchigoError(.corruptData, detail: "seed of token \(token) does not decrypt")
        }
    }

    /// The same seed sealed under the current version (a rotation's re-seal); unchanged if it already is.
    public func reseal(_ sealed: SealedSeed, for token: TokenID) throws -> SealedSeed {
        let (version, keys) = keyring.currentKeys()
        guard sealed.keyVersion != version else { return sealed }
        return try seal(try open(sealed, for: token), for: token, version: version, key: keys.seed)
    }
}

/// A password stored as an scrypt hash: `$scrypt$ln=N,r=R,p=P$salt$hash` (salt and hash in base64).
public struct PasswordHash: Sendable, Hashable, CustomStringConvertible {
    /// The encoded form, as stored.
    public let encoded: String
    public init(encoded: String) { self.encoded = encoded }
    /// Redacted.
    public var description: String { "PasswordHash(…)" }
}

/// Hashes and checks passwords with scrypt (memory-hard, salted), from swift-crypto's extras.
public struct PasswordHasher: Sendable {
    /// log2 of scrypt's N. 15 (32 MiB, about 0.1 s) for production; tests use less.
    public let logRounds: Int

    public init(logRounds: Int = 15) {
        precondition((1...20).contains(logRounds))
        self.logRounds = logRounds
    }

    /// A fast hasher for tests only.
    public static let forTesting = PasswordHasher(logRounds: 4)

    private static let blockSize = 8
    private static let outputBytes = 32

    /// Hashes `password` with a fresh random salt.
    public func hash(_ password: String) throws -> PasswordHash {
        let salt = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
        let derived = try Self.derive(password, salt: salt, logRounds: logRounds)
        let text =
            "$scrypt$ln=\(logRounds),r=\(Self.blockSize),p=1$"
            + Data(salt).base64EncodedString() + "$" + derived.withUnsafeBytes { Data($0).base64EncodedString() }
        return PasswordHash(encoded: text)
    }

    /// Whether `password` matches `hash`, compared in constant time. A malformed hash never matches.
    public func verify(_ password: String, against hash: PasswordHash) -> Bool {
        let parts = hash.encoded.split(separator: "$", omittingEmptySubsequences: true)
        guard parts.count == 4, parts[0] == "scrypt" else { return false }
        var params: [String: Int] = [:]
        for item in parts[1].split(separator: ",") {
            let pair = item.split(separator: "=")
            if pair.count == 2, let value = Int(pair[1]) { params[String(pair[0])] = value }
        }
        guard let logRounds = params["ln"], (1...20).contains(logRounds), params["r"] == Self.blockSize,
            params["p"] == 1, let salt = Data(base64Encoded: String(parts[2])),
            let expected = Data(base64Encoded: String(parts[3])), expected.count == Self.outputBytes,
            let derived = try? Self.derive(password, salt: Array(salt), logRounds: logRounds)
        else { return false }
        // SymmetricKey's equality is constant-time.
        return derived == SymmetricKey(data: expected)
    }

    private static func derive(_ password: String, salt: [UInt8], logRounds: Int) throws -> SymmetricKey {
        try KDF.Scrypt.deriveKey(
            from: Array(password.utf8), salt: salt, outputByteCount: outputBytes, rounds: 1 << logRounds,
            blockSize: blockSize, parallelism: 1)
    }
}
