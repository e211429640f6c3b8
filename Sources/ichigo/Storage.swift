import Foundation
import Ichigo
import IchigoPostgres
import IchigoSQLite
import IchigoWeb
import Logging

/// A database the command line opened: SQLite in the data directory (the default), or PostgreSQL.
protocol OpenedStore: IchigoStore {
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
    /// else SQLite in the data directory with its signed audit head file `audit.head`. (On PostgreSQL the chain's head
    /// is a row in the database; a signed head kept outside it, per instance, is still to come.)
    ///
    /// - Parameter bulkLoad: SQLite without syncs and without the head file, for loading benchmark data only.
    static func open(
        url: String?, directory: DataDirectory, chain: AuditChain, logger: Logger, bulkLoad: Bool = false
    ) throws -> (store: any OpenedStore, auditHead: AuditHeadFile?) {
        if let url, !url.isEmpty {
            guard PostgresLocation.isPostgresURL(url) else {
                throw IchigoError(
                    .invalidInput, field: "database",
                    detail: "--database takes a postgres:// URL; SQLite is the data directory's ichigo.sqlite")
            }
            return (try PostgresRepository(url: url, chain: chain, logger: logger), nil)
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
