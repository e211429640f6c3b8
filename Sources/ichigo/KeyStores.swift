import Configuration
import Foundation
import Ichigo
import IchigoHSM
import IchigoWeb

/// Where the master key comes from (`key.store`, `ICHIGO_KEY_STORE`):
/// - `file` (the default): `ICHIGO_MASTER_KEY`, else `data/master.key` (made on first start);
/// - `pkcs11`: the master key is kept only wrapped, in `data/master.key.wrapped`, under a sensitive, never-extractable
///   AES key-encryption key in a hardware security module (`pkcs11.module`, `pkcs11.token`, `pkcs11.key`; the PIN from
///   `ICHIGO_PKCS11_PIN` or the file `pkcs11.pinFile`, never an argument). The HSM unwraps it once at start; a
///   verification never calls the HSM. A wrong PIN, a missing module, token or key, or an extractable key stops the
///   start with the reason; there is no fallback to the file.
enum KeyStores {
    static func masterKey(config: ConfigReader, settings: IchigoConfiguration, directory: DataDirectory) throws
        -> MasterKey
    {
        let store = config.string(forKey: "key.store", default: "file")
        switch store {
        case "file":
            return try directory.masterKey(configured: settings.masterKeyBase64)
        case "pkcs11":
            return try pkcs11(config: config, settings: settings, directory: directory)
        default:
            throw IchigoError(.invalidInput, field: "key.store", detail: "must be file or pkcs11, not \(store)")
        }
    }

    static func pkcs11(config: ConfigReader, settings: IchigoConfiguration, directory: DataDirectory) throws
        -> MasterKey
    {
        guard settings.masterKeyBase64 == nil else {
            throw IchigoError(
                .invalidInput, field: "master.key",
                detail: "ICHIGO_MASTER_KEY cannot be used with key.store pkcs11: the key lives wrapped by the HSM")
        }
        func required(_ key: String) throws -> String {
            guard let value = config.string(forKey: ConfigKey(key)), !value.isEmpty else {
                throw IchigoError(.invalidInput, field: key, detail: "required with key.store pkcs11")
            }
            return value
        }
        let module = try required("pkcs11.module")
        let token = try required("pkcs11.token")
        let keyLabel = try required("pkcs11.key")
        let pin: String
        if let text = config.string(forKey: "pkcs11.pin", isSecret: true), !text.isEmpty {
            pin = text
        } else if let file = config.string(forKey: "pkcs11.pinFile"),
            let data = FileManager.default.contents(atPath: file)
        {
            pin = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw IchigoError(
                .invalidInput, field: "pkcs11.pin", detail: "set ICHIGO_PKCS11_PIN or pkcs11.pinFile")
        }
        let plain = directory.url.appendingPathComponent("master.key").path
        guard !FileManager.default.fileExists(atPath: plain) else {
            throw IchigoError(
                .invalidInput, field: "key.store",
                detail: "\(plain) holds a plain master key: with key.store pkcs11 it must not exist (moving a key into the HSM is a rotation, not yet supported)")
        }
        let kek: PKCS11KeyEncryptionKey
        do {
            kek = try PKCS11KeyEncryptionKey(modulePath: module, tokenLabel: token, keyLabel: keyLabel, pin: pin)
        } catch let error as PKCS11Error {
            throw IchigoError(.invalidInput, field: "key.store", detail: "the HSM refused: \(error)")
        }
        let wrappedPath = directory.url.appendingPathComponent("master.key.wrapped")
        if let data = FileManager.default.contents(atPath: wrappedPath.path) {
            guard let blob = Data(base64Encoded: String(decoding: data, as: UTF8.self)
                .trimmingCharacters(in: .whitespacesAndNewlines))
            else { throw IchigoError(.corruptData, detail: "\(wrappedPath.path) is not base64") }
            let bytes: [UInt8]
            do {
                bytes = try kek.unwrap(Array(blob))
            } catch let error as PKCS11Error {
                throw IchigoError(
                    .corruptData, detail: "\(wrappedPath.path) does not unwrap under \(keyLabel): \(error)")
            }
            guard let key = MasterKey(bytes: bytes) else {
                throw IchigoError(.corruptData, detail: "the unwrapped master key is not 32 bytes")
            }
            return key
        }
        // First start with the HSM: a new master key, kept only wrapped.
        let key = MasterKey.random()
        let wrapped = try kek.wrap(key.bytes)
        try (Data(wrapped).base64EncodedString() + "\n").write(to: wrappedPath, atomically: true, encoding: .utf8)
        return key
    }
}
