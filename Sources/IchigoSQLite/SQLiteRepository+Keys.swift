import Foundation
import GRDB
import Ichigo

/// Key versions and the re-sealing of seeds after a rotation (`KeyVersionRepository`). SQLite has one writer, so
/// a batch claimed in a write transaction is claimed once by construction.
extension SQLiteRepository: KeyVersionRepository {
    public func keyVersions() async throws -> [KeyVersion] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM key_versions ORDER BY version").map(KeyVersion.init(stored:))
        }
    }

    public func insert(_ version: KeyVersion, audit: AuditEvent?) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO key_versions (version, wrapped_by, wrapped, created_at, active_from, retired_at)
                    VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (version) DO NOTHING
                    """,
                arguments: [
                    version.version, version.wrappedBy, version.wrapped.map { Data($0) }, version.createdAt.millis,
                    version.activeFrom.millis, version.retiredAt?.millis,
                ])
            guard db.changesCount == 1 else { return false }
            if let audit { try self.appendAudit(audit, in: db) }
            return true
        }
    }

    public func rewrap(_ versions: [KeyVersion], audit: AuditEvent) async throws {
        try await write { db in
            for version in versions {
                try db.execute(
                    sql: "UPDATE key_versions SET wrapped_by = ?, wrapped = ? WHERE version = ?",
                    arguments: [version.wrappedBy, version.wrapped.map { Data($0) }, version.version])
                guard db.changesCount == 1 else {
                    throw IchigoError(.corruptData, detail: "key version \(version.version) is not stored")
                }
            }
            try self.appendAudit(audit, in: db)
        }
    }

    public func sealedSeedCounts() async throws -> SealedSeedCounts {
        try await pool.read { db in
            var counts: SealedSeedCounts = [:]
            for row in try Row.fetchAll(
                db, sql: "SELECT seed_key_version AS v, COUNT(*) AS n FROM tokens GROUP BY seed_key_version")
            {
                counts[row["v"]] = row["n"]
            }
            return counts
        }
    }

    public func resealSeeds(
        olderThan target: Int, after: TokenID?, limit: Int,
        reseal: @escaping @Sendable (TokenID, SealedSeed) -> SealedSeed?
    ) async throws -> ResealBatch {
        try await write { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, sealed_seed, seed_key_version FROM tokens
                    WHERE seed_key_version < ? AND id > ? ORDER BY id LIMIT ?
                    """,
                arguments: [target, after?.rawValue ?? "", limit])
            let update = try db.makeStatement(
                sql: "UPDATE tokens SET sealed_seed = ?, seed_key_version = ? WHERE id = ? AND seed_key_version = ?")
            var resealed = 0
            var last: TokenID?
            for row in rows {
                let id = TokenID(rawValue: row["id"])
                last = id
                let sealed: Data = row["sealed_seed"]
                let old = SealedSeed(combined: Array(sealed), keyVersion: row["seed_key_version"])
                guard let new = reseal(id, old) else { continue }
                try update.execute(arguments: [Data(new.combined), new.keyVersion, id.rawValue, old.keyVersion])
                resealed += 1
            }
            return ResealBatch(examined: rows.count, resealed: resealed, last: last)
        }
    }

    public func retire(_ version: Int, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE key_versions SET retired_at = ?
                    WHERE version = ? AND retired_at IS NULL
                        AND NOT EXISTS (SELECT 1 FROM tokens WHERE seed_key_version = ?)
                    """,
                arguments: [now.millis, version, version])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

}
