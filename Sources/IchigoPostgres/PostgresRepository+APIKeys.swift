import Foundation
import Ichigo
import PostgresNIO

extension PostgresRepository: APIKeyRepository {
    public func insert(_ key: APIKey, audit: AuditEvent) async throws {
        try await write { tx in
            // A concurrent insert fails on `api_keys_pkey` or `api_keys_secret_hash_unique`: `apiKeyNameTaken` too.
            guard
                !(try await tx.exists(
                    "SELECT 1 FROM api_keys WHERE name = \(key.name) OR secret_hash = \(key.secretHash)"))
            else { throw IchigoError(.apiKeyNameTaken) }
            try await tx.run(
                """
                INSERT INTO api_keys (name, secret_hash, scopes, created_at)
                VALUES (\(key.name), \(key.secretHash), \(Self.scopesText(key.scopes)), \(key.createdAt.millis))
                """)
            tx.append(audit)
        }
    }

    public func apiKey(secretHash: String) async throws -> APIKey? {
        try await row("SELECT * FROM api_keys WHERE secret_hash = \(secretHash)").map(APIKey.init(stored:))
    }

    public func apiKeys() async throws -> [APIKey] {
        try await rows("SELECT * FROM api_keys ORDER BY name").map(APIKey.init(stored:))
    }

    public func revokeAPIKey(name: String, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE api_keys SET revoked_at = \(now.millis) WHERE name = \(name) AND revoked_at IS NULL
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    static func scopesText(_ scopes: Set<APIScope>) -> String { scopes.sorted().map(\.rawValue).joined(separator: " ") }

}
