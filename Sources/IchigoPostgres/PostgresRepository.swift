import Foundation
import Ichigo
import IchigoFiles
import Logging
import NIOCore
import OTP
import PostgresNIO
import Synchronization

/// Ichigo's repositories on PostgreSQL, for several server instances sharing one database.
///
/// Semantics are those of `SQLiteRepository`, checked by the same `RepositoryContract`:
///
/// - Every state change and its audit events (and mails) commit in one transaction.
/// - **The once-only rule** is enforced with the token's row locked: a verification's batch locks its tokens
///   (`HotStatements.LockTokens`, `FOR UPDATE`, in id order) in `PostgresGroupCommit.runChecks`, and
///   `recordAcceptance` locks its one token; each then decides on the row as committed (`CodeRule.judge`: only a step
///   later than the last accepted one; later jobs of the same batch see the earlier ones applied) and writes the
///   change (`Token.accepting`) with the one statement `HotStatements.UpdateTokens`. However many instances race, the
///   lock makes them take turns on the committed row.
/// - The failure counter is a single conditional `UPDATE … RETURNING` (`recordFailure`): in READ COMMITTED, an `UPDATE`
///   that waited for another transaction's row lock re-checks its `WHERE` against the row as committed. Reads that
///   decide a write (`approve`, `register`, a user's current token) lock their rows with `FOR UPDATE` first. A deadlock
///   between two transactions (e.g. transfers in opposite directions) runs the loser again.
/// - Unique and foreign-key violations caused by a race become the domain errors the pre-checks give
///   (`loginIDTaken`, `serialTaken`, `transferDuplicate`, …).
///
/// **The audit chain across instances** is one chain: a write transaction collects its audit events and, just before
/// `COMMIT`, locks the one row of `audit_chain_head` (`SELECT … FOR UPDATE`), chains its records from the sequence
/// number and hash found there, inserts them and moves the head on. The lock is taken last, so it is held only for
/// those two statements and the commit; transactions that append records therefore commit in sequence order, and a
/// reader sees the trail as a gap-free prefix. A transaction that rolls back never touched the head, so sequence
/// numbers have no gaps. `AuditVerifier` reads the trail through `auditRecords(from:limit:)` as on SQLite. As on
/// SQLite, each instance can keep a signed head outside the database (`AuditHeadFile`, `audit-postgres.head` in its
/// data directory): the statement that locks the head row also reads the hash of the record the file names, so a
/// batch checks it without a round trip of its own, and the file moves to the batch's last record after the commit.
/// Deleting the newest records together with the head row then stops the file and shows in `audit verify`.
///
/// **The mail outbox** may be read by every instance's sender: `pendingMails` claims the mails it returns for this
/// repository instance for `mailLease` (`claimed_by`, `claimed_until`), in one `UPDATE … WHERE id IN (SELECT … FOR
/// UPDATE SKIP LOCKED)`, so two instances never get the same mail while the claim holds; the same instance may get its
/// own claims again (its sender works one batch at a time). `markSent` and `markFailed` release the claim. A mail whose
/// sender died is taken by another instance once the lease has run out (so a mail may, rarely, be sent twice — never
/// lost). Session purging is a plain `DELETE … WHERE last_seen_at < cutoff`: harmless when every instance runs it.
///
/// **Transactions**: concurrent writes of one instance share a transaction (`PostgresGroupCommit`, as `GroupCommit`
/// does for SQLite): each caller's work in a savepoint, one head lock and one `COMMIT` — one WAL flush with
/// `synchronous_commit = on` — for the batch; up to four batches in flight per instance. Reads go to any pooled
/// connection.
public final class PostgresRepository: Sendable {
    /// The connection pool. The repository never runs it: whoever uses the repository runs it first — the server
    /// in its service group (`PostgresClient` is a `Service`), the command line in a task group
    /// (`IchigoRuntime.Runtime.run`), tests with `client.run()` in a task.
    public let client: PostgresClient
    let chain: AuditChain
    /// For PostgresNIO's own logging: never below `notice`, so no query (nor its values) is ever logged.
    let queryLogger: Logger
    /// What `migrate()` logs.
    private let logger: Logger
    /// Names this repository's claims on outbox mails.
    let instance: String
    /// The database's URL without its password, when the repository was made from one.
    public let location: String?
    /// How long a claimed mail stays with its sender.
    public static let mailLease: TimeInterval = 300

    private let groupCommit: PostgresGroupCommit

    /// A repository on the database at `url` (see `PostgresLocation`), with a connection pool (`client`) that the
    /// caller runs; nothing is sent before it does. Run `migrate()` before anything else uses the database.
    /// - Parameter auditHead: the instance's signed audit head outside the database (`audit-postgres.head` in its data
    ///   directory); `nil` for none.
    /// - Parameter statementTimeout: the server's: every statement and every lock wait of its connections ends after
    ///   this long (`statement_timeout`, `lock_timeout`), and so does connecting; `nil` (the command line): no limit.
    public convenience init(
        url: String, chain: AuditChain, auditHead: AuditHeadFile? = nil, maximumConnections: Int = 20,
        statementTimeout: Duration? = nil, logger: Logger
    ) throws {
        var location = try PostgresLocation(url: url)
        location.configuration.options.maximumConnections = maximumConnections
        if let statementTimeout {
            let milliseconds = max(1, Int(statementTimeout.components.seconds * 1000
                + statementTimeout.components.attoseconds / 1_000_000_000_000_000))
            location.configuration.options.additionalStartupParameters += [
                ("statement_timeout", "\(milliseconds)"), ("lock_timeout", "\(milliseconds)"),
            ]
            location.configuration.options.connectTimeout = min(statementTimeout, .seconds(10))
        }
        let client = PostgresClient(configuration: location.configuration, backgroundLogger: Self.quiet(logger))
        self.init(client: client, chain: chain, auditHead: auditHead, logger: logger, location: location.redacted)
    }

    /// A repository on `client`, which the caller runs (`client.run()` in a task or a service group). Run
    /// `migrate()` before anything else uses the database.
    public init(
        client: PostgresClient, chain: AuditChain, auditHead: AuditHeadFile? = nil, logger: Logger,
        location: String? = nil
    ) {
        self.client = client
        self.location = location
        self.chain = chain
        let queryLogger = Self.quiet(logger)
        self.queryLogger = queryLogger
        self.logger = logger
        self.instance = UUID().uuidString
        groupCommit = PostgresGroupCommit(client: client, chain: chain, auditHead: auditHead, logger: queryLogger)
    }

    private static func quiet(_ logger: Logger) -> Logger {
        var quiet = logger
        quiet.logLevel = max(logger.logLevel, .notice)
        return quiet
    }

    /// Brings the schema up to date (`PostgresSchema`: each migration once, under an advisory lock, so instances
    /// starting together take turns); throws why it could not (the database is unreachable, a migration failed).
    /// Runs before the server starts (`ichigo serve`) and before any command uses the database; needs `client`
    /// running.
    public func migrate() async throws {
        do {
            let applied = try await PostgresSchema.migrate(client, logger: queryLogger)
            if !applied.isEmpty { logger.info("database migrated", metadata: ["db.migrations": "\(applied)"]) }
        } catch {
            let mapped = PostgresStoreError.mapping(error)
            let store = mapped as? PostgresStoreError
            throw PostgresStoreError(
                sqlState: store?.sqlState,
                message: "cannot open the database \(location ?? "(client given)"): \(store?.message ?? "\(mapped)")")
        }
    }

    // MARK: Running statements

    /// Runs a read on any pooled connection and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        do {
            var result: [PostgresRandomAccessRow] = []
            for try await row in try await client.query(query, logger: queryLogger) {
                result.append(row.makeRandomAccess())
            }
            return result
        } catch {
            throw PostgresStoreError.mapping(error)
        }
    }

    /// Runs a read and returns its first row, if any.
    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
        try await rows(query).first
    }

    /// Runs `work` in a write transaction: its statements, then its audit events chained under the head lock, then
    /// `COMMIT` — shared with the writes of concurrent callers (`PostgresGroupCommit`). If the work throws, nothing of
    /// it stays, and the error is the caller's. A write that lost a deadlock runs again (at most 5 times in all).
    func write<T: Sendable>(_ work: @escaping @Sendable (PostgresTransaction) async throws -> T) async throws -> T {
        return try await groupCommit.write(work)
    }

    /// Most rows one multi-row `INSERT` carries (PostgreSQL takes at most 65,535 parameters per statement).
    static let rowsPerInsert = 1000

    // MARK: Readiness

    public func schemaStatus() async throws -> SchemaStatus {
        let applied = try await rows("SELECT id FROM schema_migrations ORDER BY id").map {
            try Columns($0)["id"] as String
        }
        return SchemaStatus(applied: applied, known: PostgresSchema.migrations.map(\.id))
    }
}

// MARK: - Contracts, users, tokens, audit

extension PostgresRepository: IchigoRepository {
    public func insert(_ contract: Contract, audit: AuditEvent) async throws {
        try await write { tx in
            try await Self.insertContract(contract, in: tx)
            tx.append(audit)
        }
    }

    static func insertContract(_ contract: Contract, in tx: PostgresTransaction) async throws {
        try await tx.run(
            """
            INSERT INTO contracts (id, kind, name, usage_mode, pin_hash, created_at)
            VALUES (\(contract.id.rawValue), \(contract.kind.rawValue), \(contract.name), \(contract.usageMode.rawValue),
                \(contract.pinHash?.encoded), \(contract.createdAt.millis))
            """)
    }

    public func insert(_ contract: Contract, with user: User, audit: [AuditEvent]) async throws {
        try await write { tx in
            try await Self.insertContract(contract, in: tx)
            try await Self.insertUser(user, in: tx)
            for event in audit { tx.append(event) }
        }
    }

    public func contract(_ id: ContractID) async throws -> Contract? {
        try await row("SELECT * FROM contracts WHERE id = \(id.rawValue)").map(Contract.init(stored:))
    }

    public func insert(_ user: User, audit: AuditEvent) async throws {
        try await write { tx in
            try await Self.insertUser(user, in: tx)
            tx.append(audit)
        }
    }

    static func insertUser(_ user: User, in tx: PostgresTransaction) async throws {
        guard try await tx.exists("SELECT 1 FROM contracts WHERE id = \(user.contractID.rawValue)") else {
            throw IchigoError(.contractNotFound)
        }
        guard !(try await tx.exists("SELECT 1 FROM users WHERE login_id = \(user.loginID.rawValue)")) else {
            throw IchigoError(.loginIDTaken)
        }
        // A concurrent insert of the same login ID fails on `users_login_id_unique`: also `loginIDTaken`.
        try await tx.run(
            """
            INSERT INTO users (id, contract_id, login_id, name, role, email, login_password_hash,
                confirmation_password_hash, token_id, created_at, permissions)
            VALUES (\(user.id.rawValue), \(user.contractID.rawValue), \(user.loginID.rawValue), \(user.name),
                \(user.role.rawValue), \(user.email), \(user.loginPasswordHash?.encoded),
                \(user.confirmationPasswordHash?.encoded), \(user.tokenID?.rawValue), \(user.createdAt.millis),
                \(try encodePermissions(user.permissions)))
            """)
    }

    public func user(_ id: UserID) async throws -> User? {
        try await row("SELECT * FROM users WHERE id = \(id.rawValue)").map(User.init(stored:))
    }

    public func user(loginID: LoginID) async throws -> User? {
        try await row("SELECT * FROM users WHERE login_id = \(loginID.rawValue)").map(User.init(stored:))
    }

    public func users(of contract: ContractID) async throws -> [User] {
        try await rows("SELECT * FROM users WHERE contract_id = \(contract.rawValue) ORDER BY login_id")
            .map(User.init(stored:))
    }

    public func users(holding token: TokenID) async throws -> [User] {
        try await rows("SELECT * FROM users WHERE token_id = \(token.rawValue) ORDER BY login_id").map(User.init(stored:))
    }

    public func userCount() async throws -> Int {
        guard let row = try await row("SELECT COUNT(*) AS n FROM users") else { return 0 }
        return try Columns(row)["n"]
    }

    public func recordPasswordFailure(
        of user: UserID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    UPDATE users SET password_failures = password_failures + 1,
                        login_locked_at = CASE WHEN login_locked_at IS NULL AND password_failures + 1 >= \(threshold)
                                               THEN \(now.millis) ELSE login_locked_at END
                    WHERE id = \(user.rawValue)
                    RETURNING password_failures, login_locked_at
                    """)
            else { return nil }
            let columns = Columns(row)
            let count: Int = try columns["password_failures"]
            let lockedNow = (try columns["login_locked_at"] as Int64?) == now.millis && count == threshold
            tx.append(audit)
            if lockedNow {
                tx.append(lockAudit)
                for mail in lockMails { try await tx.enqueue(mail) }
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    public func resetPasswordFailures(of user: UserID) async throws {
        try await write { tx in
            try await tx.run(
                """
                UPDATE users SET password_failures = 0
                WHERE id = \(user.rawValue) AND password_failures <> 0 AND login_locked_at IS NULL
                """)
        }
    }

    public func unlockLogin(of user: UserID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE users SET password_failures = 0, login_locked_at = NULL
                WHERE id = \(user.rawValue) AND login_locked_at IS NOT NULL
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    // MARK: Tokens

    public func userWithToken(_ id: UserID) async throws -> (user: User, token: Token?)? {
        // One statement, so the user and their token are read from one snapshot.
        guard
            let row = try await row(
                """
                SELECT u.*, \(unescaped: Self.tokenColumns(of: "t", prefixed: "t_"))
                FROM users u LEFT JOIN tokens t ON t.id = u.token_id
                WHERE u.id = \(id.rawValue)
                """)
        else { return nil }
        let user = try User(stored: row)
        guard (try Columns(row)["t_id"] as String?) != nil else { return (user, nil) }
        return (user, try Token(stored: Columns(row, prefix: "t_")))
    }

    public func insert(_ token: Token, assigningTo users: [UserID], audit: AuditEvent) async throws {
        try await write { tx in
            guard !(try await tx.exists("SELECT 1 FROM tokens WHERE serial = \(token.serial.rawValue)")) else {
                throw IchigoError(.serialTaken)
            }
            for user in users { try await Self.checkUserIsFree(user, in: tx) }
            try await Self.insertTokens([token], in: tx)
            try await Self.assign(token.id, to: users, in: tx)
            tx.append(audit)
        }
    }

    /// Inserts `tokens` (a few multi-row statements for a large import), inside the caller's transaction.
    /// Throws `serialTaken` if one of the serials exists.
    static func insertTokens(_ tokens: [Token], in tx: PostgresTransaction) async throws {
        var start = tokens.startIndex
        while start < tokens.endIndex {
            let end = min(start + rowsPerInsert, tokens.endIndex)
            var binds = PostgresBindings()
            var values: [String] = []
            for token in tokens[start..<end] {
                let first = binds.count + 1
                values.append("(" + (first..<first + 18).map { "$\($0)" }.joined(separator: ", ") + ")")
                binds.append(token.id.rawValue)
                binds.append(token.serial.rawValue)
                binds.append(token.kind.rawValue)
                binds.append(token.state.rawValue)
                binds.append(ByteBuffer(bytes: token.sealedSeed.combined))
                binds.append(token.parameters.algorithm.rawValue)
                binds.append(token.parameters.digits)
                binds.append(token.parameters.period)
                binds.append(token.lastAcceptedStep)
                binds.append(token.failureCount)
                binds.append(token.driftSteps)
                binds.append(token.createdAt.millis)
                binds.append(token.updatedAt.millis)
                binds.append(token.lastUsedAt?.millis)
                binds.append(token.contractID?.rawValue)
                binds.append(token.ocraSuite)
                binds.append(token.lastSignatureStep)
                binds.append(token.sealedSeed.keyVersion)
            }
            try await tx.run(
                PostgresQuery(
                    unsafeSQL: """
                        INSERT INTO tokens (id, serial, kind, state, sealed_seed, algorithm, digits, period, last_step,
                            failure_count, drift_steps, created_at, updated_at, last_used_at, contract_id, ocra_suite,
                            ocra_last_step, seed_key_version)
                        VALUES \(values.joined(separator: ", "))
                        """, binds: binds))
            start = end
        }
    }

    /// Makes `token` the current token of each of `users`, inside the caller's transaction. Throws `userNotFound`
    /// or `tokenAlreadyAssigned` (a user holds a token still in use or being issued).
    static func assign(_ token: TokenID, to users: [UserID], in tx: PostgresTransaction) async throws {
        for user in users {
            try await checkUserIsFree(user, in: tx)
            try await tx.run("UPDATE users SET token_id = \(token.rawValue) WHERE id = \(user.rawValue)")
        }
    }

    /// Throws unless `user` exists and holds no token that is still in use or being issued. Locks the user's row
    /// until the commit, so two transactions cannot both find the user free.
    static func checkUserIsFree(_ user: UserID, in tx: PostgresTransaction) async throws {
        guard let row = try await tx.row("SELECT token_id FROM users WHERE id = \(user.rawValue) FOR UPDATE") else {
            throw IchigoError(.userNotFound)
        }
        guard let current = try Columns(row)["token_id"] as String? else { return }
        if let stateRow = try await tx.row("SELECT state FROM tokens WHERE id = \(current)"),
            let state = TokenState(rawValue: try Columns(stateRow)["state"]), state.occupiesUser
        {
            throw IchigoError(.tokenAlreadyAssigned)
        }
    }

    public func token(_ id: TokenID) async throws -> Token? {
        try await row("SELECT * FROM tokens WHERE id = \(id.rawValue)").map { try Token(stored: $0) }
    }

    public func token(serial: SerialNumber) async throws -> Token? {
        try await row("SELECT * FROM tokens WHERE serial = \(serial.rawValue)").map { try Token(stored: $0) }
    }

    public func assign(_ token: TokenID, to user: UserID, audit: AuditEvent) async throws {
        try await write { tx in
            guard try await tx.exists("SELECT 1 FROM tokens WHERE id = \(token.rawValue)") else {
                throw IchigoError(.tokenNotFound)
            }
            let current = try await tx.row("SELECT token_id FROM users WHERE id = \(user.rawValue) FOR UPDATE")
            if let current, (try Columns(current)["token_id"] as String?) == token.rawValue { return }
            try await Self.assign(token, to: [user], in: tx)
            tx.append(audit)
        }
    }

    public func transition(
        _ token: TokenID, from state: TokenState, to newState: TokenState, resetFailures: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE tokens SET state = \(newState.rawValue), updated_at = \(now.millis),
                    failure_count = CASE WHEN \(resetFailures) THEN 0 ELSE failure_count END,
                    locked_from = CASE WHEN \(newState.rawValue) = 'locked' THEN state ELSE NULL END
                WHERE id = \(token.rawValue) AND state = \(state.rawValue)
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    public func recordAcceptance(
        ofStep step: Int64, driftSteps: Int, for token: TokenID, in state: TokenState,
        at now: Date, audit: AuditEvent, mail: OutgoingMail?
    ) async throws -> Bool {
        try await write { tx in
            // The same write as the hot path's (`PostgresGroupCommit.runChecks`): the token locked, the accept-once
            // rule checked on the row as committed (a concurrent acceptance made the lock wait), then `UpdateTokens`.
            guard
                let row = try await tx.row(
                    "SELECT \(unescaped: Self.tokenColumns(of: "t", prefixed: "")) FROM tokens t WHERE t.id = \(token.rawValue) FOR UPDATE"
                )
            else { return false }
            let stored = try Token(stored: row)
            guard stored.state == state, step > stored.lastAcceptedStep else { return false }
            let accepted = stored.accepting(step: step, driftSteps: driftSteps, at: now)
            var update = HotStatements.UpdateTokens()
            update.append(accepted)
            _ = try await tx.connection.execute(update, logger: tx.logger)
            tx.append(audit)
            if let mail { try await tx.enqueue(mail) }
            return true
        }
    }

    public func checkCode(
        for user: UserID, requiring state: TokenState, at now: Date,
        audit: @escaping @Sendable (_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision
    ) async throws -> CodeCheck {
        return try await groupCommit.check(user: user, at: now, audit: audit, decide: decide)
    }

    public func recordFailure(
        for token: TokenID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        try await write { tx in
            // Counted and locked in one statement: the count is exact under any concurrency.
            guard
                let row = try await tx.row(
                    """
                    UPDATE tokens SET failure_count = failure_count + 1, updated_at = \(now.millis),
                        state = CASE WHEN failure_count + 1 >= \(threshold) THEN 'locked' ELSE state END,
                        locked_from = CASE WHEN failure_count + 1 >= \(threshold) THEN state ELSE locked_from END
                    WHERE id = \(token.rawValue) AND state IN ('issued', 'active')
                    RETURNING failure_count, state
                    """)
            else { return nil }
            let columns = Columns(row)
            let count: Int = try columns["failure_count"]
            let lockedNow = (try columns["state"] as String) == TokenState.locked.rawValue
            tx.append(audit)
            if lockedNow {
                tx.append(lockAudit)
                for mail in lockMails { try await tx.enqueue(mail) }
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    // MARK: Audit trail

    public func append(_ event: AuditEvent) async throws {
        try await write { tx in tx.append(event) }
    }

    public func auditRecords(from sequence: Int64, limit: Int) async throws -> [AuditRecord] {
        try await rows("SELECT * FROM audit_log WHERE seq >= \(sequence) ORDER BY seq LIMIT \(limit)")
            .map(AuditRecord.init(stored:))
    }

    // MARK: Row mapping




    /// The token table's columns as `alias.column AS prefix+column`, for a join.
    static func tokenColumns(of alias: String, prefixed prefix: String) -> String {
        [
            "id", "serial", "kind", "state", "sealed_seed", "algorithm", "digits", "period", "last_step",
            "failure_count", "drift_steps", "created_at", "updated_at", "last_used_at", "contract_id", "locked_from",
            "ocra_suite", "ocra_last_step", "seed_key_version",
        ].map { "\(alias).\($0) AS \(prefix)\($0)" }.joined(separator: ", ")
    }

}

/// Permissions as stored: JSON with sorted keys (as SQLite stores them).
func encodePermissions(_ permissions: Permissions) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(permissions), as: UTF8.self)
}
