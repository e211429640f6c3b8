import Foundation
import GRDB
import Ichigo

extension SQLiteRepository: APIKeyRepository {
    public func insert(_ key: APIKey, audit: AuditEvent) async throws {
        try await write { db in
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM api_keys WHERE name = ? OR secret_hash = ?",
                    arguments: [key.name, key.secretHash]) == nil
            else { throw IchigoError(.apiKeyNameTaken) }
            try db.execute(
                sql: "INSERT INTO api_keys (name, secret_hash, scopes, created_at) VALUES (?, ?, ?, ?)",
                arguments: [key.name, key.secretHash, Self.scopesText(key.scopes), key.createdAt.millis])
            try self.appendAudit(audit, in: db)
        }
    }

    public func apiKey(secretHash: String) async throws -> APIKey? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM api_keys WHERE secret_hash = ?", arguments: [secretHash])
                .map(Self.apiKey(from:))
        }
    }

    public func apiKeys() async throws -> [APIKey] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY name").map(Self.apiKey(from:))
        }
    }

    public func revokeAPIKey(name: String, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                arguments: [now.millis, name])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    static func scopesText(_ scopes: Set<APIScope>) -> String { scopes.sorted().map(\.rawValue).joined(separator: " ") }

    static func apiKey(from row: Row) throws -> APIKey {
        var scopes = Set<APIScope>()
        for word in (row["scopes"] as String).split(separator: " ") {
            guard let scope = APIScope(rawValue: String(word)) else {
                throw IchigoError(.corruptData, detail: "api key scope \(word)")
            }
            scopes.insert(scope)
        }
        return APIKey(
            name: row["name"], secretHash: row["secret_hash"], scopes: scopes,
            createdAt: Date(millis: row["created_at"]), revokedAt: (row["revoked_at"] as Int64?).map(Date.init(millis:)))
    }
}
