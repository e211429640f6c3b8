import Foundation
import GRDB
import Ichigo
import IchigoSQLite
import Testing

@Suite("SQLite online backup and the checks before a restore")
struct SQLiteBackupTests {
    let directory: URL
    let key = MasterKey.random()
    var chain: AuditChain { AuditChain(masterKey: key) }
    var databasePath: String { directory.appendingPathComponent("ichigo.sqlite").path }

    init() throws { directory = try scratchDirectory() }

    func event(_ index: Int) -> AuditEvent {
        AuditEvent(at: Date(), actor: "test", action: "otp.verify", subject: "S\(index)", outcome: "accepted")
    }

    @Test("a copy taken while writes go on is a consistent prefix of the trail, one file, and checks out")
    func copyUnderWrites() async throws {
        let repository = try SQLiteRepository(path: databasePath, chain: chain)
        for index in 0..<200 { try await repository.append(event(index)) }
        // Writers keep committing while the copy is taken.
        let writers = Task {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for worker in 0..<4 {
                    group.addTask {
                        for index in 0..<150 { try await repository.append(event(1000 * (worker + 1) + index)) }
                    }
                }
                try await group.waitForAll()
            }
        }
        try await Task.sleep(for: .milliseconds(20))
        let copy = directory.appendingPathComponent("copy.sqlite").path
        let summary = try SQLiteBackup.copy(database: databasePath, to: copy)
        try await writers.value
        #expect(summary.newestAuditSequence >= 200)
        #expect(!FileManager.default.fileExists(atPath: copy + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: copy + ".partial"))
        let inspection = try SQLiteBackup.inspect(copy)
        #expect(inspection.unknown.isEmpty && !inspection.applied.isEmpty)
        // The copy's trail verifies on its own and is exactly the live trail's first records.
        let restored = try SQLiteRepository(path: copy, chain: chain)
        let report = try await AuditVerifier(repository: restored, chain: chain).verify()
        #expect(report.isIntact)
        #expect(report.last?.sequence == summary.newestAuditSequence)
        let live = try await repository.auditRecords(from: 1, limit: Int(summary.newestAuditSequence))
        #expect(try await restored.auditRecords(from: 1, limit: 100_000) == live)
        #expect(try await repository.newestAuditSequence() == 800)
        try restored.close()
        try repository.close()
        // Never over an existing file.
        #expect(throws: IchigoError.self) { try SQLiteBackup.copy(database: databasePath, to: copy) }
    }

    @Test("a copy from a newer version (a migration this build does not know) is named as such")
    func unknownMigration() throws {
        let repository = try SQLiteRepository(path: databasePath, chain: chain)
        try repository.close()
        let queue = try DatabaseQueue(path: databasePath)
        try queue.write { db in
            try db.execute(sql: "INSERT INTO grdb_migrations (identifier) VALUES ('v99: from the future')")
        }
        try queue.close()
        #expect(try SQLiteBackup.inspect(databasePath).unknown == ["v99: from the future"])
    }

    @Test("a damaged file, a file that is no database and another application's database are refused")
    func refused() throws {
        let repository = try SQLiteRepository(path: databasePath, chain: chain)
        try repository.close()
        let copy = directory.appendingPathComponent("copy.sqlite").path
        _ = try SQLiteBackup.copy(database: databasePath, to: copy)
        let handle = try #require(FileHandle(forUpdatingAtPath: copy))
        try handle.seek(toOffset: 4096 + 8)
        handle.write(Data(repeating: 0xA5, count: 2000))
        try handle.close()
        #expect(throws: IchigoError.self) { try SQLiteBackup.inspect(copy) }
        let text = directory.appendingPathComponent("notes.txt").path
        try Data(String(repeating: "not a database\n", count: 500).utf8).write(to: URL(fileURLWithPath: text))
        #expect(throws: IchigoError.self) { try SQLiteBackup.inspect(text) }
        let other = directory.appendingPathComponent("other.sqlite").path
        let queue = try DatabaseQueue(path: other)
        try queue.write { db in try db.execute(sql: "CREATE TABLE notes (body TEXT)") }
        try queue.close()
        #expect(throws: IchigoError.self) { try SQLiteBackup.inspect(other) }
    }
}
