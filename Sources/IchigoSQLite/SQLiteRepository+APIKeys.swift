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
                .map(APIKey.init(stored:))
        }
    }

    public func apiKeys() async throws -> [APIKey] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM api_keys ORDER BY name").map(APIKey.init(stored:))
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

}
