import Foundation
import GRDB
import Ichigo
import IchigoFiles
import IchigoSQLite
import Testing

/// Issue 9 defect 1: deleting the newest audit records left `audit verify` saying the trail was intact. The
/// signed head beside the database (advanced with each commit) and exported checkpoints make it visible.
@Suite("Audit trail: signed head and checkpoints")
struct AuditAnchorTests {
    struct Fixture {
        let directory: URL
        let key = MasterKey.random()
        var chain: AuditChain { AuditChain(masterKey: key) }
        var databasePath: String { directory.appendingPathComponent("ichigo.sqlite").path }
        var headPath: String { directory.appendingPathComponent("audit.head").path }

        init() throws {
            directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-anchor-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        }

        func open() throws -> (SQLiteRepository, AuditHeadFile) {
            let head = try AuditHeadFile(path: headPath, chain: chain)
            return (try SQLiteRepository(path: databasePath, chain: chain, auditHead: head), head)
        }

        func append(_ repository: SQLiteRepository, _ count: Int, from first: Int = 0) async throws {
            for index in first..<(first + count) {
                try await repository.append(
                    AuditEvent(at: Date(), actor: "test", action: "otp.verify", subject: "S\(index)", outcome: "accepted"))
            }
        }

        /// What an attacker with write access to the database file does.
        func deleteNewest(_ count: Int) throws {
            let queue = try DatabaseQueue(path: databasePath)
            try queue.write { db in
                // The append-only trigger is no obstacle to someone who can write the file.
                try db.execute(sql: "DROP TRIGGER audit_log_no_delete")
                try db.execute(
                    sql: "DELETE FROM audit_log WHERE seq > (SELECT MAX(seq) FROM audit_log) - ?", arguments: [count])
                try db.execute(
                    sql: "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END")
            }
            try queue.close()
        }

        func verify(_ repository: SQLiteRepository, anchors: [AuditHead]) async throws -> AuditVerifier.Report {
            try await AuditVerifier(repository: repository, chain: chain).verify(anchors: anchors)
        }
    }

    @Test func theHeadFollowsEveryCommit() async throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        let (repository, head) = try f.open()
        try await f.append(repository, 10)
        let stored = try #require(head.read())
        #expect(stored.sequence == 10)
        #expect(f.chain.isAuthentic(stored))
        let report = try await f.verify(repository, anchors: [stored])
        #expect(report.isIntact && report.anchorsChecked == 1)
        let mode = try FileManager.default.attributesOfItem(atPath: f.headPath)[.posixPermissions] as? Int
        #expect(mode == 0o600)
        try repository.close()
    }

    @Test(arguments: [1, 25])
    func deletingTheNewestRecordsIsFound(_ deleted: Int) async throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        var (repository, head) = try f.open()
        try await f.append(repository, 60)
        let checkpoint = try #require(head.read())
        try repository.close()
        try f.deleteNewest(deleted)
        (repository, head) = try f.open()
        // The chain alone cannot see it (the defect) …
        let chainOnly = try await f.verify(repository, anchors: [])
        #expect(chainOnly.isIntact && chainOnly.recordCount == 60 - deleted)
        // … the signed head can.
        let report = try await f.verify(repository, anchors: [try #require(head.read())])
        #expect(!report.isIntact)
        #expect(report.breaks.first?.problem.contains("deleted") == true, "\(report.breaks)")
        // Even when the server goes on appending afterwards: the head stops as evidence, an old checkpoint too.
        try await f.append(repository, 40, from: 100)
        #expect(head.problem != nil)
        #expect(head.read()?.sequence == 60, "the head moved past the truncation")
        let later = try await f.verify(repository, anchors: [try #require(head.read()), checkpoint])
        #expect(!later.isIntact, "appending after the truncation hid it")
        #expect(later.breaks.contains { $0.problem.contains("rewritten") }, "\(later.breaks)")
        try repository.close()
    }

    @Test func anOlderCheckpointStillAgreesAndAForgedOneIsRefused() async throws {
        let f = try Fixture()
        defer { try? FileManager.default.removeItem(at: f.directory) }
        let (repository, head) = try f.open()
        try await f.append(repository, 20)
        let early = try #require(head.read())
        try await f.append(repository, 20, from: 20)
        let report = try await f.verify(repository, anchors: [early, try #require(head.read())])
        #expect(report.isIntact && report.anchorsChecked == 2)
        var forged = early
        forged.sequence = 15
        #expect(!f.chain.isAuthentic(forged))
        let refused = try await f.verify(repository, anchors: [forged])
        #expect(refused.breaks.first?.problem.contains("signature") == true)
        // A head signed with another key is refused too.
        let other = AuditChain(masterKey: .random()).head(sequence: early.sequence, hash: early.hash, at: early.at)
        #expect(try await f.verify(repository, anchors: [other]).isIntact == false)
        // The text form round-trips.
        #expect(AuditHead(line: early.description) == early)
        try repository.close()
    }
}
