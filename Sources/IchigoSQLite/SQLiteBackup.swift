import Foundation
import GRDB
import Ichigo

#if canImport(Glibc)
    import Glibc
#endif

/// Online backups of the SQLite database, and the checks a copy passes before it may replace the database.
public enum SQLiteBackup {
    /// What a copy holds.
    public struct Summary: Sendable {
        /// The copy's size in bytes.
        public var bytes: Int
        /// The newest audit record in the copy (0: none).
        public var newestAuditSequence: Int64
        /// Its hash (the genesis hash for none).
        public var newestAuditHash: String
    }

    /// Copies the database at `source` to a new file `destination` with SQLite's online backup API (GRDB's
    /// `backup(to:)`), in one step inside one read transaction: a consistent snapshot of every transaction committed
    /// before the copy began, taken while the server goes on writing (in WAL mode readers and the writer do not wait
    /// for each other; the copy holds no lock that stops a commit). The copy is written to `destination.partial`,
    /// turned into a self-contained file (rollback journal, no `-wal` beside it), checked (`PRAGMA integrity_check`),
    /// synced, and only then renamed to `destination`.
    ///
    /// - Throws: `invalidInput` if `destination` exists or `source` does not; SQLite's errors otherwise.
    public static func copy(database source: String, to destination: String) throws -> Summary {
        let files = FileManager.default
        guard files.fileExists(atPath: source) else {
            throw IchigoError(.invalidInput, field: "data-dir", detail: "there is no database at \(source)")
        }
        guard !files.fileExists(atPath: destination) else {
            throw IchigoError(.invalidInput, field: "out", detail: "\(destination) exists; name a new file")
        }
        let partial = destination + ".partial"
        removeDatabaseFiles(at: partial)
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            let from = try DatabaseQueue(path: source, configuration: configuration)
            let to = try DatabaseQueue(path: partial, configuration: configuration)
            try from.backup(to: to)
            try from.close()
            try to.writeWithoutTransaction { db in
                // One file, readable without a -wal beside it; the server turns WAL on again when it opens it.
                try db.execute(sql: "PRAGMA journal_mode = DELETE")
            }
            let summary = try check(to, path: partial)
            try to.close()
            try sync(partial)
            guard rename(partial, destination) == 0 else {
                throw IchigoError(.corruptData, detail: "cannot rename \(partial) to \(destination)")
            }
            return summary
        } catch {
            removeDatabaseFiles(at: partial)
            throw error
        }
    }

    /// What the checks of a copy found.
    public struct Inspection: Sendable {
        /// Migrations applied in the copy.
        public var applied: [String]
        /// Migrations the copy has that this build does not know (a copy from a newer version).
        public var unknown: [String]
        public var summary: Summary
    }

    /// Opens the copy at `path` (a scratch file: it may be written to) and checks that SQLite finds it intact, that it
    /// is an Ichigo database, and which migrations it has.
    /// - Throws: `corruptData` with the reason when the file is damaged or not an Ichigo database.
    public static func inspect(_ path: String) throws -> Inspection {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        do {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            let summary = try check(queue, path: path)
            let (applied, unknown) = try queue.read { db -> ([String], [String]) in
                guard try db.tableExists("grdb_migrations"), try db.tableExists("audit_log") else {
                    throw IchigoError(.corruptData, detail: "\(path) is an SQLite database, but not Ichigo's")
                }
                let all = try String.fetchAll(db, sql: "SELECT identifier FROM grdb_migrations")
                let known = Set(Schema.migrator.migrations)
                return (all, all.filter { !known.contains($0) })
            }
            return Inspection(applied: applied, unknown: unknown, summary: summary)
        } catch let error as DatabaseError {
            throw IchigoError(
                .corruptData, detail: "\(path) is damaged, or not an SQLite database: \(error.message ?? "\(error)")")
        }
    }

    /// Makes the database at `path` one self-contained file (its WAL checkpointed into it and removed).
    public static func consolidate(_ path: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
        try queue.close()
    }

    /// Removes a database file and its `-wal`, `-shm` and `-journal`, if they exist.
    public static func removeDatabaseFiles(at path: String) {
        for suffix in ["", "-wal", "-shm", "-journal"] { unlink(path + suffix) }
    }

    /// `PRAGMA integrity_check`, then the newest audit record.
    private static func check(_ queue: DatabaseQueue, path: String) throws -> Summary {
        try queue.read { db in
            let problems = try String.fetchAll(db, sql: "PRAGMA integrity_check")
            guard problems == ["ok"] else {
                throw IchigoError(
                    .corruptData,
                    detail: "SQLite finds \(path) damaged: \(problems.prefix(3).joined(separator: "; "))")
            }
            let newest =
                try db.tableExists("audit_log")
                ? try Row.fetchOne(db, sql: "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1") : nil
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
            return Summary(
                bytes: size, newestAuditSequence: newest?["seq"] ?? 0,
                newestAuditHash: newest?["hash"] ?? AuditChain.genesis)
        }
    }

    private static func sync(_ path: String) throws {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { throw IchigoError(.corruptData, detail: "cannot open \(path)") }
        defer { close(descriptor) }
        guard fsync(descriptor) == 0 else { throw IchigoError(.corruptData, detail: "cannot sync \(path)") }
    }
}
