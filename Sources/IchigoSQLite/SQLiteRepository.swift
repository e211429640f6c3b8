import Foundation
import GRDB
#if canImport(CoreFoundation)
    // `stat` is also declared through CoreFoundation's headers, which the WebAuthn target's dependencies bring in.
    import CoreFoundation
#endif
import Ichigo
import IchigoFiles
import OTP

/// Ichigo's repositories on an embedded SQLite database (WAL mode, full sync: a commit is on disk
/// before the caller hears of it).
public final class SQLiteRepository: IchigoRepository {
    let pool: DatabasePool
    let chain: AuditChain
    let groupCommit: GroupCommit
    /// The database file and its device and inode when opened: `/ready` fails if the file was removed or replaced
    /// (the open descriptor would go on answering from a file nobody will see again).
    let path: String
    let fileIdentity: [UInt64]?

    static func identity(of path: String) -> [UInt64]? {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }

    /// How commits reach the disk.
    public enum Durability: Sendable {
        /// Every commit is synced to disk before its caller hears of it (the WAL is `fdatasync`ed by the group
        /// commit's syncer before it answers: see `GroupCommit`). The default, and the only mode for serving.
        case full
        /// No syncs (`synchronous = OFF`): only for loading benchmark data, where a crash may lose the load.
        case bulkLoad
    }

    /// Opens (creating if needed) the database at `path` and runs pending migrations.
    /// - Parameter auditHead: the signed head file to check and advance with every commit (the server's
    ///   `audit.head`); `nil` for none.
    public init(path: String, chain: AuditChain, durability: Durability = .full, auditHead: AuditHeadFile? = nil)
        throws
    {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        // FULL durability syncs the WAL in the group commit's syncer, after the commit (`GroupCommit`): the writer
        // itself commits with NORMAL (WAL pages written, not synced), so it need not wait for the disk.
        let synchronous = durability == .full ? "NORMAL" : "OFF"
        configuration.prepareDatabase { db in
            try db.execute(sql: "PRAGMA synchronous = \(synchronous)")
            // The writer reads every verified token (`checkCode`): a 32 MiB page cache (SQLite's default is 2 MiB)
            // keeps the hot pages of a few hundred thousand tokens without a system call per page. Readers keep
            // the default.
            if !db.configuration.readonly { try db.execute(sql: "PRAGMA cache_size = -32768") }
            // Each group-committed write runs in its own savepoint, whose sub-journal SQLite spills to a temporary
            // file past 64 KiB: a file write per job for nothing (it is discarded at commit). Keep it in memory.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
        }
        self.pool = try DatabasePool(path: path, configuration: configuration)
        // GRDB sets `synchronous = NORMAL` on the writer when it turns WAL mode on, after `prepareDatabase`: set the
        // writer's mode again now that the pool is set up (`writerSynchronous()` reads it back; a test holds it).
        try pool.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
        self.path = path
        self.storage = StorageHealth(directory: (path as NSString).deletingLastPathComponent)
        self.fileIdentity = Self.identity(of: path)
        self.groupCommit = try GroupCommit(
            pool: pool, head: auditHead, walPath: durability == .full ? path + "-wal" : nil)
        self.chain = chain
        try Schema.migrator.migrate(pool)
    }

    /// The writer connection's `PRAGMA synchronous` (1 = NORMAL: commits write the WAL and the syncer syncs it; 0 =
    /// OFF for bulk loading), read on the connection that commits.
    public func writerSynchronous() async throws -> Int {
        try await write { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// WAL syncs done so far by the group commit (0 when bulk loading).
    public var walSyncs: Int { groupCommit.syncCount }
    /// Write transactions committed so far (each carries one or more writes).
    public var commits: Int { groupCommit.commitCount }

    /// Runs `work` in a write transaction; concurrent writes share one commit (`GroupCommit`).
    ///
    /// A full disk (`SQLITE_FULL`) is `storageFull`: noted in `storage` (so `/ready` answers 503 until space returns),
    /// counted, and logged once per episode with the file; nothing of the write was committed.
    func write<T: Sendable>(savepoint: Bool = true, _ work: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        do {
            let value = try await groupCommit.write(savepoint: savepoint, work)
            storage.noteWritten()
            return value
        } catch let error as DatabaseError where error.resultCode == .SQLITE_FULL {
            storage.noteFull(path: path)
            throw IchigoError(.storageFull, detail: "the disk holding \(path) is full")
        }
    }

    /// Whether writes fail for lack of space, watched by `/ready` (`schemaStatus`).
    public let storage: StorageHealth

    public func schemaStatus() async throws -> SchemaStatus {
        guard let now = Self.identity(of: path), now == fileIdentity else {
            throw IchigoError(.corruptData, detail: "the database file \(path) was removed or replaced")
        }
        // After a write failed for lack of space: a probe write on the same file system says whether space returned.
        try storage.checkSpace()
        let migrator = Schema.migrator
        let applied = try await pool.read { db in try migrator.appliedIdentifiers(db) }
        return SchemaStatus(applied: applied.sorted(), known: migrator.migrations)
    }

    /// Closes the database.
    public func close() throws {
        groupCommit.stop()
        try pool.close()
    }

    // MARK: Contracts and users

    public func insert(_ contract: Contract, audit: AuditEvent) async throws {
        try await write { db in
            try Self.insertContract(contract, in: db)
            try self.appendAudit(audit, in: db)
        }
    }

    static func insertContract(_ contract: Contract, in db: Database) throws {
        try db.execute(
            sql: """
                INSERT INTO contracts (id, kind, name, usage_mode, pin_hash, created_at)
                VALUES (?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                contract.id.rawValue, contract.kind.rawValue, contract.name, contract.usageMode.rawValue,
                contract.pinHash?.encoded, contract.createdAt.millis,
            ])
    }

    public func insert(_ contract: Contract, with user: User, audit: [AuditEvent]) async throws {
        try await write { db in
            try Self.insertContract(contract, in: db)
            try Self.insertUser(user, in: db)
            for event in audit { try self.appendAudit(event, in: db) }
        }
    }

    public func contract(_ id: ContractID) async throws -> Contract? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM contracts WHERE id = ?", arguments: [id.rawValue])
                .map(Contract.init(stored:))
        }
    }

    public func insert(_ user: User, audit: AuditEvent) async throws {
        try await write { db in
            try Self.insertUser(user, in: db)
            try self.appendAudit(audit, in: db)
        }
    }

    static func insertUser(_ user: User, in db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM contracts WHERE id = ?", arguments: [user.contractID.rawValue]) != nil
        else { throw IchigoError(.contractNotFound) }
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE login_id = ?", arguments: [user.loginID.rawValue]) == nil
        else { throw IchigoError(.loginIDTaken) }
        try db.execute(
            sql: """
                INSERT INTO users (id, contract_id, login_id, name, role, email, login_password_hash,
                    confirmation_password_hash, token_id, created_at, permissions)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                user.id.rawValue, user.contractID.rawValue, user.loginID.rawValue, user.name, user.role.rawValue,
                user.email, user.loginPasswordHash?.encoded, user.confirmationPasswordHash?.encoded,
                user.tokenID?.rawValue, user.createdAt.millis, try encodePermissions(user.permissions),
            ])
    }

    public func user(_ id: UserID) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE id = ?", arguments: [id.rawValue]).map(
                User.init(stored:))
        }
    }

    public func user(loginID: LoginID) async throws -> User? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM users WHERE login_id = ?", arguments: [loginID.rawValue])
                .map(User.init(stored:))
        }
    }

    public func users(of contract: ContractID) async throws -> [User] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM users WHERE contract_id = ? ORDER BY login_id", arguments: [contract.rawValue]
            ).map(User.init(stored:))
        }
    }

    public func users(holding token: TokenID) async throws -> [User] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM users WHERE token_id = ? ORDER BY login_id", arguments: [token.rawValue]
            )
            .map(User.init(stored:))
        }
    }

    public func userCount() async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM users") ?? 0 }
    }

    public func recordPasswordFailure(
        of user: UserID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        try await write { db in
            guard let row = try Row.fetchOne(
                db,
                sql: """
                    UPDATE users SET password_failures = password_failures + 1,
                        login_locked_at = CASE WHEN login_locked_at IS NULL AND password_failures + 1 >= ? THEN ?
                                               ELSE login_locked_at END
                    WHERE id = ?
                    RETURNING password_failures, login_locked_at
                    """,
                arguments: [threshold, now.millis, user.rawValue])
            else { return nil }
            let count: Int = row["password_failures"]
            let lockedNow = (row["login_locked_at"] as Int64?) == now.millis && count == threshold
            try self.appendAudit(audit, in: db)
            if lockedNow {
                try self.appendAudit(lockAudit, in: db)
                for mail in lockMails { try Self.enqueue(mail, in: db) }
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    public func resetPasswordFailures(of user: UserID) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE users SET password_failures = 0 WHERE id = ? AND password_failures <> 0 AND login_locked_at IS NULL",
                arguments: [user.rawValue])
        }
    }

    public func unlockLogin(of user: UserID, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE users SET password_failures = 0, login_locked_at = NULL WHERE id = ? AND login_locked_at IS NOT NULL",
                arguments: [user.rawValue])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    // MARK: Tokens

    public func userWithToken(_ id: UserID) async throws -> (user: User, token: Token?)? {
        // The verification path's one read: cached statements, no SQL compiled per request. (Not GRDB's
        // synchronous read on the caller's thread: with every cooperative thread waiting for a reader while the
        // readers wait for a cooperative thread to hand them back, the server deadlocked under load.)
        try await pool.read { db in
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(sql: "SELECT * FROM users WHERE id = ?"), arguments: [id.rawValue])
            else {
                return nil
            }
            let user = try User(stored: row)
            guard let tokenID = user.tokenID else { return (user, nil) }
            let token = try Row.fetchOne(
                db.cachedStatement(sql: "SELECT * FROM tokens WHERE id = ?"), arguments: [tokenID.rawValue]
            ).map(Token.init(stored:))
            return (user, token)
        }
    }

    public func insert(_ token: Token, assigningTo users: [UserID], audit: AuditEvent) async throws {
        try await write { db in
            try self.insertToken(token, assigningTo: users, in: db)
            try self.appendAudit(audit, in: db)
        }
    }

    /// Inserts a token and assigns it, inside the caller's transaction.
    func insertToken(_ token: Token, assigningTo users: [UserID], in db: Database) throws {
        guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tokens WHERE serial = ?", arguments: [token.serial.rawValue]) == nil
        else { throw IchigoError(.serialTaken) }
        for user in users { try Self.checkUserIsFree(user, in: db) }
        try db.execute(
            sql: """
                INSERT INTO tokens (id, serial, kind, state, sealed_seed, algorithm, digits, period, last_step,
                    failure_count, drift_steps, created_at, updated_at, last_used_at, contract_id, ocra_suite,
                    ocra_last_step, seed_key_version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """,
            arguments: [
                token.id.rawValue, token.serial.rawValue, token.kind.rawValue, token.state.rawValue,
                Data(token.sealedSeed.combined), token.parameters.algorithm.rawValue, token.parameters.digits,
                token.parameters.period, token.lastAcceptedStep, token.failureCount, token.driftSteps,
                token.createdAt.millis, token.updatedAt.millis, token.lastUsedAt?.millis, token.contractID?.rawValue,
                token.ocraSuite, token.lastSignatureStep, token.sealedSeed.keyVersion,
            ])
        for user in users {
            try db.execute(sql: "UPDATE users SET token_id = ? WHERE id = ?", arguments: [token.id.rawValue, user.rawValue])
        }
    }

    /// Throws unless `user` exists and holds no token that is still in use or being issued.
    private static func checkUserIsFree(_ user: UserID, in db: Database) throws {
        guard
            let row = try Row.fetchOne(
                db,
                sql: "SELECT t.state AS state FROM users u LEFT JOIN tokens t ON t.id = u.token_id WHERE u.id = ?",
                arguments: [user.rawValue])
        else { throw IchigoError(.userNotFound) }
        if let raw: String = row["state"], let state = TokenState(rawValue: raw), state.occupiesUser {
            throw IchigoError(.tokenAlreadyAssigned)
        }
    }

    public func token(_ id: TokenID) async throws -> Token? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE id = ?", arguments: [id.rawValue]).map(
                Token.init(stored:))
        }
    }

    public func token(serial: SerialNumber) async throws -> Token? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM tokens WHERE serial = ?", arguments: [serial.rawValue])
                .map(Token.init(stored:))
        }
    }

    public func assign(_ token: TokenID, to user: UserID, audit: AuditEvent) async throws {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tokens WHERE id = ?", arguments: [token.rawValue]) != nil
            else { throw IchigoError(.tokenNotFound) }
            let current = try String.fetchOne(
                db, sql: "SELECT token_id FROM users WHERE id = ?", arguments: [user.rawValue])
            if current == token.rawValue { return }
            try Self.checkUserIsFree(user, in: db)
            try db.execute(
                sql: "UPDATE users SET token_id = ? WHERE id = ?", arguments: [token.rawValue, user.rawValue])
            try self.appendAudit(audit, in: db)
        }
    }

    public func transition(
        _ token: TokenID, from state: TokenState, to newState: TokenState, resetFailures: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE tokens SET state = ?, updated_at = ?,
                        failure_count = CASE WHEN ? THEN 0 ELSE failure_count END,
                        locked_from = CASE WHEN ? = 'locked' THEN state ELSE NULL END
                    WHERE id = ? AND state = ?
                    """,
                arguments: [
                    newState.rawValue, now.millis, resetFailures, newState.rawValue, token.rawValue, state.rawValue,
                ])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func recordAcceptance(
        ofStep step: Int64, driftSteps: Int, for token: TokenID, in state: TokenState,
        at now: Date, audit: AuditEvent, mail: OutgoingMail?
    ) async throws -> Bool {
        try await write { db in
            guard try Self.writeAcceptance(of: step, driftSteps: driftSteps, for: token, in: state, at: now, db) else {
                return false
            }
            try self.appendAudit(audit, in: db)
            if let mail { try Self.enqueue(mail, in: db) }
            return true
        }
    }

    public func recordFailure(
        for token: TokenID, lockingAt threshold: Int, at now: Date, audit: AuditEvent, lockAudit: AuditEvent,
        lockMails: [OutgoingMail]
    ) async throws -> FailureOutcome? {
        try await write { db in
            // Counted and locked in one statement: the count is exact under any concurrency.
            guard
                let row = try Row.fetchOne(
                    db.cachedStatement(
                        sql: """
                            UPDATE tokens SET failure_count = failure_count + 1, updated_at = ?,
                                state = CASE WHEN failure_count + 1 >= ? THEN 'locked' ELSE state END,
                                locked_from = CASE WHEN failure_count + 1 >= ? THEN state ELSE locked_from END
                            WHERE id = ? AND state IN ('issued', 'active')
                            RETURNING failure_count, state
                            """),
                    arguments: [now.millis, threshold, threshold, token.rawValue])
            else { return nil }
            let count: Int = row["failure_count"]
            let lockedNow = (row["state"] as String) == TokenState.locked.rawValue
            try self.appendAudit(audit, in: db)
            if lockedNow {
                try self.appendAudit(lockAudit, in: db)
                for mail in lockMails { try Self.enqueue(mail, in: db) }
            }
            return FailureOutcome(failureCount: count, lockedNow: lockedNow)
        }
    }

    /// The one write of an accepted code (`CodeRule.judge` decided it; `Token.accepting` is the same change in
    /// memory), on every path: a conditional update, so the accept-once rule holds in the database itself — only a
    /// step later than the last accepted one, in the state the caller read, moves the token. Returns whether it did.
    /// An active token stays active: `state` is set only when it changes, so the (kind, state) index is not rewritten
    /// (one page fewer to write and sync per verification).
    static func writeAcceptance(
        of step: Int64, driftSteps: Int, for token: TokenID, in state: TokenState, at now: Date, _ db: Database
    ) throws -> Bool {
        try db.cachedStatement(
            sql: state == .active
                ? """
                UPDATE tokens SET last_step = ?, failure_count = 0, drift_steps = ?,
                    last_used_at = ?, updated_at = ?
                WHERE id = ? AND state = ? AND last_step < ?
                """
                : """
                UPDATE tokens SET last_step = ?, failure_count = 0, drift_steps = ?, state = 'active',
                    last_used_at = ?, updated_at = ?
                WHERE id = ? AND state = ? AND last_step < ?
                """
        ).execute(arguments: [step, driftSteps, now.millis, now.millis, token.rawValue, state.rawValue, step])
        return db.changesCount == 1
    }

    /// The hot path's one statement: the user's token, columns in the order `hotToken(from:)` reads them. A row
    /// with a NULL first column is a user without a token.
    static let checkCodeSQL = """
        SELECT t.id, t.serial, t.kind, t.state, t.sealed_seed, t.algorithm, t.digits, t.period, t.last_step,
            t.failure_count, t.drift_steps, t.contract_id, t.locked_from, t.created_at, t.updated_at, t.last_used_at,
            t.seed_key_version
        FROM users u LEFT JOIN tokens t ON t.id = u.token_id WHERE u.id = ?
        """

    /// A token from `checkCodeSQL`'s row, read by column position (no lookup by name per column).
    static func hotToken(from row: Row) throws -> Token {
        guard let serial = SerialNumber(rawValue: row[1]), let kind = TokenKind(rawValue: row[2]),
            let state = TokenState(rawValue: row[3]), let algorithm = OTPAlgorithm(rawValue: row[5])
        else { throw IchigoError(.corruptData, detail: "token row") }
        let sealed: Data = row[4]
        return Token(
            id: TokenID(rawValue: row[0]), serial: serial, kind: kind, state: state,
            sealedSeed: SealedSeed(combined: Array(sealed), keyVersion: row[16]),
            parameters: TOTPParameters(algorithm: algorithm, digits: row[6], period: row[7]),
            lastAcceptedStep: row[8], failureCount: row[9], driftSteps: row[10],
            contractID: (row[11] as String?).map(ContractID.init(rawValue:)),
            lockedFrom: (row[12] as String?).flatMap(TokenState.init(rawValue:)),
            createdAt: Date(millis: row[13]), updatedAt: Date(millis: row[14]),
            lastUsedAt: (row[15] as Int64?).map(Date.init(millis:)))
    }

    public func checkCode(
        for user: UserID, requiring state: TokenState, at now: Date,
        audit: @escaping @Sendable (_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision
    ) async throws -> CodeCheck {
        // Read, decide and write in one job on the writer: one trip to the writer thread, no read connection, and
        // no race to lose between reading the token and updating it. No savepoint of its own (see `write`): should
        // it throw, its batch is rolled back and run again job by job.
        try await write(savepoint: false) { db in
            guard let row = try Row.fetchOne(db.cachedStatement(sql: Self.checkCodeSQL), arguments: [user.rawValue])
            else {
                try self.appendAudit(audit("user:\(user.rawValue)", "refused", .unknownUser), in: db)
                return .decided(.refused(.unknownUser), failureCount: 0)
            }
            guard (row[0] as String?) != nil else {
                try self.appendAudit(audit("user:\(user.rawValue)", "refused", .noToken), in: db)
                return .decided(.refused(.noToken), failureCount: 0)
            }
            let token = try Self.hotToken(from: row)
            let subject = token.serial.rawValue
            switch decide(token) {
            case .stepByStep:
                return .stepByStep
            case .refuse(let reason):
                try self.appendAudit(audit(subject, "refused", reason), in: db)
                return .decided(.refused(reason), failureCount: token.failureCount)
            case .accept(let step, let drift):
                // Read in this transaction, so the token cannot have moved meanwhile; checked all the same.
                guard try Self.writeAcceptance(of: step, driftSteps: drift, for: token.id, in: state, at: now, db)
                else {
                    try self.appendAudit(audit(subject, "refused", .replay), in: db)
                    return .decided(.refused(.replay), failureCount: token.failureCount)
                }
                try self.appendAudit(audit(subject, "accepted", nil), in: db)
                return .decided(.accepted(step: step, serial: token.serial), failureCount: 0)
            case .wrong:
                try db.cachedStatement(
                    sql: "UPDATE tokens SET failure_count = failure_count + 1, updated_at = ? WHERE id = ? AND state = ?"
                ).execute(arguments: [now.millis, token.id.rawValue, state.rawValue])
                try self.appendAudit(audit(subject, "refused", .invalidCode), in: db)
                return .decided(.refused(.invalidCode), failureCount: token.failureCount + 1)
            }
        }
    }

    // MARK: Audit trail

    public func append(_ event: AuditEvent) async throws {
        try await write { db in try self.appendAudit(event, in: db) }
    }

    public func auditRecords(from sequence: Int64, limit: Int) async throws -> [AuditRecord] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM audit_log WHERE seq >= ? ORDER BY seq LIMIT ?", arguments: [sequence, limit]
            ).map(AuditRecord.init(stored:))
        }
    }


    /// Chains `event` after the newest record, inside the caller's transaction.
    func appendAudit(_ event: AuditEvent, in db: Database) throws {
        let head = try Row.fetchOne(db.cachedStatement(sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"))
            .map { (sequence: $0["seq"] as Int64, hash: $0["hash"] as String) }
        let record = chain.record(for: event, after: head)
        try db.cachedStatement(
            sql: """
                INSERT INTO audit_log (seq, at, actor, action, subject, outcome, reason, prev_hash, hash, key_version)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        ).execute(
            arguments: [
                record.sequence, event.at.millis, event.actor, event.action, event.subject, event.outcome, event.reason,
                record.previousHash, record.hash, record.keyVersion,
            ])
    }

    // MARK: Row mapping



}

/// Permissions as stored: JSON with sorted keys.
func encodePermissions(_ permissions: Permissions) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    return String(decoding: try encoder.encode(permissions), as: UTF8.self)
}

