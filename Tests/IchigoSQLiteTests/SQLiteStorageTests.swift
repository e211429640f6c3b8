import Foundation
import GRDB
import Ichigo
import IchigoSQLite
import IchigoTesting
import OTP
import Testing

@Suite("SQLite storage")
struct SQLiteStorageTests {
    /// A database file with some history in its audit trail.
    func populatedDatabase() async throws -> (path: String, key: MasterKey, cleanup: URL) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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

    /// Every write is synced before its caller hears of it: the writer commits with `synchronous = NORMAL` (GRDB's
    /// WAL default syncs only at checkpoints) and the group commit's syncer `fdatasync`s the WAL before answering —
    /// one sync at least per write answered one after another. Bulk loading alone runs unsynced.
    @Test func everyAnsweredWriteIsSynced() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
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
}
