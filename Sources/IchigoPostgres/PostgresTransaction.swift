import Foundation
import Ichigo
import Logging
import PostgresNIO

/// A write transaction in progress: its connection, and the audit events to chain when it commits.
///
/// Audit events are not written as they come: `PostgresRepository.write` chains them all at the end, just before
/// `COMMIT`, under the lock on `audit_chain_head` (see `PostgresRepository` on the audit chain).
final class PostgresTransaction {
    let connection: PostgresConnection
    let logger: Logger
    /// The events to append, in order.
    private(set) var auditEvents: [AuditEvent] = []

    init(connection: PostgresConnection, logger: Logger) {
        self.connection = connection
        self.logger = logger
    }

    /// Runs `query` and returns its rows.
    @discardableResult
    func rows(_ query: PostgresQuery) async throws -> [PostgresRandomAccessRow] {
        var result: [PostgresRandomAccessRow] = []
        for try await row in try await connection.query(query, logger: logger) { result.append(row.makeRandomAccess()) }
        return result
    }

    /// Runs `query`, ignoring any rows it returns.
    func run(_ query: PostgresQuery) async throws {
        try await rows(query)
    }

    /// Runs `query` and returns its first row, if any.
    func row(_ query: PostgresQuery) async throws -> PostgresRandomAccessRow? {
        try await rows(query).first
    }

    /// Runs `query`, which returns one row per changed row (`… RETURNING 1`), and returns how many rows changed.
    func changes(_ query: PostgresQuery) async throws -> Int {
        try await rows(query).count
    }

    /// Whether `query` returns a row.
    func exists(_ query: PostgresQuery) async throws -> Bool {
        try await row(query) != nil
    }

    /// Queues `event` for the audit trail; it is chained and written just before the commit.
    func append(_ event: AuditEvent) {
        auditEvents.append(event)
    }

    /// Queues `mail` in the outbox, in this transaction.
    func enqueue(_ mail: OutgoingMail) async throws {
        try await rows(
            """
            INSERT INTO mail_outbox (recipient, subject, body, created_at, next_attempt_at)
            VALUES (\(mail.recipient), \(mail.subject), \(mail.body), \(mail.createdAt.millis), \(mail.createdAt.millis))
            """)
    }
}

/// A database failure with no meaning in Ichigo's domain. Its text has the SQLSTATE and the server's message, never
/// the query's values or the server's detail line (which may quote a row).
public struct PostgresStoreError: Error, Sendable, CustomStringConvertible {
    /// The SQLSTATE, e.g. `40P01`; `nil` for a failure without a server answer (connection lost, pool closed).
    public let sqlState: String?
    public let message: String

    public var description: String {
        if let sqlState { return "PostgreSQL error \(sqlState): \(message)" }
        return "PostgreSQL: \(message)"
    }

    /// The failure `error` is, in Ichigo's terms: a constraint that means a domain error becomes that `IchigoError`;
    /// another PostgreSQL error becomes a `PostgresStoreError`; anything else passes unchanged.
    static func mapping(_ error: any Error) -> any Error {
        guard let error = error as? PSQLError else { return error }
        guard error.code == .server, let info = error.serverInfo else {
            // Connection failures (refused, lost, timed out, the pool closed): the database does not answer, which
            // is a 503 for the caller. The code and the underlying error (host, port, TLS), never the query.
            let underlying = error.underlying.map { ": \($0)" } ?? ""
            return IchigoError(.serviceUnavailable, detail: "PostgreSQL: \(error.code)\(underlying)")
        }
        let state = info[.sqlState]
        let constraint = info[.constraintName]
        if let state, let unavailable = unavailability(state) {
            return IchigoError(unavailable, detail: "PostgreSQL error \(state): \(info[.message] ?? "no message")")
        }
        switch (state, constraint) {
        case ("23505", "users_login_id_unique"?), ("23505", "operators_login_id_unique"?):
            return IchigoError(.loginIDTaken)
        case ("23505", "passkeys_pkey"?):
            return IchigoError(.passkeyTaken)
        case ("23505", "tokens_serial_unique"?):
            return IchigoError(.serialTaken)
        case ("23505", "transfers_pkey"?), ("23505", "corporate_transfers_pkey"?):
            return IchigoError(.transferDuplicate)
        case ("23505", "api_keys_pkey"?), ("23505", "api_keys_secret_hash_unique"?):
            return IchigoError(.apiKeyNameTaken)
        case ("23505", "accounts_branch_number_key"?):
            return IchigoError(.accountNumberTaken, field: "number")
        case ("23503", "users_contract_id_fkey"?):
            return IchigoError(.contractNotFound)
        case ("22021", _):
            // PostgreSQL text cannot hold U+0000 (SQLite can): refused as input rather than failing as a 500.
            return IchigoError(.invalidInput, detail: "text with a NUL character")
        default:
            return PostgresStoreError(sqlState: state, message: info[.message] ?? "no message")
        }
    }

    /// The SQLSTATEs that mean the database cannot serve now rather than that the request is wrong: a statement or
    /// lock timeout (57014, 55P03), the server shutting down or starting (57P01–57P03), no connection slot (53300),
    /// a lost connection (class 08) — all `serviceUnavailable` — and a full disk (53100, `storageFull`).
    static func unavailability(_ state: String) -> IchigoError.Code? {
        switch state {
        case "53100": .storageFull
        case "57014", "55P03", "57P01", "57P02", "57P03", "53300": .serviceUnavailable
        case _ where state.hasPrefix("08"): .serviceUnavailable
        default: nil
        }
    }

    /// Whether `error` means the transaction lost to another one and may simply run again: a deadlock, or a
    /// serialization failure.
    static func isRetryable(_ error: any Error) -> Bool {
        guard let error = error as? PSQLError, error.code == .server else { return false }
        return ["40P01", "40001"].contains(error.serverInfo?[.sqlState])
    }
}

