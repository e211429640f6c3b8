import Configuration
import Foundation
import Ichigo
import IchigoHSM
import IchigoKeys
import Logging

/// The key stores this process can use (`key.store`, `ICHIGO_KEY_STORE`):
/// - `file` (the default): `ICHIGO_MASTER_KEY`, else `data/master.key` (made on first start). Key version 1 is that
///   key itself; later versions (after `ichigo keys rotate`) are wrapped under a key derived from it.
/// - `pkcs11`: new key versions are wrapped by a sensitive, never-extractable AES key-encryption key in a hardware
///   security module (`pkcs11.module`, `pkcs11.token`, `pkcs11.key`; the PIN from `ICHIGO_PKCS11_PIN` or the file
///   `pkcs11.pinFile`, never an argument). The HSM unwraps each version once, when this process loads it; a
///   verification never calls it. A wrong PIN, a missing module, token or key, or an extractable key stops the
///   start with the reason; there is no fallback to the file. A `master.key` beside it is used only to open versions
///   made before the move to the HSM (`ichigo keys rotate` re-wraps them, after which the file can be deleted).
package struct KeyStores {
    package let primary: any KeyWrapper
    package let others: [any KeyWrapper]
    package let masterKey: MasterKey?
    /// What `keys status` says about the stores.
    package let summary: String
    /// Set when the file master key is present but no longer needed.
    package let masterKeyPath: String?
    /// A master key made just now (no file yet): written only when the database adopts it.
    package let newMasterKeyFile: (@Sendable () throws -> Void)?

    package init(config: ConfigReader, settings: IchigoConfiguration, directory: DataDirectory) throws {
        let store = config.string(forKey: "key.store", default: "file")
        let plain = directory.url.appendingPathComponent("master.key").path
        switch store {
        case "file":
            let key: MasterKey
            if settings.masterKeyBase64 == nil && !FileManager.default.fileExists(atPath: plain) {
                let made = MasterKey.random()
                key = made
                newMasterKeyFile = {
                    guard
                        FileManager.default.createFile(
                            atPath: plain, contents: Data(made.bytes), attributes: [.posixPermissions: 0o600])
                    else { throw IchigoError(.corruptData, detail: "cannot write \(plain)") }
                }
            } else {
                key = try directory.masterKey(configured: settings.masterKeyBase64)
                newMasterKeyFile = nil
            }
            primary = FileKeyWrapper(masterKey: key)
            others = []
            masterKey = key
            summary = settings.masterKeyBase64 != nil ? "file (ICHIGO_MASTER_KEY)" : "file (\(plain))"
            masterKeyPath = nil
        case "pkcs11":
            let kek = try Self.openHSM(config: config)
            primary = PKCS11KeyWrapper(kek: kek)
            // The file's key, only if it is already there (never made here): versions from before the HSM.
            let key: MasterKey?
            if settings.masterKeyBase64 != nil || FileManager.default.fileExists(atPath: plain) {
                key = try directory.masterKey(configured: settings.masterKeyBase64)
            } else {
                key = nil
            }
            masterKey = key
            newMasterKeyFile = nil
            others = key.map { [FileKeyWrapper(masterKey: $0)] } ?? []
            summary =
                "pkcs11 (token \(kek.tokenLabel), key \(kek.keyLabel))"
                + (key == nil ? "" : "; master key file still present for versions made before the HSM")
            masterKeyPath = key == nil ? nil : plain
        default:
            throw IchigoError(.invalidInput, field: "key.store", detail: "must be file or pkcs11, not \(store)")
        }
    }

    package static func openHSM(config: ConfigReader) throws -> PKCS11KeyEncryptionKey {
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
        } else if let file = config.string(forKey: "pkcs11.pinFile") {
            guard let data = FileManager.default.contents(atPath: file) else {
                throw IchigoError(.invalidInput, field: "pkcs11.pinFile", detail: "cannot read \(file)")
            }
            pin = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        } else {
            throw IchigoError(.invalidInput, field: "pkcs11.pin", detail: "set ICHIGO_PKCS11_PIN or pkcs11.pinFile")
        }
        do {
            return try PKCS11KeyEncryptionKey(modulePath: module, tokenLabel: token, keyLabel: keyLabel, pin: pin)
        } catch let error as PKCS11Error {
            throw IchigoError(.invalidInput, field: "key.store", detail: "the HSM refused: \(error)")
        }
    }

    package func custodian(
        keyring: Keyring, repository: any KeyVersionRepository & IchigoRepository, logger: Logger,
        activationDelay: Duration
    )
        -> KeyCustodian
    {
        KeyCustodian(
            keyring: keyring, repository: repository, primary: primary, others: others, masterKey: masterKey,
            saveMasterKey: newMasterKeyFile, activationDelay: activationDelay, logger: logger)
    }
}
