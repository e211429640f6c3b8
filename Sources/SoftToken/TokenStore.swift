import Crypto
import Foundation
#if canImport(Glibc)
    import Glibc
#endif
import OTP

/// One token installed in the store (one issuance, one serial).
public struct InstalledToken: Codable, Sendable, Equatable {
    public var serial: String
    public var issuer: String
    public var server: String
    public var algorithm: String
    public var digits: Int
    public var period: Int
    /// The seed sealed with AES-GCM under the store key, bound to this installation (see `TokenStore`).
    public var sealedSeed: String
    public var installedAt: Date
    /// The OCRA suite for transaction signing (`ichigo-token sign`), as the server or the PSKC file gave it; absent
    /// in stores written before OCRA and for tokens without it.
    public var ocraSuite: String?
    /// For an OCRA suite with a counter C: the counter of the next signature (0 when absent).
    public var ocraCounter: UInt64?

    public init(
        serial: String, issuer: String, server: String, algorithm: String, digits: Int, period: Int, sealedSeed: String,
        installedAt: Date, ocraSuite: String? = nil, ocraCounter: UInt64? = nil
    ) {
        self.serial = serial
        self.issuer = issuer
        self.server = server
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.sealedSeed = sealedSeed
        self.installedAt = installedAt
        self.ocraSuite = ocraSuite
        self.ocraCounter = ocraCounter
    }

    public var parameters: TOTPParameters {
        TOTPParameters(algorithm: OTPAlgorithm(name: algorithm) ?? .sha1, digits: digits, period: period)
    }
}

/// Errors of the token store, with their messages.
public struct TokenStoreError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case notFound(String)
        case copiedFromAnotherDevice
        case corrupt(String)
        case noTokens
        case ambiguous
    }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }
}

/// Where `ichigo-token` keeps its tokens.
///
/// - `tokens.json` in the config folder (`$XDG_CONFIG_HOME/ichigo-token`, default `~/.config/ichigo-token`):
///   serials, parameters and the sealed seeds. Mode 0600.
/// - `store.key` in the data folder (`$XDG_DATA_HOME/ichigo-token`, default `~/.local/share/ichigo-token`):
///   a random 256-bit key and a random installation ID. Mode 0600, kept apart from the tokens.
///
/// Each seed is sealed with AES-256-GCM under the store key, with the serial, the installation ID and the
/// machine's ID (`/etc/machine-id`) as associated data. A `tokens.json` copied to another machine (with or
/// without the key file) does not open there: it cannot become a second valid installation with the same
/// serial. Restoring a backup likewise yields nothing usable; the customer cancels and issues a new token,
/// which gets a new serial.
public struct TokenStore: Sendable {
    public let configDirectory: URL
    public let dataDirectory: URL
    let machineID: String

    public init(configDirectory: URL, dataDirectory: URL, machineID: String? = nil) {
        self.configDirectory = configDirectory
        self.dataDirectory = dataDirectory
        self.machineID = machineID ?? Self.currentMachineID()
    }

    /// The default folders, honouring `ICHIGO_TOKEN_HOME` (both folders under it, for tests) and the XDG variables.
    public static func standard(environment: [String: String] = ProcessInfo.processInfo.environment) -> TokenStore {
        if let home = environment["ICHIGO_TOKEN_HOME"], !home.isEmpty {
            let base = URL(fileURLWithPath: home, isDirectory: true)
            return TokenStore(
                configDirectory: base.appendingPathComponent("config"), dataDirectory: base.appendingPathComponent("data"))
        }
        let home = URL(fileURLWithPath: environment["HOME"] ?? NSHomeDirectory(), isDirectory: true)
        let config = environment["XDG_CONFIG_HOME"].map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent(".config")
        let data = environment["XDG_DATA_HOME"].map { URL(fileURLWithPath: $0) } ?? home.appendingPathComponent(".local/share")
        return TokenStore(
            configDirectory: config.appendingPathComponent("ichigo-token"),
            dataDirectory: data.appendingPathComponent("ichigo-token"))
    }

    static func currentMachineID() -> String {
        for path in ["/etc/machine-id", "/var/lib/dbus/machine-id"] {
            if let text = try? String(contentsOfFile: path, encoding: .utf8) {
                let id = text.trimmingCharacters(in: .whitespacesAndNewlines)
                if !id.isEmpty { return id }
            }
        }
        return ProcessInfo.processInfo.hostName
    }

    public var tokensFile: URL { configDirectory.appendingPathComponent("tokens.json") }
    public var keyFile: URL { dataDirectory.appendingPathComponent("store.key") }

    struct StoreKey {
        let key: SymmetricKey
        let installationID: String
    }

    /// Reads the key file, creating it (0600, in a 0700 folder) when `create` is set.
    func storeKey(create: Bool) throws -> StoreKey? {
        if let data = FileManager.default.contents(atPath: keyFile.path) {
            guard data.count == 48 else { throw TokenStoreError(.corrupt(keyFile.path)) }
            return StoreKey(
                key: SymmetricKey(data: data.prefix(32)),
                installationID: data.suffix(16).map { String(format: "%02x", $0) }.joined())
        }
        guard create else { return nil }
        try FileManager.default.createDirectory(
            at: dataDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        var bytes = SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }
        bytes += SymmetricKey(size: .bits128).withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: keyFile.path, contents: bytes, attributes: [.posixPermissions: 0o600])
        else { throw TokenStoreError(.corrupt(keyFile.path)) }
        return try storeKey(create: false)
    }

    func associatedData(serial: String, key: StoreKey) -> [UInt8] {
        Array("ichigo-token v1|\(serial)|\(key.installationID)|\(machineID)".utf8)
    }

    /// Every installed token, oldest first.
    public func tokens() throws -> [InstalledToken] {
        guard let data = FileManager.default.contents(atPath: tokensFile.path) else { return [] }
        do {
            let decoder = JSONDecoder()
            decoder.dateDecodingStrategy = .iso8601
            return try decoder.decode([InstalledToken].self, from: data)
        } catch {
            throw TokenStoreError(.corrupt(tokensFile.path))
        }
    }

    func write(_ tokens: [InstalledToken]) throws {
        try FileManager.default.createDirectory(
            at: configDirectory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(tokens)
        // Write beside, restrict, then rename: the file is never readable by others, not even briefly.
        let temporary = configDirectory.appendingPathComponent(".tokens.json.\(UUID().uuidString)")
        guard FileManager.default.createFile(atPath: temporary.path, contents: data, attributes: [.posixPermissions: 0o600])
        else { throw TokenStoreError(.corrupt(tokensFile.path)) }
        // rename(2) replaces atomically: a crash leaves the old file or the new one, never half of either.
        guard rename(temporary.path, tokensFile.path) == 0 else {
            try? FileManager.default.removeItem(at: temporary)
            throw TokenStoreError(.corrupt(tokensFile.path))
        }
    }

    /// Adds a token received from the server (or read from a PSKC file), with its OCRA suite when it has one.
    @discardableResult
    public func add(
        serial: String, seed: Seed, parameters: TOTPParameters, issuer: String, server: String,
        ocraSuite: OCRASuite? = nil, at now: Date = Date()
    ) throws -> InstalledToken {
        guard let key = try storeKey(create: true) else { throw TokenStoreError(.corrupt(keyFile.path)) }
        let box = try seed.withUnsafeBytes {
            try AES.GCM.seal($0, using: key.key, authenticating: associatedData(serial: serial, key: key))
        }
        let token = InstalledToken(
            serial: serial, issuer: issuer, server: server, algorithm: parameters.algorithm.rawValue,
            digits: parameters.digits, period: parameters.period, sealedSeed: box.combined!.base64EncodedString(),
            installedAt: now, ocraSuite: ocraSuite?.text)
        var all = try tokens().filter { $0.serial != serial }
        all.append(token)
        try write(all)
        return token
    }

    /// Removes a token. Returns whether it was there.
    @discardableResult
    public func remove(serial: String) throws -> Bool {
        let all = try tokens()
        guard all.contains(where: { $0.serial == serial }) else { return false }
        try write(all.filter { $0.serial != serial })
        return true
    }

    /// The token with `serial`, or the only one when `serial` is nil.
    public func token(serial: String?) throws -> InstalledToken {
        let all = try tokens()
        if let serial {
            guard let token = all.first(where: { $0.serial == serial }) else { throw TokenStoreError(.notFound(serial)) }
            return token
        }
        guard !all.isEmpty else { throw TokenStoreError(.noTokens) }
        guard all.count == 1 else { throw TokenStoreError(.ambiguous) }
        return all[0]
    }

    /// Opens a token's seed; fails if the store was copied from another device.
    public func generator(for token: InstalledToken) throws -> TOTP {
        TOTP(seed: try seed(of: token), parameters: token.parameters)
    }

    /// The token's OCRA computer for `suite`; fails like `generator(for:)` if the store was copied.
    public func ocra(for token: InstalledToken, suite: OCRASuite) throws -> OCRA {
        OCRA(seed: try seed(of: token), suite: suite)
    }

    private func seed(of token: InstalledToken) throws -> Seed {
        guard let key = try storeKey(create: false) else { throw TokenStoreError(.copiedFromAnotherDevice) }
        guard let combined = Data(base64Encoded: token.sealedSeed), let box = try? AES.GCM.SealedBox(combined: combined),
            let bytes = try? AES.GCM.open(box, using: key.key, authenticating: associatedData(serial: token.serial, key: key))
        else { throw TokenStoreError(.copiedFromAnotherDevice) }
        return Seed(bytes: bytes)
    }

    /// Sets the counter of the token's next OCRA signature.
    public func setOCRACounter(_ counter: UInt64, serial: String) throws {
        var all = try tokens()
        guard let index = all.firstIndex(where: { $0.serial == serial }) else { throw TokenStoreError(.notFound(serial)) }
        all[index].ocraCounter = counter
        try write(all)
    }
}
