import Foundation
import Ichigo
import IchigoFiles
import IchigoPostgres
import IchigoSQLite
import Logging
import ServiceLifecycle

/// A database Ichigo opened: SQLite in the data directory (the default), or PostgreSQL.
public protocol OpenedStore: IchigoStore, AuditTrailReader {
    /// What must run while the store is used: PostgreSQL's connection pool; nothing for SQLite. The server runs them
    /// in its service group, the command line in a task group (`whileRunning`).
    var services: [any Service] { get }
    /// Brings the schema up to date, with `services` running; before anything else uses the store.
    func migrate() async throws
    /// Closes the database.
    func close() throws
}

extension SQLiteRepository: OpenedStore {
    public var services: [any Service] { [] }
    /// Nothing to do: SQLite migrates when it opens (one process owns the file).
    public func migrate() async throws {}
}

extension PostgresRepository: OpenedStore {
    public var services: [any Service] { [client] }
    /// The pool stops with the task that runs it.
    public func close() throws {}
}

extension OpenedStore {
    /// Runs `body` with the store's services running (PostgreSQL's pool), then stops them (the command line and
    /// tools; the server puts `services` in its service group instead).
    public func withServicesRunning<T>(_ body: () async throws -> T) async throws -> T {
        let services = self.services
        return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { group in
            for service in services { group.addTask { try await service.run() } }
            defer { group.cancelAll() }
            return try await body()
        }
    }

    /// `withServicesRunning`, with the schema migrated before `body`.
    public func whileRunning<T>(_ body: () async throws -> T) async throws -> T {
        try await withServicesRunning {
            try await migrate()
            return try await body()
        }
    }
}

/// Chooses and opens the database.
public enum Storage {
    /// Opens PostgreSQL when `url` (`--database`, `ICHIGO_DATABASE_URL`) is a `postgres://` or `postgresql://` URL,
    /// else SQLite in the data directory. Either way with a signed audit head file in the data directory: `audit.head`
    /// for SQLite, `audit-postgres.head` for PostgreSQL (one per instance, or shared by instances that share the
    /// directory).
    ///
    /// - Parameters:
    ///   - bulkLoad: SQLite without syncs and without the head file, for loading benchmark data only.
    ///   - statementTimeout: PostgreSQL's statement, lock and connect timeouts (the server's deadline); `nil`: none.
    public static func open(
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
