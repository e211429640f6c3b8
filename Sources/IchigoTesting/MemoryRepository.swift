import Foundation
import Ichigo

/// An in-memory store (every repository protocol: `IchigoStore`) for tests. An actor, so every method is atomic
/// like a transaction: each method checks everything before it changes anything. The retail, corporate and
/// operator parts are in `MemoryRepository+Stores.swift`; the same contract suite runs on it and on the databases.
public actor MemoryRepository: IchigoRepository {
    var contracts: [ContractID: Contract] = [:]
    var usersByID: [UserID: User] = [:]
    var tokens: [TokenID: Token] = [:]
    var audit: [AuditRecord] = []
    var outbox: [OutboxEntry] = []
    var nextMailID: Int64 = 1
    var applications: [ApplicationID: IssuanceApplication] = [:]
    var provisionings: [TokenID: Provisioning] = [:]
    var otpCancelled: [UserID: Date] = [:]
    /// Accounts in insertion order, with the contract each belongs to.
    var accountList: [(account: Account, contract: ContractID?)] = []
    var transferList: [Transfer] = []
    var sessions: [String: WebSession] = [:]
    var corporateTransferList: [CorporateTransfer] = []
    var operators: [OperatorID: BankOperator] = [:]
    var apiKeyList: [APIKey] = []
    var signingChallenges: [ChallengeID: SigningChallenge] = [:]
    var passkeyList: [Passkey] = []
    var passkeyChallenges: [String: PasskeyChallenge] = [:]
    var keyVersionList: [KeyVersion] = []
    let chain: AuditChain

    /// A mail in the outbox with its delivery state.
    struct OutboxEntry {
        var mail: OutgoingMail
        var sentAt: Date?
        var attempts = 0
        var nextAttemptAt: Date
        var lastError: String?
    }

    /// Mails queued with state changes, oldest first.
    public var mails: [OutgoingMail] { outbox.map(\.mail) }

    public init(chain: AuditChain) { self.chain = chain }

    public func insert(_ contract: Contract, audit event: AuditEvent) async throws {
        contracts[contract.id] = contract
        appendAudit(event)
    }

    public func insert(_ contract: Contract, with user: User, audit events: [AuditEvent]) async throws {
        guard !usersByID.values.contains(where: { $0.loginID == user.loginID }) else { throw IchigoError(.loginIDTaken) }
        contracts[contract.id] = contract
        usersByID[user.id] = user
        for event in events { appendAudit(event) }
    }

    public func contract(_ id: ContractID) async throws -> Contract? { contracts[id] }

    public func schemaStatus() async throws -> SchemaStatus { SchemaStatus(applied: ["memory"], known: ["memory"]) }

    public func insert(_ user: User, audit event: AuditEvent) async throws {
        guard contracts[user.contractID] != nil else { throw IchigoError(.contractNotFound) }
        guard !usersByID.values.contains(where: { $0.loginID == user.loginID }) else {
            throw IchigoError(.loginIDTaken)
        }
        usersByID[user.id] = user
        appendAudit(event)
    }

    public func user(_ id: UserID) async throws -> User? { usersByID[id] }

    public func user(loginID: LoginID) async throws -> User? { usersByID.values.first { $0.loginID == loginID } }

    public func users(of contract: ContractID) async throws -> [User] {
        usersByID.values.filter { $0.contractID == contract }.sorted { $0.loginID.rawValue < $1.loginID.rawValue }
    }

    public func users(holding token: TokenID) async throws -> [User] {
        usersByID.values.filter { $0.tokenID == token }.sorted { $0.loginID.rawValue < $1.loginID.rawValue }
    }

    public func userCount() async throws -> Int { usersByID.count }

    public func recordPasswordFailure(
        of user: UserID, lockingAt threshold: Int, at now: Date, audit event: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        guard var stored = usersByID[user] else { return nil }
        stored.passwordFailures += 1
        let lockedNow = !stored.loginLocked && stored.passwordFailures >= threshold
        if lockedNow { stored.loginLocked = true }
        usersByID[user] = stored
        appendAudit(event)
        if lockedNow {
            appendAudit(lockAudit)
            lockMails.forEach(queue)
        }
        return FailureOutcome(failureCount: stored.passwordFailures, lockedNow: lockedNow)
    }

    public func resetPasswordFailures(of user: UserID) async throws {
        if usersByID[user]?.loginLocked == false { usersByID[user]?.passwordFailures = 0 }
    }

    public func unlockLogin(of user: UserID, at now: Date, audit event: AuditEvent) async throws -> Bool {
        guard usersByID[user]?.loginLocked == true else { return false }
        usersByID[user]?.loginLocked = false
        usersByID[user]?.passwordFailures = 0
        appendAudit(event)
        return true
    }

    public func userWithToken(_ id: UserID) async throws -> (user: User, token: Token?)? {
        guard let user = usersByID[id] else { return nil }
        return (user, user.tokenID.flatMap { tokens[$0] })
    }

    func checkUserIsFree(_ id: UserID) throws {
        guard let user = usersByID[id] else { throw IchigoError(.userNotFound) }
        if let current = user.tokenID.flatMap({ tokens[$0] }), current.state.occupiesUser {
            throw IchigoError(.tokenAlreadyAssigned)
        }
    }

    public func insert(_ token: Token, assigningTo users: [UserID], audit event: AuditEvent) async throws {
        guard !tokens.values.contains(where: { $0.serial == token.serial }) else { throw IchigoError(.serialTaken) }
        for user in users { try checkUserIsFree(user) }
        tokens[token.id] = token
        for user in users { usersByID[user]?.tokenID = token.id }
        appendAudit(event)
    }

    public func token(_ id: TokenID) async throws -> Token? { tokens[id] }

    public func token(serial: SerialNumber) async throws -> Token? { tokens.values.first { $0.serial == serial } }

    public func assign(_ token: TokenID, to user: UserID, audit event: AuditEvent) async throws {
        guard tokens[token] != nil else { throw IchigoError(.tokenNotFound) }
        if usersByID[user]?.tokenID == token { return }
        try checkUserIsFree(user)
        usersByID[user]?.tokenID = token
        appendAudit(event)
    }

    public func transition(
        _ token: TokenID, from state: TokenState, to newState: TokenState, resetFailures: Bool, at now: Date,
        audit event: AuditEvent
    ) async throws -> Bool {
        guard var stored = tokens[token], stored.state == state else { return false }
        stored.lockedFrom = newState == .locked ? stored.state : nil
        stored.state = newState
        stored.updatedAt = now
        if resetFailures { stored.failureCount = 0 }
        tokens[token] = stored
        appendAudit(event)
        return true
    }

    public func recordAcceptance(
        ofStep step: Int64, driftSteps: Int, for token: TokenID, in state: TokenState,
        at now: Date, audit event: AuditEvent, mail: OutgoingMail?
    ) async throws -> Bool {
        guard let stored = tokens[token], stored.state == state, stored.lastAcceptedStep < step else { return false }
        let accepted = stored.accepting(step: step, driftSteps: driftSteps, at: now)
        tokens[token] = accepted
        appendAudit(event)
        if let mail { queue(mail) }
        return true
    }

    public func recordFailure(
        for token: TokenID, lockingAt threshold: Int, at now: Date, audit event: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        guard let found = tokens[token], found.state == .issued || found.state == .active else { return nil }
        let stored = found.countingFailure(lockingAt: threshold, at: now)
        let lockedNow = stored.state == .locked
        tokens[token] = stored
        appendAudit(event)
        if lockedNow {
            appendAudit(lockAudit)
            lockMails.forEach(queue)
        }
        return FailureOutcome(failureCount: stored.failureCount, lockedNow: lockedNow)
    }

    public func append(_ event: AuditEvent) async throws { appendAudit(event) }

    public func auditRecords(from sequence: Int64, limit: Int) async throws -> [AuditRecord] {
        Array(audit.filter { $0.sequence >= sequence }.prefix(limit))
    }

    func appendAudit(_ event: AuditEvent) {
        // Store times at millisecond precision, as the databases do.
        var event = event
        event.at = Date(timeIntervalSince1970: (event.at.timeIntervalSince1970 * 1000).rounded() / 1000)
        audit.append(chain.record(for: event, after: audit.last.map { ($0.sequence, $0.hash) }))
    }

    /// Test hook: replaces a stored audit record, as an attacker editing the database would.
    public func tamperWithAudit(at index: Int, _ change: (inout AuditRecord) -> Void) {
        change(&audit[index])
    }

    /// Test hook: removes a stored audit record.
    public func deleteAudit(at index: Int) { audit.remove(at: index) }
}

/// A clock that stands still until moved, for tests.
public final class FixedClock: IchigoClock, @unchecked Sendable {
    private let lock = NSLock()
    private var instant: Date

    public init(_ instant: Date) { self.instant = instant }

    public func now() -> Date { lock.withLock { instant } }

    /// Moves the clock by `seconds`.
    public func advance(by seconds: TimeInterval) { lock.withLock { instant += seconds } }

    /// Sets the clock.
    public func set(_ date: Date) { lock.withLock { instant = date } }
}
