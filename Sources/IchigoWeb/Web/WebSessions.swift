import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import Ichigo
import Mustache
import NIOCore
import OTP
import ServiceLifecycle

/// Flow state kept in the session between the steps of a screen flow (never a password).
struct SessionData: Codable, Sendable {
    /// BOT002's application.
    var applicationID: String?
    /// BOT003's display.
    var issued: IssuedInfo?
    /// The transfer awaiting confirmation, and the one just done.
    var transferDraft: TransferDraft?
    var transferDone: TransferDraft?
    /// Values and errors to show again on a form after a POST that failed (post-redirect-get).
    var formValues: [String: String]?
    var formErrors: [String: String]?
    var pageError: String?

    /// Who logged in on which page (set at the end of a login).
    var audience: Audience?
    /// A corporate user's permissions as they were at login: changes apply from the next login.
    var grants: Permissions?
    /// The operator of an operator-console session.
    var operatorID: String?
    /// Corporate flows: transfer data being created, the one just created or approved, the permission change
    /// being prepared, the serial just registered, the users just unlocked.
    var corporateDraft: TransferDraft?
    var corporateDone: TransferDraft?
    var permissionDraft: PermissionDraft?
    var registeredSerial: String?
    var resultLines: [String]?
    var modeDraft: String?
    /// パスキーの登録: when this session passed the step-up, and the mail notification password sent for it.
    var passkeyStepUpAt: Date?
    var passkeyMail: PasskeyMailPassword?

    struct PermissionDraft: Codable, Sendable {
        var userID: String
        var authorities: [String]
        var limits: [String: Int64]
    }

    struct IssuedInfo: Codable, Sendable {
        var phoneEmail: String
        var serviceID: String
        var appUserID: String
        /// The bank allows authenticator apps and the QR code has not been shown yet.
        var qrPending: Bool?
    }

    /// A transfer between its input and confirmation screens: retail 振込 (with the account it is paid from, as
    /// shown) and corporate transfer data.
    struct TransferDraft: Codable, Sendable {
        var id: TransferID
        var accountID: AccountID
        var from: String?
        var payee: Payee
        var amount: Int64

        init(id: TransferID, accountID: AccountID, from: String? = nil, payee: Payee, amount: Int64) {
            self.id = id
            self.accountID = accountID
            self.from = from
            self.payee = payee
            self.amount = amount
        }

        private enum CodingKeys: String, CodingKey {
            case id, accountID, from, payee, amount
            // How drafts were stored before they held one `Payee` (sessions that span an upgrade).
            case payeeBank, payeeBranch, payeeAccount, payeeName
        }

        init(from decoder: any Decoder) throws {
            let values = try decoder.container(keyedBy: CodingKeys.self)
            id = try values.decode(TransferID.self, forKey: .id)
            accountID = try values.decode(AccountID.self, forKey: .accountID)
            from = try values.decodeIfPresent(String.self, forKey: .from)
            amount = try values.decode(Int64.self, forKey: .amount)
            payee =
                try values.decodeIfPresent(Payee.self, forKey: .payee)
                ?? Payee(
                    bank: values.decode(String.self, forKey: .payeeBank),
                    branch: values.decode(String.self, forKey: .payeeBranch),
                    account: values.decode(String.self, forKey: .payeeAccount),
                    name: values.decode(String.self, forKey: .payeeName))
        }

        func encode(to encoder: any Encoder) throws {
            var values = encoder.container(keyedBy: CodingKeys.self)
            try values.encode(id, forKey: .id)
            try values.encode(accountID, forKey: .accountID)
            try values.encodeIfPresent(from, forKey: .from)
            try values.encode(payee, forKey: .payee)
            try values.encode(amount, forKey: .amount)
        }
    }
}

/// One request's view of its browser session.
struct WebPage {
    var session: WebSession
    /// The cookie value (the session ID); only its SHA-256 is stored.
    var cookieValue: String
    var user: User?
    var data: SessionData
    /// The operator of an operator-console session.
    var bankOperator: BankOperator?

    var language: Language { session.language }
    var isAuthenticated: Bool { session.stage == .authenticated && user != nil }

    /// The login page this session's user came through.
    var loginAudience: LoginAudience? {
        switch data.audience {
        case .retail?: .retail
        case .corporateUser?: .corporateUser
        case .corporateAdmin?: .corporateAdmin
        case .bankOperator?, nil: nil
        }
    }
}

/// Browser sessions in the database: 5 minutes idle ends them, login renews the ID, every form carries a
/// CSRF token bound to the session.
struct SessionManager: Sendable {
    let services: IchigoServices
    /// The session cookie's name: over HTTPS with the `__Host-` prefix, which browsers accept only with `Secure`,
    /// `Path=/` and no `Domain` — a sibling subdomain cannot plant or overwrite it.
    static func cookieName(secure: Bool) -> String { secure ? "__Host-ichigo_session" : "ichigo_session" }
    /// Sessions end after 5 minutes without a request.
    static let idleTimeout: TimeInterval = 300

    static func hash(_ value: String) -> String {
        SHA256.hash(data: Array(value.utf8)).hexString
    }

    static func randomToken() -> String {
        SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) }.base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    /// Loads the request's session, ending it if idle too long; starts an anonymous one if there is none.
    func load(_ request: Request) async throws -> WebPage {
        let now = services.clock.now()
        if let value = request.cookies[Self.cookieName(secure: services.secureCookies)]?.value, !value.isEmpty {
            let idHash = Self.hash(value)
            if var session = try await services.repository.session(idHash: idHash) {
                if now.timeIntervalSince(session.lastSeenAt) > Self.idleTimeout {
                    // Idle too long: the session is logged out in place (a login renews the ID anyway), and
                    // the next page says why.
                    let expired = session.userID != nil
                    session.userID = nil
                    session.stage = .anonymous
                    session.csrfToken = Self.randomToken()
                    session.data = nil
                    session.flash = expired ? IchigoError.Code.sessionExpired.description : nil
                }
                session.lastSeenAt = now
                try await services.repository.update(session)
                var user = try await session.userID.asyncFlatMap { try await services.repository.user($0) }
                if user?.loginLocked == true {
                    // Stopped after too many wrong passwords: the session ends here.
                    user = nil
                    session.userID = nil
                    session.stage = .anonymous
                    session.flash = IchigoError.Code.loginLocked.description
                    try await services.repository.update(session)
                }
                let data = session.data.flatMap { try? JSONDecoder().decode(SessionData.self, from: Data($0.utf8)) }
                var bankOperator = try await data?.operatorID.asyncFlatMap {
                    try await services.repository.bankOperator(OperatorID(rawValue: $0))
                }
                if bankOperator?.locked == true { bankOperator = nil }
                return WebPage(
                    session: session, cookieValue: value, user: user, data: data ?? SessionData(),
                    bankOperator: bankOperator)
            }
        }
        // Screens open in Japanese; the customer switches to English with the link on every page.
        return try await start(language: .ja, at: now)
    }

    func start(language: Language, at now: Date) async throws -> WebPage {
        let value = Self.randomToken()
        let session = WebSession(
            idHash: Self.hash(value), csrfToken: Self.randomToken(), language: language, createdAt: now, lastSeenAt: now)
        try await services.repository.insert(session)
        return WebPage(session: session, cookieValue: value, user: nil, data: SessionData())
    }

    /// Replaces the session with a new ID and CSRF token (at each login step), keeping the language.
    func renew(_ page: inout WebPage, user: User?, stage: WebSession.Stage, audience: Audience) async throws {
        let now = services.clock.now()
        try await services.repository.deleteSession(idHash: page.session.idHash)
        let value = Self.randomToken()
        page.session = WebSession(
            idHash: Self.hash(value), userID: user?.id, stage: stage, csrfToken: Self.randomToken(),
            language: page.session.language, createdAt: now, lastSeenAt: now)
        page.cookieValue = value
        page.user = user
        page.data = SessionData()
        page.data.audience = audience
        page.bankOperator = nil
        try await services.repository.insert(page.session)
    }

    /// Stores the page's flow data and flash.
    func save(_ page: WebPage) async throws {
        var session = page.session
        session.data = String(decoding: try JSONEncoder().encode(page.data), as: UTF8.self)
        try await services.repository.update(session)
    }

    /// Ends the session.
    func destroy(_ page: WebPage) async throws {
        try await services.repository.deleteSession(idHash: page.session.idHash)
    }

    func cookie(for page: WebPage) -> Cookie { Self.cookie(for: page, secure: services.secureCookies) }

    static func cookie(for page: WebPage, secure: Bool) -> Cookie {
        Cookie(
            name: cookieName(secure: secure), value: page.cookieValue, path: "/", secure: secure, httpOnly: true,
            sameSite: .lax)
    }
}

extension Request {
    /// Parses an `application/x-www-form-urlencoded` body of at most 16 KiB.
    func formFields() async throws -> [String: String] {
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: 16 * 1024)
        } catch is NIOTooManyBytesError {
            throw IchigoError(.requestTooLarge)
        } catch {
            throw IchigoError(.malformedRequest, detail: "the body could not be read")
        }
        var fields: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            guard let key = parts.first.map(decode) else { continue }
            let value = parts.count > 1 ? decode(parts[1]) : ""
            // %00: no store keeps U+0000 the same (PostgreSQL refuses it), so no form takes it.
            guard !value.unicodeScalars.contains("\u{0}") else {
                throw IchigoError(.invalidInput, field: key, detail: "U+0000 in a form field")
            }
            fields[key] = value
        }
        return fields
    }
}

/// Renders screens from the Mustache templates bundled with the module.
///
/// The templates sit beside their audience (`Templates/Retail/`, `Corporate/`, `Operator/`, `Passkeys/`, `Shared/`)
/// but are known by their bare file names, as screens and partials (`{{> head}}`) name them; two files with the same
/// name anywhere under `Templates` stop the start.
struct Renderer: Sendable {
    let library: MustacheLibrary

    static func load() async throws -> Renderer {
        guard let url = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw IchigoError(.corruptData, detail: "templates missing from the bundle")
        }
        return Renderer(library: try library(from: url))
    }

    /// Every `.mustache` file under `directory`, in any folder, registered under its file name without the extension.
    static func library(from directory: URL) throws -> MustacheLibrary {
        guard let files = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: nil) else {
            throw IchigoError(.corruptData, detail: "cannot read the templates at \(directory.path)")
        }
        var library = MustacheLibrary()
        var found: [String: String] = [:]
        let base = directory.standardizedFileURL.path + "/"
        for case let file as URL in files where file.pathExtension == "mustache" {
            let name = file.deletingPathExtension().lastPathComponent
            let path = file.standardizedFileURL.path
            let relative = path.hasPrefix(base) ? String(path.dropFirst(base.count)) : path
            if let other = found[name] {
                throw IchigoError(
                    .corruptData, detail: "two templates are named \(name): \(other) and \(relative)")
            }
            found[name] = relative
            do {
                try library.register(String(decoding: try Data(contentsOf: file), as: UTF8.self), named: name)
            } catch {
                throw IchigoError(.corruptData, detail: "template \(relative): \(error)")
            }
        }
        return library
    }

    func render(_ template: String, _ context: [String: Any]) -> String {
        library.render(context, withTemplate: template) ?? "template \(template) missing"
    }

    /// Whether a template (or partial) of this name is loaded.
    func knows(_ template: String) -> Bool { library.getTemplate(named: template) != nil }
}

/// Removes browser sessions idle longer than the timeout, once a minute, so the table holds only live ones.
public struct SessionJanitor: ServiceLifecycle.Service {
    let repository: any RetailRepository
    let interval: Duration
    let logger: Logger
    /// What "now" is (the services' clock; tests move it).
    let clock: any IchigoClock

    public init(
        repository: any RetailRepository, interval: Duration = .seconds(60),
        logger: Logger = Logger(label: "ichigo.sessions"), clock: any IchigoClock = SystemClock()
    ) {
        self.repository = repository
        self.interval = interval
        self.logger = logger
        self.clock = clock
    }

    /// While the database is away, the purges back off (`Backoff`, up to 10 minutes apart), logged once.
    public func run() async throws {
        try? await cancelWhenGracefulShutdown {
            var backoff = Backoff(job: "session janitor", interval: interval, maximum: .seconds(600))
            while !Task.isCancelled {
                let repository = repository
                let purge = TimedWork {
                    try await repository.purgeSessions(idleSince: clock.now() - SessionManager.idleTimeout)
                }
                switch await purge.wait(limit: .seconds(30)) {
                case .finished(.success): backoff.succeeded(logger: logger)
                case .finished(.failure(let error)): backoff.failed(error, logger: logger)
                case .timedOut:
                    backoff.failed(IchigoError(.serviceUnavailable, detail: "the purge took over 30 s"), logger: logger)
                    // One purge at a time.
                    while case .timedOut = await purge.wait(limit: .seconds(60)) {}
                }
                try await Task.sleep(for: backoff.delay)
            }
        }
    }
}
