import Foundation
import Ichigo
import IchigoFiles
import IchigoPostgres
import IchigoSQLite
import IchigoWeb
import Logging

/// A database the command line opened: SQLite in the data directory (the default), or PostgreSQL.
protocol OpenedStore: IchigoStore, AuditTrailReader {
    /// Waits until the store can be used (its schema migrated); throws why not.
    func prepare() async throws
    /// Closes the database.
    func close() throws
}

extension SQLiteRepository: OpenedStore {
    /// Nothing to wait for: SQLite migrates when it opens.
    func prepare() async throws {}
}

extension PostgresRepository: OpenedStore {}

/// Chooses and opens the database.
enum Storage {
    /// Opens PostgreSQL when `url` (`--database`, `ICHIGO_DATABASE_URL`) is a `postgres://` or `postgresql://` URL,
    /// else SQLite in the data directory. Either way with a signed audit head file in the data directory: `audit.head`
    /// for SQLite, `audit-postgres.head` for PostgreSQL (one per instance, or shared by instances that share the
    /// directory).
    ///
    /// - Parameters:
    ///   - bulkLoad: SQLite without syncs and without the head file, for loading benchmark data only.
    ///   - statementTimeout: PostgreSQL's statement, lock and connect timeouts (the server's deadline); `nil`: none.
    static func open(
        url: String?, directory: DataDirectory, chain: AuditChain, logger: Logger, bulkLoad: Bool = false,
        statementTimeout: Duration? = nil
    ) throws -> (store: any OpenedStore, auditHead: AuditHeadFile?) {
        if let url, !url.isEmpty {
            guard PostgresLocation.isPostgresURL(url) else {
                throw IchigoError(
                    .invalidInput, field: "database",
                    detail: "--database takes a postgres:// URL; SQLite is the data directory's ichigo.sqlite")
            }
            // Its own name, so that a data directory that once held SQLite's `audit.head` does not raise a false alarm.
            let head = try AuditHeadFile(
                path: directory.url.appendingPathComponent("audit-postgres.head").path, chain: chain)
            return (
                try PostgresRepository(
                    url: url, chain: chain, auditHead: head, statementTimeout: statementTimeout, logger: logger), head
            )
        }
        if bulkLoad {
            return (try SQLiteRepository(path: directory.databasePath, chain: chain, durability: .bulkLoad), nil)
        }
        let head = try AuditHeadFile(path: directory.url.appendingPathComponent("audit.head").path, chain: chain)
        return (try SQLiteRepository(path: directory.databasePath, chain: chain, auditHead: head), head)
    }
}

extension Runtime {
    /// Where the data is, for messages: the SQLite file, or the PostgreSQL URL without its password.
    var databaseLocation: String {
        (repository as? PostgresRepository)?.location ?? directory.databasePath
    }
}

extension Runtime {
    /// The audit stream to the SIEM (`audit.stream`), if configured: it tails this store from the cursor file
    /// `audit-stream.cursor` in the data directory. On SQLite it streams no further than the signed head, which moves
    /// only once a commit is on disk.
    func auditStream(settings: AuditStreamSettings?) throws -> AuditStream? {
        guard let settings else { return nil }
        let sink: any AuditSink
        switch settings.destination {
        case .syslog: sink = try SyslogAuditSink(settings: settings)
        case .file(let path): sink = JSONLinesAuditSink(path: path)
        }
        let synced = repository is SQLiteRepository ? auditHead.map(SyncedAuditHead.init(file:)) : nil
        return AuditStream(
            source: repository, sink: sink,
            cursor: AuditStreamCursorFile(path: directory.url.appendingPathComponent("audit-stream.cursor").path),
            syncedHead: synced, logger: logger)
    }
}
