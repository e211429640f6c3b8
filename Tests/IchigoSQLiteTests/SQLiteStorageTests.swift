import Foundation
import GRDB
import Ichigo
@testable import IchigoSQLite
import IchigoTesting
import OTP
import Testing

@Suite("SQLite storage")
struct SQLiteStorageTests {
    /// A database file with some history in its audit trail.
    func populatedDatabase() async throws -> (path: String, key: MasterKey, cleanup: URL) {
        let directory = try scratchDirectory()
        let path = directory.appendingPathComponent("ichigo.sqlite").path
        let key = MasterKey.random()
        let repository = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        let fixture = ContractFixture(repository: repository, masterKey: key)
        let (user, _, totp) = try await fixture.activeCustomer("tamper")
        for minute in 0..<5 {
            let now = ContractFixture.start + Double(60 * minute)
            _ = try await fixture.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)
        }
        try repository.close()
        return (path, key, directory)
    }

    func report(_ path: String, _ key: MasterKey) async throws -> AuditVerifier.Report {
        let repository = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        defer { try? repository.close() }
        return try await AuditVerifier(repository: repository, chain: AuditChain(masterKey: key)).verify()
    }

    /// Edits the database as an attacker with file access would: around the append-only triggers.
    func tamper(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.write { db in
            try db.execute(sql: "DROP TRIGGER audit_log_no_update; DROP TRIGGER audit_log_no_delete;")
            try db.execute(sql: sql)
        }
        try queue.close()
    }

    /// A row whose value is of the wrong kind (SQLite lets any column hold any kind) reads as `storage.corrupt`, not
    /// a crash of the server: the shared row mapping (`StoredRow`) checks each value's kind.
    @Test func aValueOfTheWrongKindIsCorruptDataNotACrash() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ichigo.sqlite").path
        let key = MasterKey.random()
        var repository = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        let fixture = ContractFixture(repository: repository, masterKey: key)
        let (user, token, _) = try await fixture.activeCustomer("kinds")
        #expect(try await repository.token(token.id)?.parameters.digits == 6)
        try repository.close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "UPDATE tokens SET digits = 'six' WHERE id = ?", arguments: [token.id.rawValue])
            try db.execute(sql: "UPDATE users SET name = x'00ff' WHERE id = ?", arguments: [user.id.rawValue])
        }
        try queue.close()
        repository = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        defer { try? repository.close() }
        let tokenError = await #expect(throws: IchigoError.self) { _ = try await repository.token(token.id) }
        #expect(tokenError?.code == .corruptData && tokenError?.detail?.contains("digits") == true)
        let userError = await #expect(throws: IchigoError.self) { _ = try await repository.user(user.id) }
        #expect(userError?.code == .corruptData && userError?.detail?.contains("name") == true)
    }

    /// Every write is synced before its caller hears of it: the writer commits with `synchronous = NORMAL` (GRDB's
    /// WAL default syncs only at checkpoints) and the group commit's syncer `fdatasync`s the WAL before answering —
    /// one sync at least per write answered one after another. Bulk loading alone runs unsynced.
    @Test func everyAnsweredWriteIsSynced() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = MasterKey.random()
        let serving = try SQLiteRepository(
            path: directory.appendingPathComponent("a.sqlite").path, chain: AuditChain(masterKey: key))
        #expect(try await serving.writerSynchronous() == 1)
        let before = serving.walSyncs
        for index in 0..<5 {
            try await serving.append(
                AuditEvent(at: Date(), actor: "t", action: "test.sync", subject: "\(index)", outcome: "ok", reason: nil))
            #expect(serving.walSyncs >= before + index + 1, "write \(index) was answered before a sync")
        }
        try serving.close()
        let loading = try SQLiteRepository(
            path: directory.appendingPathComponent("b.sqlite").path, chain: AuditChain(masterKey: key),
            durability: .bulkLoad)
        #expect(try await loading.writerSynchronous() == 0)
        try await loading.append(AuditEvent(at: Date(), actor: "t", action: "test.sync", subject: "x", outcome: "ok", reason: nil))
        #expect(loading.walSyncs == 0)
        try loading.close()
    }

    /// Writes that arrive while the syncer syncs earlier commits join one transaction, committed when the syncer is
    /// idle: under a burst of concurrent writes there is at most one commit per sync (plus the one being synced), far
    /// fewer commits than writes, and every write is in the trail, intact, after the file is reopened.
    @Test func concurrentWritesGatherWhileTheSyncerSyncs() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = MasterKey.random()
        let path = directory.appendingPathComponent("g.sqlite").path
        let repository = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        let writes = 200
        try await withThrowingTaskGroup(of: Void.self) { group in
            for index in 0..<writes {
                group.addTask {
                    try await repository.append(
                        AuditEvent(
                            at: Date(), actor: "t", action: "test.gather", subject: "\(index)", outcome: "ok",
                            reason: nil))
                }
            }
            try await group.waitForAll()
        }
        #expect(repository.commits <= repository.walSyncs + 1, "\(repository.commits) commits, \(repository.walSyncs) syncs")
        #expect(repository.commits < writes)
        try repository.close()
        let reopened = try SQLiteRepository(path: path, chain: AuditChain(masterKey: key))
        let records = try await reopened.auditRecords(matching: AuditFilter(action: "test.gather"), limit: 1000)
        #expect(Set(records.map(\.event.subject)) == Set((0..<writes).map { "\($0)" }))
        try reopened.close()
        #expect(try await report(path, key).isIntact)
    }

    @Test func intactTrailVerifies() async throws {
        let db = try await populatedDatabase()
        defer { try? FileManager.default.removeItem(at: db.cleanup) }
        let result = try await report(db.path, db.key)
        #expect(result.isIntact && result.recordCount >= 8)
    }

    @Test(arguments: [
        "UPDATE audit_log SET outcome = 'refused' WHERE seq = 5",
        "UPDATE audit_log SET at = at + 1000 WHERE seq = 3",
        "DELETE FROM audit_log WHERE seq = 4",
        "UPDATE audit_log SET reason = NULL WHERE seq = 1",
    ])
    func editedOrDeletedRowsAreDetected(sql: String) async throws {
        let db = try await populatedDatabase()
        defer { try? FileManager.default.removeItem(at: db.cleanup) }
        try tamper(db.path, sql)
        let result = try await report(db.path, db.key)
        #expect(!result.isIntact, "\(sql) went unnoticed")
    }

    @Test func theAuditTrailRefusesUpdatesThroughSQL() async throws {
        let db = try await populatedDatabase()
        defer { try? FileManager.default.removeItem(at: db.cleanup) }
        let queue = try DatabaseQueue(path: db.path)
        #expect(throws: (any Error).self) { try queue.write { try $0.execute(sql: "DELETE FROM audit_log") } }
        try queue.close()
    }

    @Test func seedsAreNotStoredInClearAndTheFileReopens() async throws {
        let db = try await populatedDatabase()
        defer { try? FileManager.default.removeItem(at: db.cleanup) }
        let queue = try DatabaseQueue(path: db.path)
        let mode = try await queue.read { try String.fetchOne($0, sql: "PRAGMA journal_mode") }
        #expect(mode == "wal")
        let sealedLength = try await queue.read { try Int.fetchOne($0, sql: "SELECT length(sealed_seed) FROM tokens") }
        #expect(sealedLength == 12 + 20 + 16)  // nonce + 20-byte seed + tag
        try queue.close()
        // A wrong master key cannot open the seeds.
        let repository = try SQLiteRepository(path: db.path, chain: AuditChain(masterKey: db.key))
        let serial = try #require(try await anySerial(db.path))
        let token = try #require(try await repository.token(serial: serial))
        #expect(throws: IchigoError.self) { try SeedVault(masterKey: .random()).open(token.sealedSeed, for: token.id) }
        try repository.close()
    }

    func anySerial(_ path: String) async throws -> SerialNumber? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try await queue.read { try String.fetchOne($0, sql: "SELECT serial FROM tokens") }.flatMap(
            SerialNumber.init(rawValue:))
    }

    @Test func groupCommitIsolatesFailuresAndKeepsTheChain() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = MasterKey.random()
        let repository = try SQLiteRepository(path: directory.appendingPathComponent("g.sqlite").path, chain: AuditChain(masterKey: key))
        let fixture = ContractFixture(repository: repository, masterKey: key)
        // 40 concurrent creations; 20 of them fight over one login ID. They share commits, yet each stands alone.
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<40 {
                group.addTask {
                    (try? await fixture.customer(index.isMultiple(of: 2) ? "same" : "user\(index)")) != nil
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        #expect(outcomes.filter { $0 }.count == 21)
        #expect(try await repository.userCount() == 21)
        let report = try await AuditVerifier(repository: repository, chain: AuditChain(masterKey: key)).verify()
        #expect(report.isIntact)
        // Each creation wrote its contract and user together, or nothing: no orphan contract, no stray record.
        #expect(report.recordCount == 42)
        try repository.close()
    }

    /// A job without a savepoint (a verification's) that fails after writing: its batch is rolled back and run again
    /// job by job, so its own writes are gone and every other job of the batch is committed, with an intact chain.
    @Test func aFailingJobWithoutSavepointLosesNoOtherWrite() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = MasterKey.random()
        let repository = try SQLiteRepository(
            path: directory.appendingPathComponent("s.sqlite").path, chain: AuditChain(masterKey: key))
        struct Planned: Error {}
        let outcomes = await withTaskGroup(of: (Int, Bool).self) { group in
            for index in 0..<60 {
                group.addTask {
                    let failing = index % 10 == 3
                    let event = AuditEvent(
                        at: ContractFixture.start, actor: "t", action: "test.write", subject: "job \(index)",
                        outcome: "done", reason: nil)
                    let written: Void? = try? await repository.write(savepoint: index % 2 == 1) { db in
                        try repository.appendAudit(event, in: db)
                        if failing { throw Planned() }
                    }
                    return (index, written != nil)
                }
            }
            return await group.reduce(into: [Int: Bool]()) { $0[$1.0] = $1.1 }
        }
        #expect(outcomes.filter { $0.value }.count == 54)
        let records = try await repository.auditRecords(from: 0, limit: 100)
        let subjects = Set(records.map(\.event.subject))
        #expect(subjects == Set((0..<60).filter { $0 % 10 != 3 }.map { "job \($0)" }))
        let report = try await AuditVerifier(repository: repository, chain: AuditChain(masterKey: key)).verify()
        #expect(report.isIntact && report.recordCount == 54)
        try repository.close()
    }

    /// A database made before v8 (audit `seq BIGINT PRIMARY KEY`) keeps every record, its chain and its guards.
    @Test func theV8MigrationCarriesTheAuditTrailOver() async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("old.sqlite").path
        let key = MasterKey.random()
        let chain = AuditChain(masterKey: key)
        // Records written into the v7 table, chained as the server chains them.
        let queue = try DatabaseQueue(path: path)
        try Schema.migrator.migrate(queue, upTo: "v7: transaction signing (OCRA suites, signature replay state, challenges)")
        try await queue.write { db in
            var head: (sequence: Int64, hash: String)?
            for index in 0..<25 {
                let event = AuditEvent(
                    at: ContractFixture.start + Double(index), actor: "t", action: "test.old", subject: "s\(index % 4)",
                    outcome: "done", reason: nil)
                let record = chain.record(for: event, after: head)
                try db.execute(
                    sql: """
                        INSERT INTO audit_log (seq, at, actor, action, subject, outcome, reason, prev_hash, hash)
                        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                        """,
                    arguments: [
                        record.sequence, event.at.millis, event.actor, event.action, event.subject, event.outcome,
                        event.reason, record.previousHash, record.hash,
                    ])
                head = (record.sequence, record.hash)
            }
        }
        try queue.close()
        let repository = try SQLiteRepository(path: path, chain: chain)
        let report = try await AuditVerifier(repository: repository, chain: chain).verify()
        #expect(report.isIntact && report.recordCount == 25)
        try await repository.append(
            AuditEvent(at: ContractFixture.start + 100, actor: "t", action: "test.new", subject: "s0", outcome: "done"))
        #expect(try await AuditVerifier(repository: repository, chain: chain).verify().recordCount == 26)
        try repository.close()
        let reopened = try DatabaseQueue(path: path)
        defer { try? reopened.close() }
        try await reopened.read { db in
            // `seq` is the rowid now (no separate unique index, nor the two unused ones), and the guards are back.
            let indexes = try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_log' ORDER BY name")
            #expect(indexes == [])
            #expect(try Int.fetchOne(db, sql: "SELECT count(*) FROM audit_log WHERE rowid = seq") == 26)
            #expect(try String.fetchAll(db, sql: "SELECT subject FROM audit_log WHERE subject = 's1'").count == 6)
        }
        #expect(throws: (any Error).self) {
            try reopened.write { try $0.execute(sql: "UPDATE audit_log SET outcome = 'x' WHERE seq = 1") }
        }
        #expect(throws: (any Error).self) {
            try reopened.write { try $0.execute(sql: "DELETE FROM audit_log WHERE seq = 1") }
        }
    }
}
