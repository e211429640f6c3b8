import Foundation
import Ichigo
import IchigoFiles
import IchigoPostgres
import Logging
import PostgresNIO
import Testing

/// The PostgreSQL server the tests use: `ICHIGO_TEST_POSTGRES_URL` (`scripts/with-postgres` starts one and sets it).
/// Every test gets a database of its own, created for it and dropped after, so tests are independent and run in
/// parallel.
enum TestDatabase {
    static let url = ProcessInfo.processInfo.environment["ICHIGO_TEST_POSTGRES_URL"]
    static var isConfigured: Bool { url != nil }
    static let notConfigured: Comment =
        "ICHIGO_TEST_POSTGRES_URL is not set — run `scripts/with-postgres swift test` (scripts/test does)"

    /// Connections per test repository: 30 tests at once stay under the test server's `max_connections`.
    static let connectionsPerPool = 6

    /// Runs `body` with the URL of a new, empty database, dropped afterwards.
    static func withFreshDatabase<T: Sendable>(_ body: (String) async throws -> T) async throws -> T {
        guard let url else { throw IchigoError(.invalidInput, detail: "ICHIGO_TEST_POSTGRES_URL is not set") }
        // An identifier cannot be a bound parameter; this one is made of hex digits only.
        let name = "ichigo_t_" + UUID().uuidString.lowercased().filter(\.isHexDigit)
        try await withClient(url: url) { admin in
            _ = try await admin.query("CREATE DATABASE \(unescaped: name)")
        }
        var components = URLComponents(string: url)!
        components.path = "/" + name
        do {
            let result = try await body(components.string!)
            try await drop(name, url: url)
            return result
        } catch {
            try? await drop(name, url: url)
            throw error
        }
    }

    private static func drop(_ name: String, url: String) async throws {
        try await withClient(url: url) { admin in
            _ = try await admin.query("DROP DATABASE \(unescaped: name) WITH (FORCE)")
        }
    }

    /// Runs `body` with a running client for `url`, closed afterwards.
    static func withClient<T: Sendable>(
        url: String, connections: Int = 2, _ body: (PostgresClient) async throws -> T
    ) async throws -> T {
        var location = try PostgresLocation(url: url)
        location.configuration.options.maximumConnections = connections
        let client = PostgresClient(configuration: location.configuration)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            return try await body(client)
        }
    }

    /// Runs `body` with a repository (one instance: its own connection pool) on the database at `url`, migrated.
    static func withRepository<T: Sendable>(
        url: String, masterKey: MasterKey, auditHead: AuditHeadFile? = nil,
        _ body: (PostgresRepository) async throws -> T
    ) async throws -> T {
        try await withRepository(url: url, keyring: Keyring(masterKey), auditHead: auditHead, body)
    }

    /// `withRepository` whose audit chain signs with `keyring`'s versions.
    static func withRepository<T: Sendable>(
        url: String, keyring: Keyring, auditHead: AuditHeadFile? = nil,
        _ body: (PostgresRepository) async throws -> T
    ) async throws -> T {
        try await withClient(url: url, connections: connectionsPerPool) { client in
            let repository = PostgresRepository(
                client: client, chain: AuditChain(keyring: keyring), auditHead: auditHead,
                logger: Logger(label: "ichigo.test"))
            try await repository.migrate()
            return try await body(repository)
        }
    }
}
