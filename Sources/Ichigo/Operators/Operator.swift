import Foundation
import OTP

/// Identifies a bank operator account.
public struct OperatorID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> OperatorID { OperatorID(rawValue: "O" + RandomText.hex(byteCount: 12)) }
    public var description: String { rawValue }
}

/// A bank employee who works the operator console (its own accounts, apart from customers).
public struct BankOperator: Sendable, Hashable {
    public var id: OperatorID
    public var loginID: LoginID
    public var name: String
    public var passwordHash: PasswordHash
    public var createdAt: Date
    public var passwordFailures = 0
    public var locked = false

    public init(id: OperatorID, loginID: LoginID, name: String, passwordHash: PasswordHash, createdAt: Date) {
        self.id = id
        self.loginID = loginID
        self.name = name
        self.passwordHash = passwordHash
        self.createdAt = createdAt
    }
}

/// Every storage protocol together: what a complete backend (SQLite, PostgreSQL) implements.
public typealias IchigoStore = IchigoRepository & RetailRepository & CorporateRepository & OperatorRepository
    & KeyVersionRepository
    & APIKeyRepository & SigningRepository & PasskeyRepository

/// What the token inventory is searched by; `nil` matches anything.
public struct TokenFilter: Sendable, Hashable {
    /// A serial, or the beginning of one.
    public var serialPrefix: String?
    public var kind: TokenKind?
    public var state: TokenState?
    /// Only tokens in the bank's inventory (no contract).
    public var unassignedOnly: Bool

    public init(serialPrefix: String? = nil, kind: TokenKind? = nil, state: TokenState? = nil, unassignedOnly: Bool = false) {
        self.serialPrefix = serialPrefix
        self.kind = kind
        self.state = state
        self.unassignedOnly = unassignedOnly
    }
}

/// What the audit trail is searched by; `nil` matches anything.
public struct AuditFilter: Sendable, Hashable {
    /// Matches the record's actor or subject (a user ID, `user:…`, a serial, a contract ID).
    public var party: String?
    public var action: String?
    public var from: Date?
    public var until: Date?

    public init(party: String? = nil, action: String? = nil, from: Date? = nil, until: Date? = nil) {
        self.party = party
        self.action = action
        self.from = from
        self.until = until
    }
}

/// Storage for the bank operator's work: operator accounts, the token inventory, imports and audit search.
public protocol OperatorRepository: Sendable {
    /// Stores a new operator. Throws `loginIDTaken`.
    func insert(_ bankOperator: BankOperator, audit: AuditEvent) async throws
    func bankOperator(loginID: LoginID) async throws -> BankOperator?
    func bankOperator(_ id: OperatorID) async throws -> BankOperator?
    /// Counts a wrong operator password, locking the account at `threshold`. Returns the new count.
    func recordOperatorPasswordFailure(
        _ id: OperatorID, lockingAt threshold: Int, audit: AuditEvent
    ) async throws -> FailureOutcome?
    func resetOperatorPasswordFailures(_ id: OperatorID) async throws
    /// Lifts an operator's lock (and sets a new password hash when given).
    func unlockOperator(_ id: OperatorID, newPasswordHash: PasswordHash?, audit: AuditEvent) async throws

    /// Stores every token of an import (hardware, in the inventory) in one transaction with one audit event
    /// each, or none: throws `importFailed` naming the first serial that exists already and its position.
    func importTokens(_ tokens: [Token], audit: [AuditEvent]) async throws
    /// Tokens matching `filter`, by serial.
    func tokens(matching filter: TokenFilter, limit: Int, offset: Int) async throws -> [Token]
    /// How many tokens there are of each kind and state.
    func tokenCounts() async throws -> [TokenKind: [TokenState: Int]]
    /// Takes a hardware token back into the inventory: state `issued`, no contract, no holder, no failures.
    func returnToInventory(_ token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool
    /// Users whose login ID starts with `prefix`, by login ID.
    func users(loginIDPrefix prefix: String, limit: Int) async throws -> [User]
    /// Audit records matching `filter`, newest first.
    func auditRecords(matching filter: AuditFilter, limit: Int) async throws -> [AuditRecord]
}

/// The bank operator's work: console login, the hardware-token inventory, assigning a token to a retail
/// customer who applied at a branch (営業店窓口), unlock and revoke for retail customers, lifting a stopped
/// login, and reading the audit trail.
public struct OperatorService: Sendable {
    public let repository: any IchigoStore
    public let tokens: TokenService
    public let hasher: PasswordHasher
    /// Consecutive wrong passwords that lock an operator account.
    public let lockoutThreshold = 5

    public init(
        repository: any IchigoStore,
        tokens: TokenService, hasher: PasswordHasher
    ) {
        self.repository = repository
        self.tokens = tokens
        self.hasher = hasher
    }

    /// Creates an operator account (from the `ichigo operator create` command).
    public func createOperator(loginID text: String, name: String, password: String, at now: Date) async throws
        -> BankOperator
    {
        guard let loginID = LoginID(rawValue: text) else { throw IchigoError(.invalidInput, field: "loginId") }
        guard !name.isEmpty, name.count <= 100 else { throw IchigoError(.invalidInput, field: "name") }
        guard CredentialRules.isValidOperatorPassword(password) else {
            throw IchigoError(
                .invalidInput, field: "password",
                detail: "10 to 32 half-width letters, digits and symbols (the software keyboard's keys)")
        }
        let bankOperator = BankOperator(
            id: .random(), loginID: loginID, name: name, passwordHash: try hasher.hash(password), createdAt: now)
        try await repository.insert(
            bankOperator,
            audit: AuditEvent(
                at: now, actor: "cli", action: "operator.create", subject: bankOperator.id.rawValue, outcome: "ok",
                reason: "login=\(loginID.rawValue)"))
        return bankOperator
    }

    /// Checks an operator's login ID and password; unknown ID and wrong password read the same.
    public func authenticate(loginID text: String, password: String, at now: Date) async throws -> BankOperator {
        let found = try await LoginID(rawValue: text).asyncFlatMap { try await repository.bankOperator(loginID: $0) }
        let matches = hasher.verify(password, against: found?.passwordHash ?? PasswordHash(encoded: Self.dummyHash))
        guard let found, matches, !found.locked else {
            if let found, !found.locked {
                let outcome = try await repository.recordOperatorPasswordFailure(
                    found.id, lockingAt: lockoutThreshold,
                    audit: AuditEvent(
                        at: now, actor: "web", action: "operator.login", subject: found.id.rawValue,
                        outcome: "refused", reason: "wrong_password"))
                if outcome?.lockedNow == true { throw IchigoError(.loginLocked) }
            } else {
                try await repository.append(
                    AuditEvent(
                        at: now, actor: "web", action: "operator.login",
                        subject: found?.id.rawValue ?? "login:\(text.prefix(32))", outcome: "refused",
                        reason: found == nil ? "unknown_login" : "locked"))
                if found != nil { throw IchigoError(.loginLocked) }
            }
            throw IchigoError(.loginFailed)
        }
        if found.passwordFailures > 0 { try await repository.resetOperatorPasswordFailures(found.id) }
        try await repository.append(
            AuditEvent(at: now, actor: "operator:\(found.id.rawValue)", action: "operator.login", subject: found.id.rawValue, outcome: "accepted"))
        return found
    }

    private static let dummyHash = "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    /// A token by serial text, or `tokenNotFound`.
    public func token(serial text: String) async throws -> Token {
        guard let serial = SerialNumber(rawValue: text.trimmingCharacters(in: .whitespaces)),
            let token = try await repository.token(serial: serial)
        else { throw IchigoError(.tokenNotFound) }
        return token
    }

    /// A user by login ID, or `userNotFound`.
    public func user(loginID text: String) async throws -> User {
        guard let loginID = LoginID(rawValue: text.trimmingCharacters(in: .whitespaces)),
            let user = try await repository.user(loginID: loginID)
        else { throw IchigoError(.userNotFound) }
        return user
    }

    /// Hands an inventory hardware token to a retail customer who applied at a branch: the token becomes theirs
    /// (トークン発行済); the customer starts using it with its first code at BOK001.
    public func assignHardwareToken(serial text: String, toCustomer loginID: String, actor: String, at now: Date)
        async throws -> Token
    {
        let token = try await token(serial: text)
        let user = try await user(loginID: loginID)
        guard user.role == .customer, let contract = try await repository.contract(user.contractID) else {
            throw IchigoError(.userNotFound, detail: "not a retail customer")
        }
        guard token.kind == .hardware, token.contractID == nil, token.state == .issued else {
            throw IchigoError(.tokenNotRegistrable)
        }
        if let current = try await user.tokenID.asyncFlatMap({ try await repository.token($0) }),
            current.state.occupiesUser
        {
            throw IchigoError(.tokenAlreadyAssigned)
        }
        try await repository.register(
            token.id, to: contract.id, for: [user.id], at: now,
            audit: [
                AuditEvent(
                    at: now, actor: actor, action: "token.assign", subject: token.serial.rawValue, outcome: "ok",
                    reason: "user=\(user.id.rawValue) branch application")
            ], mails: [])
        return try await repository.token(token.id) ?? token
    }

    /// Applies a lifecycle event to a token by serial (unlock, revoke) for the operator.
    public func apply(_ event: TokenEvent, serial: String, actor: String, at now: Date) async throws -> Token {
        let token = try await token(serial: serial)
        if event == .reissue {
            guard token.kind == .hardware else { throw IchigoError(.illegalTransition, detail: "only hardware tokens return to the inventory") }
            _ = try token.state.applying(.reissue)
            guard try await repository.returnToInventory(
                token.id, at: now,
                audit: AuditEvent(
                    at: now, actor: actor, action: "token.reissue", subject: token.serial.rawValue, outcome: "ok",
                    reason: "\(token.state.rawValue)->issued, back to the inventory"))
            else { throw IchigoError(.concurrentUpdate) }
            return try await repository.token(token.id) ?? token
        }
        return try await tokens.apply(event, to: token, actor: actor, at: now)
    }

    /// Lifts a login stopped by wrong passwords.
    public func unlockLogin(loginID: String, actor: String, at now: Date) async throws -> User {
        let user = try await user(loginID: loginID)
        try await unlockLogin(of: user.id, actor: actor, at: now)
        return user
    }

    /// Records that the operator logged out of the console.
    public func recordLogout(of bankOperator: BankOperator, at now: Date) async throws {
        try await repository.append(
            AuditEvent(
                at: now, actor: "operator:\(bankOperator.id.rawValue)", action: "logout",
                subject: bankOperator.id.rawValue, outcome: "ok"))
    }

    /// Lifts the login stop of the user `id` (the console, the command line and the JSON API): `userNotFound`, or
    /// `loginNotLocked` when the login is not stopped; audited as `login.unlock` with the change.
    public func unlockLogin(of id: UserID, actor: String, at now: Date) async throws {
        guard try await repository.user(id) != nil else { throw IchigoError(.userNotFound) }
        guard try await repository.unlockLogin(
            of: id, at: now,
            audit: AuditEvent(at: now, actor: actor, action: "login.unlock", subject: id.rawValue, outcome: "ok"))
        else { throw IchigoError(.loginNotLocked) }
    }
}

/// What the bank's operator may do with a token (OTK002's buttons), read from the token's lifecycle
/// (`TokenState.applying`) rather than restated by the screen.
public struct OperatorTokenActions: Sendable, Hashable {
    /// 利用停止解除: a locked token.
    public var unlock: Bool
    /// 失効: a token not yet cancelled or revoked.
    public var revoke: Bool
    /// 再発行 (back to the inventory): a hardware token of a contract, issued, active or locked.
    public var reissue: Bool
    /// Assigning to a customer: a hardware token in the inventory (issued, no contract).
    public var assign: Bool

    public init(for token: Token) {
        func allows(_ event: TokenEvent) -> Bool { (try? token.state.applying(event)) != nil }
        unlock = allows(.unlock)
        revoke = allows(.revoke)
        reissue = token.kind == .hardware && token.contractID != nil && allows(.reissue)
        assign = token.kind == .hardware && token.state == .issued && token.contractID == nil
    }
}
