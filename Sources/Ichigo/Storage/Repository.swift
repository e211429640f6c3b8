import Foundation

/// What happened when a wrong code was counted.
public struct FailureOutcome: Sendable, Hashable {
    /// Consecutive failures now recorded for the token.
    public var failureCount: Int
    /// Whether this failure locked the token.
    public var lockedNow: Bool

    public init(failureCount: Int, lockedNow: Bool) {
        self.failureCount = failureCount
        self.lockedNow = lockedNow
    }
}

/// What a code check decides about a token, from the token as read inside the check's own transaction.
public enum CodeDecision: Sendable, Hashable {
    /// The code is the one for `step`, later than the last accepted step: accept it and keep the clock offset.
    case accept(step: Int64, driftSteps: Int)
    /// The code is wrong: count a failure (never locks: see `stepByStep`).
    case wrong
    /// Refuse without changing the token (it is not in the required state, or the code was already used).
    case refuse(Refusal)
    /// Not decided here: this failure may lock the token, and the lock's notices must be prepared first. The
    /// caller takes the step-by-step path.
    case stepByStep
}

/// What `checkCode` did.
public enum CodeCheck: Sendable, Hashable {
    /// Decided and committed (with its audit record) before this returns.
    case decided(VerificationResult, failureCount: Int)
    /// Nothing written: the store has no single-transaction check, or the decision was `stepByStep`.
    case stepByStep
}

/// The database schema as `/ready` reports it.
public struct SchemaStatus: Sendable, Hashable {
    /// Migrations applied in the database.
    public var applied: [String]
    /// Migrations this build knows.
    public var known: [String]
    /// Whether the database has every migration this build knows.
    public var isCurrent: Bool { Set(known).isSubset(of: Set(applied)) }

    public init(applied: [String], known: [String]) {
        self.applied = applied
        self.known = known
    }
}

/// Where Ichigo keeps contracts, users, tokens and the audit trail.
///
/// Every state-changing method takes the audit event(s) describing the change and writes them in the
/// same transaction, so the trail and the state never disagree. The once-only rule and the failure
/// counter are enforced by the store atomically (a conditional update), never by read-then-write in
/// the caller, so they hold across many server instances sharing one database.
///
/// Implemented by `SQLiteRepository` (IchigoSQLite), `PostgresRepository` (IchigoPostgres) and `MemoryRepository`
/// (IchigoTesting); all pass `RepositoryContract`.
public protocol IchigoRepository: Sendable {
    // MARK: Contracts and users

    /// Stores a new contract.
    func insert(_ contract: Contract, audit: AuditEvent) async throws
    /// Stores a retail customer: the contract and its one user, together or not at all.
    /// Throws `loginIDTaken` if the login ID is in use.
    func insert(_ contract: Contract, with user: User, audit: [AuditEvent]) async throws
    /// The contract with `id`, if any.
    func contract(_ id: ContractID) async throws -> Contract?
    /// Stores a new user. Throws `loginIDTaken` if the login ID is in use, `contractNotFound` if the contract is unknown.
    func insert(_ user: User, audit: AuditEvent) async throws
    /// The user with `id`, if any.
    func user(_ id: UserID) async throws -> User?
    /// The user with `loginID`, if any.
    func user(loginID: LoginID) async throws -> User?
    /// The users of a contract, by login ID.
    func users(of contract: ContractID) async throws -> [User]
    /// Every user whose current token is `token` (a token may be shared).
    func users(holding token: TokenID) async throws -> [User]
    /// The number of users, to tell an empty database.
    func userCount() async throws -> Int

    /// Counts a wrong password (login or confirmation) for `user`, stopping the login when the count reaches
    /// `threshold` (and then also writing `lockAudit` and queueing `lockMails`, in the same transaction). One
    /// atomic update.
    /// - Returns: the new count and whether it locked now, or `nil` for an unknown user.
    func recordPasswordFailure(
        of user: UserID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome?
    /// Sets the password failure count to zero (after a right password).
    func resetPasswordFailures(of user: UserID) async throws
    /// Lifts a login lock. Returns whether the user was locked.
    func unlockLogin(of user: UserID, at now: Date, audit: AuditEvent) async throws -> Bool

    // MARK: Tokens

    /// A user and their current token, in one read, for verification.
    func userWithToken(_ id: UserID) async throws -> (user: User, token: Token?)?
    /// Stores a new token and makes it the current token of `users`.
    ///
    /// Throws `serialTaken` if the serial exists, `userNotFound` for an unknown user, and
    /// `tokenAlreadyAssigned` if any of the users holds a token that is not cancelled or revoked.
    func insert(_ token: Token, assigningTo users: [UserID], audit: AuditEvent) async throws
    /// The token with `id`, if any.
    func token(_ id: TokenID) async throws -> Token?
    /// The token with `serial`, if any.
    func token(serial: SerialNumber) async throws -> Token?
    /// Makes `token` the current token of `user` too (sharing). Throws `tokenAlreadyAssigned` if the user
    /// holds another token that is not cancelled or revoked, `userNotFound`, `tokenNotFound`.
    func assign(_ token: TokenID, to user: UserID, audit: AuditEvent) async throws
    /// Moves `token` from `state` to `newState` if it is still in `state` (compare-and-set).
    ///
    /// - Parameter resetFailures: also set the failure count to zero (unlock).
    /// - Returns: whether the token was in `state` and has moved.
    func transition(
        _ token: TokenID, from state: TokenState, to newState: TokenState, resetFailures: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool
    /// Records an accepted code: sets the last accepted step to `step` only if the token is in `state` and
    /// its last accepted step is earlier than `step` (checked in the store, atomically); the token becomes
    /// `Token.accepting(step:driftSteps:at:)` (no failures, the drift kept, active); queues `mail` (if any) in the
    /// same transaction.
    ///
    /// - Returns: whether the code was accepted (false: replayed, or the token changed state meanwhile).
    func recordAcceptance(
        ofStep step: Int64, driftSteps: Int, for token: TokenID, in state: TokenState,
        at now: Date, audit: AuditEvent, mail: OutgoingMail?
    ) async throws -> Bool
    /// Counts a wrong code against a token in `issued` or `active` state, locking it when the count
    /// reaches `threshold` (and then also writing `lockAudit` and queueing `lockMails`, in the same transaction).
    ///
    /// - Returns: the new count and whether it locked, or `nil` if the token was not in a countable state.
    func recordFailure(
        for token: TokenID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome?
    /// The verification hot path in one transaction: reads `user`'s token, asks `decide`, and writes what it
    /// decided (the acceptance, or the failure count) with the audit record `audit(subject, outcome, reason)`.
    /// Never locks a token (`decide` answers `stepByStep` for a failure that may). A store without it answers
    /// `stepByStep` and the caller uses `userWithToken`, `recordAcceptance` and `recordFailure`.
    func checkCode(
        for user: UserID, requiring state: TokenState, at now: Date,
        audit: @escaping @Sendable (_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision
    ) async throws -> CodeCheck

    // MARK: Readiness

    /// Reads the schema's migration state from the database (so it also proves the database answers).
    func schemaStatus() async throws -> SchemaStatus

    // MARK: Audit trail

    /// Appends an event that goes with no state change (e.g. a refused verification for an unknown user).
    func append(_ event: AuditEvent) async throws
    /// Records with sequence numbers from `sequence` on, in order, at most `limit`.
    func auditRecords(from sequence: Int64, limit: Int) async throws -> [AuditRecord]
}

extension IchigoRepository {
    /// No single-transaction check: the caller goes step by step.
    public func checkCode(
        for user: UserID, requiring state: TokenState, at now: Date,
        audit: @escaping @Sendable (_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision
    ) async throws -> CodeCheck {
        .stepByStep
    }

    /// `recordFailure` with no mail to queue on locking.
    public func recordFailure(
        for token: TokenID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent
    ) async throws -> FailureOutcome? {
        try await recordFailure(
            for: token, lockingAt: threshold, at: now, audit: audit, lockAudit: lockAudit, lockMails: [])
    }

    /// `recordPasswordFailure` with no mail to queue on locking.
    public func recordPasswordFailure(
        of user: UserID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent
    ) async throws -> FailureOutcome? {
        try await recordPasswordFailure(
            of: user, lockingAt: threshold, at: now, audit: audit, lockAudit: lockAudit, lockMails: [])
    }
}
