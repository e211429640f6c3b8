import Configuration
import Foundation
import Ichigo
import OTP
import WebAuthn

/// Ichigo's settings, read from a `ConfigReader` (command-line flags, then `ICHIGO_*` environment variables).
///
/// Keys (environment variable in brackets):
/// - `http.host` (`ICHIGO_HTTP_HOST`, default `127.0.0.1`), `http.port` (`ICHIGO_HTTP_PORT`, default `8080`)
/// - `data.directory` (`ICHIGO_DATA_DIRECTORY`, default `./data`): SQLite database, key files
/// - `master.key` (`ICHIGO_MASTER_KEY`, secret, base64 of 32 bytes): else `data/master.key` is used or created
/// - `api.key` (`ICHIGO_API_KEY`, secret): bearer key for the JSON API; else `data/api.key` is used or created
/// - `otp.window` (default 1), `otp.lockoutThreshold` (default 5), `otp.maxDriftSteps` (default 5),
///   `otp.digits` (6), `otp.period` (60), `otp.algorithm` (`SHA1`)
/// - `password.scryptLogRounds` (default 15)
/// - `bank.name` (default `いちご銀行`): the issuer shown in authenticator apps
/// - `bank.contact` (`ICHIGO_BANK_CONTACT`): whom to contact, printed in the mails sent when a token or a login locks
/// - `mail.from`; `smtp.host`, `smtp.port`, `smtp.security` (`starttls`|`plain`), `smtp.username`, `smtp.password`,
///   `smtp.caFile`: with no `smtp.host`, mails are written as `.eml` files to `data/outbox`
/// - `retail.mailPasswordMinutes` (10), `retail.mailPasswordMaxAttempts` (5), `retail.activationMaxAttempts` (5),
///   `retail.provisioningHours` (168), `retail.appDownloadURL`, `retail.allowAuthenticatorApps` (false): show an
///   `otpauth://` QR code at BOT003 for standard authenticator apps
/// - `http.publicURL` (`ICHIGO_HTTP_PUBLIC_URL`): the address customers use, e.g. `https://ib.bank.example.jp`
///   (Ichigo behind a TLS proxy). With `https://`, the session cookie is `__Host-ichigo_session; Secure` and every
///   answer carries `Strict-Transport-Security`. `http.secureCookies` (false) forces the same without a URL.
/// - `transfer.signing` (`ICHIGO_TRANSFER_SIGNING`, `off` | `required`, default `off`): transaction authentication
///   (取引認証). `required`: retail 振込 (BFK002) and corporate 承認実行 (HSN002) ask for a signature over the payee
///   account and amount (OCRA, RFC 6287) instead of the OTP, and software tokens issued from then on get the suite.
/// - `transfer.ocraSuite` (`ICHIGO_TRANSFER_OCRA_SUITE`, default `OCRA-1:HOTP-SHA1-6:QN20-T1M`): the suite given to new
///   software tokens. 6 digits to type like the OTP; QN20 so the challenge (amount, then the 7-digit account) fits
///   amounts up to 13 digits; T1M so a code belongs to its minute and each token signs once per minute, with no
///   counter to fall out of step. Must be QN17 or longer, T or C (not both), no PIN or session input.
/// - `http.deadline` (`ICHIGO_HTTP_DEADLINE`, seconds, default 5): every request is answered within this long or gets
///   503 `service.unavailable` with `Retry-After`, and nothing of it is committed afterwards; PostgreSQL's
///   `statement_timeout`, `lock_timeout` and connect timeout for the server are the same. `/ready` answers within 1 s.
/// - `http.maxConnections` (`ICHIGO_HTTP_MAX_CONNECTIONS`, default 10,000 or what the open-file limit leaves room for),
///   `http.idleTimeout` (`ICHIGO_HTTP_IDLE_TIMEOUT`, seconds, default 30), `http.headerTimeout`
///   (`ICHIGO_HTTP_HEADER_TIMEOUT`, seconds, default 10): see `ConnectionLimits`.
/// - `transfer.challengeSeconds` (`ICHIGO_TRANSFER_CHALLENGE_SECONDS`, default 300): how long a JSON API signing
///   challenge may be answered.
/// - `passkey.login` (`ICHIGO_PASSKEY_LOGIN`, `required-once-registered` | `offered`, default
///   `required-once-registered`): a customer with a passkey signs in with it only, or may still use password + OTP.
/// - `passkey.rpID` (`ICHIGO_PASSKEY_RP_ID`): the WebAuthn RP ID; default the public URL's host, else `localhost`.
/// - `passkey.origins` (`ICHIGO_PASSKEY_ORIGINS`, comma-separated): the exact origins pages are served from; default
///   the public URL's origin, else `http://localhost:<http.port>`.
/// - `passkey.aaguids` (comma-separated AAGUIDs): only these authenticator models may register (default: any).
/// - `passkey.attestationRoots` (a PEM file): root certificates `packed` attestation chains must end at.
/// - `key.store` (`ICHIGO_KEY_STORE`, `file` | `pkcs11`, default `file`), `pkcs11.module`, `pkcs11.token`,
///   `pkcs11.key`, `pkcs11.pinFile` or `ICHIGO_PKCS11_PIN`: where the key-encryption key is (see the README's "Key
///   custody"). `keys.resealBatch` (500) seeds per re-sealing transaction after a rotation, `keys.resealPauseMs` (20)
///   between batches, `keys.activationDelayMs` (5000) from `ichigo keys rotate` to the new version's first use.
/// - `audit.stream` (`ICHIGO_AUDIT_STREAM`: `syslog://host:port`, `syslog+tls://host:port`, `file:/path`) and
///   `audit.stream*`: the audit trail streamed to the bank's SIEM, read by `AuditStreamSettings`.
public struct IchigoConfiguration: Sendable {
    public var host: String
    public var port: Int
    public var dataDirectory: String
    public var masterKeyBase64: String?
    public var apiKey: String?
    public var policy: OTPPolicy
    public var scryptLogRounds: Int
    /// Seeds re-sealed per transaction after a rotation, and the pause between two batches.
    public var keyResealBatch: Int
    public var keyResealPause: Duration
    public var bankName: String
    /// Whom customers contact, as the lock notices print it (`bank.contact`).
    public var bankContact: String
    public static let defaultBankContact = IchigoServices.defaultBankContact
    /// From: address of the bank's mails (`mail.from`).
    public var mailFrom: String
    /// Retail lifetimes and limits (`retail.*`).
    public var retailPolicy: RetailPolicy
    /// Session cookies with `Secure` and `__Host-`, and HSTS: an `https://` public URL or `http.secureCookies`.
    public var secureCookies: Bool
    /// The address customers use (`http.publicURL`), if set.
    public var publicURL: URL?
    /// Transaction authentication (`transfer.signing`, `transfer.ocraSuite`, `transfer.challengeSeconds`).
    public var signingPolicy: TransferSigningPolicy
    /// Passkeys (`passkey.*`).
    public var passkeyPolicy: PasskeyPolicy
    /// Each request's deadline (`http.deadline`).
    public var deadlines: RequestDeadlines
    /// `http.maxConnections` if set (else derived from the open-file limit at start), `http.idleTimeout`,
    /// `http.headerTimeout`.
    public var maximumConnections: Int?
    public var idleTimeout: Duration
    public var headerTimeout: Duration

    /// The connection limits for a process whose open-file limit is `descriptors`.
    public func connectionLimits(descriptors: Int) -> ConnectionLimits {
        ConnectionLimits(
            maximum: maximumConnections ?? ConnectionLimits.defaultMaximum(descriptors: descriptors),
            idleTimeout: idleTimeout, headerTimeout: headerTimeout)
    }

    public init(config: ConfigReader) throws {
        host = config.string(forKey: "http.host", default: "127.0.0.1")
        port = config.int(forKey: "http.port", default: 8080)
        dataDirectory = config.string(forKey: "data.directory", default: "./data")
        masterKeyBase64 = config.string(forKey: "master.key", isSecret: true)
        // Whitespace around a key from the environment is never part of it (a trailing newline from `echo`).
        apiKey = config.string(forKey: "api.key", isSecret: true)?.trimmingCharacters(in: .whitespacesAndNewlines)
        let algorithmName = config.string(forKey: "otp.algorithm", default: "SHA1")
        guard let algorithm = OTPAlgorithm(name: algorithmName) else {
            throw IchigoError(.invalidInput, field: "otp.algorithm", detail: "unknown algorithm \(algorithmName)")
        }
        policy = try OTPPolicy(
            parameters: TOTPParameters(
                algorithm: algorithm, digits: config.int(forKey: "otp.digits", default: 6),
                period: config.int(forKey: "otp.period", default: 60)),
            window: config.int(forKey: "otp.window", default: 1),
            lockoutThreshold: config.int(forKey: "otp.lockoutThreshold", default: 5),
            maxDriftSteps: config.int(forKey: "otp.maxDriftSteps", default: 5)
        ).validated()
        scryptLogRounds = config.int(forKey: "password.scryptLogRounds", default: 15)
        keyResealBatch = config.int(forKey: "keys.resealBatch", default: 500)
        guard (1...10_000).contains(keyResealBatch) else {
            throw IchigoError(.invalidInput, field: "keys.resealBatch", detail: "must be 1 to 10000")
        }
        let pause = config.int(forKey: "keys.resealPauseMs", default: 20)
        guard (0...60_000).contains(pause) else {
            throw IchigoError(.invalidInput, field: "keys.resealPauseMs", detail: "must be 0 to 60000")
        }
        keyResealPause = .milliseconds(pause)
        guard (10...20).contains(scryptLogRounds) else {
            throw IchigoError(.invalidInput, field: "password.scryptLogRounds", detail: "must be 10 to 20")
        }
        bankName = config.string(forKey: "bank.name", default: "いちご銀行")
        bankContact = config.string(forKey: "bank.contact", default: Self.defaultBankContact)
        mailFrom = config.string(forKey: "mail.from", default: "いちご銀行 <noreply@ichigo-bank.example.jp>")
        var retail = RetailPolicy()
        retail.mailPasswordLifetime = TimeInterval(config.int(forKey: "retail.mailPasswordMinutes", default: 10) * 60)
        retail.mailPasswordMaxAttempts = config.int(forKey: "retail.mailPasswordMaxAttempts", default: 5)
        retail.activationMaxAttempts = config.int(forKey: "retail.activationMaxAttempts", default: 5)
        retail.provisioningLifetime = TimeInterval(config.int(forKey: "retail.provisioningHours", default: 168) * 3600)
        retail.appDownloadURL = config.string(forKey: "retail.appDownloadURL", default: retail.appDownloadURL)
        retail.allowAuthenticatorApps = config.bool(forKey: "retail.allowAuthenticatorApps", default: false)
        retailPolicy = retail
        if let text = config.string(forKey: "http.publicURL") {
            guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
                url.host?.isEmpty == false
            else {
                throw IchigoError(
                    .invalidInput, field: "http.publicURL", detail: "must be an http:// or https:// URL with a host")
            }
            publicURL = url
        }
        secureCookies =
            publicURL?.scheme?.lowercased() == "https" || config.bool(forKey: "http.secureCookies", default: false)
        let modeText = config.string(forKey: "transfer.signing", default: "off")
        guard let mode = TransferSigningPolicy.Mode(rawValue: modeText.lowercased()) else {
            throw IchigoError(.invalidInput, field: "transfer.signing", detail: "must be off or required, not \(modeText)")
        }
        let suiteText = config.string(forKey: "transfer.ocraSuite", default: TransferSigningPolicy.defaultSuiteText)
        let suite: OCRASuite
        do {
            suite = try OCRASuite(suiteText)
        } catch {
            throw IchigoError(.invalidInput, field: "transfer.ocraSuite", detail: error.description)
        }
        signingPolicy = try TransferSigningPolicy(
            mode: mode, suite: suite,
            challengeLifetime: TimeInterval(config.int(forKey: "transfer.challengeSeconds", default: 300))
        ).validated()
        guard (1...65535).contains(port) else { throw IchigoError(.invalidInput, field: "http.port") }
        func seconds(_ key: String, default value: Double, in range: ClosedRange<Double>) throws -> Duration {
            let number = config.double(forKey: ConfigKey(key), default: value)
            guard range.contains(number) else {
                throw IchigoError(
                    .invalidInput, field: key,
                    detail: "must be \(range.lowerBound) to \(range.upperBound) seconds, not \(number)")
            }
            return .milliseconds(Int64(number * 1000))
        }
        deadlines = RequestDeadlines(standard: try seconds("http.deadline", default: 5, in: 0.1...600))
        idleTimeout = try seconds("http.idleTimeout", default: 30, in: 1...3600)
        headerTimeout = try seconds("http.headerTimeout", default: 10, in: 1...600)
        maximumConnections = config.int(forKey: "http.maxConnections")
        if let maximumConnections, !(1...1_000_000).contains(maximumConnections) {
            throw IchigoError(.invalidInput, field: "http.maxConnections", detail: "must be 1 to 1,000,000")
        }
        passkeyPolicy = try Self.passkeyPolicy(config: config, publicURL: publicURL, port: port, bankName: bankName)
    }

    /// The passkey policy from `passkey.*`, the public URL and the port.
    static func passkeyPolicy(config: ConfigReader, publicURL: URL?, port: Int, bankName: String) throws -> PasskeyPolicy {
        let loginText = config.string(forKey: "passkey.login", default: PasskeyPolicy.LoginMode.requiredOnceRegistered.rawValue)
        guard let login = PasskeyPolicy.LoginMode(rawValue: loginText.lowercased()) else {
            throw IchigoError(
                .invalidInput, field: "passkey.login", detail: "must be required-once-registered or offered, not \(loginText)")
        }
        let publicOrigin = publicURL.map { url -> String in
            var origin = "\(url.scheme!.lowercased())://\(url.host!.lowercased())"
            if let port = url.port { origin += ":\(port)" }
            return origin
        }
        let rpID = config.string(forKey: "passkey.rpID", default: publicURL?.host?.lowercased() ?? "localhost")
        guard !rpID.isEmpty, rpID.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "." || $0 == "-" }),
            rpID.contains(where: { $0.isLetter })
        else {
            throw IchigoError(.invalidInput, field: "passkey.rpID", detail: "must be a domain name (an IP address is no valid RP ID)")
        }
        let originText = config.string(forKey: "passkey.origins", default: publicOrigin ?? "http://localhost:\(port)")
        let origins = Set(originText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty })
        for origin in origins {
            guard let url = URL(string: origin), let host = url.host?.lowercased(), url.path.isEmpty,
                host == rpID || host.hasSuffix("." + rpID)
            else {
                throw IchigoError(
                    .invalidInput, field: "passkey.origins",
                    detail: "\(origin) is not an origin whose host is \(rpID) or under it")
            }
        }
        var allowed: Set<AAGUID>? = nil
        if let list = config.string(forKey: "passkey.aaguids") {
            var set = Set<AAGUID>()
            for text in list.split(separator: ",") {
                guard let aaguid = AAGUID(text.trimmingCharacters(in: .whitespaces)) else {
                    throw IchigoError(.invalidInput, field: "passkey.aaguids", detail: "\(text) is not an AAGUID")
                }
                set.insert(aaguid)
            }
            allowed = set
        }
        var roots: [[UInt8]] = []
        if let path = config.string(forKey: "passkey.attestationRoots") {
            guard let pem = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw IchigoError(.invalidInput, field: "passkey.attestationRoots", detail: "cannot read \(path)")
            }
            roots = Self.pemCertificates(pem)
            guard !roots.isEmpty else {
                throw IchigoError(.invalidInput, field: "passkey.attestationRoots", detail: "no certificate in \(path)")
            }
        }
        return PasskeyPolicy(
            relyingParty: RelyingParty(id: rpID, origins: origins), relyingPartyName: bankName, login: login,
            allowedAAGUIDs: allowed, trustedRoots: roots)
    }

    /// The DER bytes of each `CERTIFICATE` block of a PEM text.
    static func pemCertificates(_ pem: String) -> [[UInt8]] {
        var result: [[UInt8]] = []
        var body: String? = nil
        for line in pem.split(whereSeparator: \.isNewline) {
            let text = line.trimmingCharacters(in: .whitespaces)
            if text == "-----BEGIN CERTIFICATE-----" {
                body = ""
            } else if text == "-----END CERTIFICATE-----" {
                if let body, let data = Data(base64Encoded: body) { result.append(Array(data)) }
                body = nil
            } else if body != nil {
                body! += text
            }
        }
        return result
    }
}

/// The data directory: database file and key files (created with mode 0600).
public struct DataDirectory: Sendable {
    public let url: URL

    /// Creates the directory (mode 0700) if needed, and makes every file in it (database, its `-wal` and `-shm`,
    /// keys, outbox) readable by the owner only: the process's umask becomes 077, so files SQLite and the mail
    /// outbox create later are 0600 too, and files left 0644 by an older version are tightened.
    public init(path: String) throws {
        umask(0o077)
        url = URL(fileURLWithPath: path, isDirectory: true).standardizedFileURL
        let files = FileManager.default
        try files.createDirectory(at: url, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try files.setAttributes([.posixPermissions: 0o700], ofItemAtPath: url.path)
        if let walker = files.enumerator(at: url, includingPropertiesForKeys: [.isDirectoryKey]) {
            for case let item as URL in walker {
                let directory = (try? item.resourceValues(forKeys: [.isDirectoryKey]).isDirectory) ?? false
                try files.setAttributes([.posixPermissions: directory ? 0o700 : 0o600], ofItemAtPath: item.path)
            }
        }
    }

    /// The SQLite database file.
    public var databasePath: String { url.appendingPathComponent("ichigo.sqlite").path }

    /// The master key: from configuration if given, else read from `master.key`, else generated into it.
    public func masterKey(configured base64: String?) throws -> MasterKey {
        if let base64 {
            guard let data = Data(base64Encoded: base64), let key = MasterKey(bytes: Array(data)) else {
                throw IchigoError(.invalidInput, field: "master.key", detail: "must be base64 of 32 bytes")
            }
            return key
        }
        let bytes = try secretFile("master.key", length: 32) { MasterKey.random().bytes }
        guard let key = MasterKey(bytes: bytes) else {
            throw IchigoError(.corruptData, detail: "master.key must hold 32 bytes")
        }
        return key
    }

    /// The API key: from configuration if given, else read from `api.key`, else generated into it.
    public func apiKey(configured: String?) throws -> String {
        if let configured {
            guard configured.count >= 16 else {
                throw IchigoError(.invalidInput, field: "api.key", detail: "must be at least 16 characters")
            }
            return configured
        }
        let bytes = try secretFile("api.key", length: nil) {
            Array(Seed.random(byteCount: 24).base32.utf8)
        }
        return String(decoding: bytes, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Path of the API key file, for messages.
    public var apiKeyPath: String { url.appendingPathComponent("api.key").path }

    private func secretFile(_ name: String, length: Int?, generate: () -> [UInt8]) throws -> [UInt8] {
        let path = url.appendingPathComponent(name).path
        if let data = FileManager.default.contents(atPath: path) {
            if let length, data.count != length {
                throw IchigoError(.corruptData, detail: "\(name) must hold \(length) bytes")
            }
            return Array(data)
        }
        let bytes = generate()
        // Create with 0600 from the start: the secret is never readable by others, not even briefly.
        guard
            FileManager.default.createFile(atPath: path, contents: Data(bytes), attributes: [.posixPermissions: 0o600])
        else { throw IchigoError(.corruptData, detail: "cannot write \(path)") }
        return bytes
    }
}
