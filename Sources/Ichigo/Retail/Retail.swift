import Foundation

/// 登録状況: what BOP001 shows, derived from the user's token.
public enum RegistrationStatus: String, Sendable, Hashable {
    /// 未登録: no token, or it was cancelled or revoked.
    case unregistered
    /// トークン発行済: issued, app set-up or first code pending.
    case issued
    /// 利用中.
    case inUse = "in_use"
    /// 停止中: locked after wrong codes.
    case stopped

    public init(token: Token?) {
        switch token?.state {
        case nil, .cancelled?, .revoked?: self = .unregistered
        case .awaitingAppSetup?, .issued?: self = .issued
        case .active?: self = .inUse
        case .locked?: self = .stopped
        }
    }
}

/// Identifies a token-issuance application (BOT001–BOT003).
public struct ApplicationID: RawRepresentable, Sendable, Hashable, Codable {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> ApplicationID { ApplicationID(rawValue: "A" + RandomText.hex(byteCount: 12)) }
}

/// Where an issuance application stands.
public enum ApplicationStatus: String, Sendable, Hashable {
    /// BOT001 done, mail notification password sent; BOT002 pending.
    case pending
    /// BOT002 confirmed: the token exists.
    case completed
    /// 申込を中止する, or replaced by a newer application.
    case cancelled
    /// Too many wrong mail notification passwords.
    case void
}

/// A software-token issuance in progress: the phone address, the hashed activation password and the
/// hashed mail notification password with its expiry and failed attempts.
public struct IssuanceApplication: Sendable, Hashable {
    public var id: ApplicationID
    public var userID: UserID
    public var phoneEmail: String
    public var activationPasswordHash: PasswordHash
    public var mailPasswordHash: PasswordHash
    public var mailPasswordExpiresAt: Date
    public var mailPasswordAttempts: Int
    public var status: ApplicationStatus
    public var createdAt: Date

    public init(
        id: ApplicationID, userID: UserID, phoneEmail: String, activationPasswordHash: PasswordHash,
        mailPasswordHash: PasswordHash, mailPasswordExpiresAt: Date, mailPasswordAttempts: Int = 0,
        status: ApplicationStatus = .pending, createdAt: Date
    ) {
        self.id = id
        self.userID = userID
        self.phoneEmail = phoneEmail
        self.activationPasswordHash = activationPasswordHash
        self.mailPasswordHash = mailPasswordHash
        self.mailPasswordExpiresAt = mailPasswordExpiresAt
        self.mailPasswordAttempts = mailPasswordAttempts
        self.status = status
        self.createdAt = createdAt
    }
}

/// What the phone app needs to fetch its seed once: サービスID, ユーザID and the activation password.
public struct Provisioning: Sendable, Hashable {
    public var tokenID: TokenID
    /// サービスID: 8 digits.
    public var serviceID: String
    /// ユーザID (of the app, not the login ID): 12 digits.
    public var appUserID: String
    public var activationPasswordHash: PasswordHash
    public var attempts: Int
    public var expiresAt: Date
    public var provisionedAt: Date?

    public init(
        tokenID: TokenID, serviceID: String, appUserID: String, activationPasswordHash: PasswordHash, attempts: Int = 0,
        expiresAt: Date, provisionedAt: Date? = nil
    ) {
        self.tokenID = tokenID
        self.serviceID = serviceID
        self.appUserID = appUserID
        self.activationPasswordHash = activationPasswordHash
        self.attempts = attempts
        self.expiresAt = expiresAt
        self.provisionedAt = provisionedAt
    }
}

/// A mail waiting in the outbox, written in the same transaction as the change that causes it.
public struct OutgoingMail: Sendable, Hashable {
    public var id: Int64?
    public var recipient: String
    public var subject: String
    public var body: String
    public var createdAt: Date

    public init(id: Int64? = nil, recipient: String, subject: String, body: String, createdAt: Date) {
        self.id = id
        self.recipient = recipient
        self.subject = subject
        self.body = body
        self.createdAt = createdAt
    }
}

/// A transfer (振込) out of one of the customer's accounts.
public struct Transfer: Sendable, Hashable, AuditedTransfer {
    public var id: TransferID
    public var accountID: AccountID
    public var payee: Payee
    public var amount: Int64
    public var createdAt: Date

    public init(id: TransferID, accountID: AccountID, payee: Payee, amount: Int64, createdAt: Date) {
        self.id = id
        self.accountID = accountID
        self.payee = payee
        self.amount = amount
        self.createdAt = createdAt
    }

    /// The bank code of this bank: a payee here is credited in the same transaction as the debit.
    public static let ownBankCode = "9999"
}

/// A browser session, stored in the database so any instance can serve it.
public struct WebSession: Sendable, Hashable {
    /// Where the login stands.
    public enum Stage: String, Sendable, Hashable {
        case anonymous
        /// Login ID and password accepted; the OTP page is next.
        case awaitingOTP = "awaiting_otp"
        case authenticated
    }

    /// SHA-256 of the cookie value: the database never holds a usable session ID.
    public var idHash: String
    public var userID: UserID?
    public var stage: Stage
    public var csrfToken: String
    public var language: Language
    /// One-shot page data (a message, values to keep on a form), JSON.
    public var flash: String?
    /// The current flow's reference (an application ID, a transfer draft), JSON.
    public var data: String?
    public var createdAt: Date
    public var lastSeenAt: Date

    public init(
        idHash: String, userID: UserID? = nil, stage: Stage = .anonymous, csrfToken: String, language: Language,
        flash: String? = nil, data: String? = nil, createdAt: Date, lastSeenAt: Date
    ) {
        self.idHash = idHash
        self.userID = userID
        self.stage = stage
        self.csrfToken = csrfToken
        self.language = language
        self.flash = flash
        self.data = data
        self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt
    }
}

/// Storage for the retail flows. Every method that changes state writes its audit events (and mails)
/// in the same transaction.
public protocol RetailRepository: Sendable {
    // MARK: Issuance applications
    /// Stores a new pending application (voiding the user's older pending ones) and its mail.
    func insert(_ application: IssuanceApplication, mail: OutgoingMail, audit: AuditEvent) async throws
    func application(_ id: ApplicationID) async throws -> IssuanceApplication?
    /// Replaces a pending application's phone address and activation password (BOT002 → 戻る → BOT001), keeping
    /// its mail notification password, expiry and attempts. Compare-and-set on `pending`.
    func revise(
        _ id: ApplicationID, phoneEmail: String, activationPasswordHash: PasswordHash, at now: Date, audit: AuditEvent
    ) async throws -> Bool
    /// Counts a wrong mail notification password; at `maxAttempts` the application becomes void.
    /// - Returns: attempts so far, or `nil` if it was not pending.
    func recordMailPasswordFailure(
        _ id: ApplicationID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> Int?
    /// Completes a pending application: stores the token (awaiting app setup) and its provisioning,
    /// assigns it to the user, queues the token-issuance mail. Compare-and-set on `pending`.
    /// Throws `tokenAlreadyAssigned` if the user holds a live token.
    func complete(
        _ id: ApplicationID, token: Token, provisioning: Provisioning, mail: OutgoingMail, at now: Date,
        audit: [AuditEvent]
    ) async throws -> Bool
    /// Moves a pending application to `status` (cancelled). Compare-and-set on `pending`.
    func close(_ id: ApplicationID, as status: ApplicationStatus, at now: Date, audit: AuditEvent) async throws -> Bool

    // MARK: App provisioning
    func provisioning(appUserID: String) async throws -> Provisioning?
    func provisioning(token: TokenID) async throws -> Provisioning?
    /// Counts a wrong activation password; at `maxAttempts` the issuance is void (token cancelled).
    /// - Returns: attempts so far and whether it is now void, or `nil` if not provisionable.
    func recordActivationFailure(
        token: TokenID, maxAttempts: Int, at now: Date, audit: AuditEvent
    ) async throws -> (attempts: Int, voided: Bool)?
    /// Marks the provisioning done once, gives the token its installation serial and moves it to `issued`.
    func completeProvisioning(token: TokenID, serial: SerialNumber, at now: Date, audit: AuditEvent) async throws
        -> Bool
    /// Cancels a token whose provisioning expired. Compare-and-set on `awaiting_app_setup`.
    func expireProvisioning(token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool

    // MARK: Start and cancellation of use
    /// Queues a mail on its own (after a change that already committed with its audit).
    func enqueue(_ mail: OutgoingMail) async throws
    /// Cancels the user's token (利用解除) and records when, for the next-day rule.
    func cancelUse(
        of token: TokenID, from state: TokenState, by user: UserID, at now: Date, audit: AuditEvent
    ) async throws -> Bool

    // MARK: Accounts and transfers
    /// Opens an account, with its audit record.
    func insert(_ account: Account, audit: AuditEvent) async throws
    func accounts(of user: UserID) async throws -> [Account]
    /// Debits the account if it belongs to `user` and has the funds, records the transfer, credits the payee
    /// when it is an account of this bank. One transaction. Returns false (nothing moved) if funds are short.
    func execute(_ transfer: Transfer, by user: UserID, audit: AuditEvent) async throws -> Bool
    func transfers(of user: UserID, limit: Int) async throws -> [Transfer]

    // MARK: Sessions
    func insert(_ session: WebSession) async throws
    func session(idHash: String) async throws -> WebSession?
    func update(_ session: WebSession) async throws
    func deleteSession(idHash: String) async throws
    /// Removes sessions idle since before `cutoff`.
    func purgeSessions(idleSince cutoff: Date) async throws

    // MARK: Outbox
    /// Mails not yet delivered whose next attempt is due at `now`, oldest first.
    func pendingMails(limit: Int, at now: Date) async throws -> [OutgoingMail]
    func markSent(_ id: Int64, at now: Date) async throws
    func markFailed(_ id: Int64, error: String, at now: Date) async throws

    /// When the user last cancelled their OTP (for 翌日以降).
    func otpCancelledAt(of user: UserID) async throws -> Date?
}

/// A transfer (retail 振込 or corporate), as the audit trail names it.
public protocol AuditedTransfer {
    var accountID: AccountID { get }
    var payee: Payee { get }
    var amount: Int64 { get }
}

extension AuditedTransfer {
    /// What the audit trail records of a transfer: the account it is paid from, the whole payee (bank, branch,
    /// account) and the amount.
    public var auditDescription: String {
        "from=\(accountID) payee=\(payee.accountPath) amount=\(amount)"
    }
}
