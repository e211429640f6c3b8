import Foundation
import Ichigo
import NIOCore
import PostgresNIO

/// Key versions and the re-sealing of seeds after a rotation (`KeyVersionRepository`). Several instances re-seal
/// at once: each batch takes its rows with `FOR UPDATE SKIP LOCKED`, so a seed is claimed by one instance, and the
/// version it is written with takes it out of every later batch.
extension PostgresRepository: KeyVersionRepository {
    public func keyVersions() async throws -> [KeyVersion] {
        try await rows("SELECT * FROM key_versions ORDER BY version").map(KeyVersion.init(stored:))
    }

    public func insert(_ version: KeyVersion, audit: AuditEvent?) async throws -> Bool {
        try await write { tx in
            let wrapped = version.wrapped.map { ByteBuffer(bytes: $0) }
            let inserted = try await tx.changes(
                """
                INSERT INTO key_versions (version, wrapped_by, wrapped, created_at, active_from, retired_at)
                VALUES (\(version.version), \(version.wrappedBy), \(wrapped), \(version.createdAt.millis),
                    \(version.activeFrom.millis), \(version.retiredAt?.millis))
                ON CONFLICT (version) DO NOTHING RETURNING 1
                """)
            guard inserted == 1 else { return false }
            if let audit { tx.append(audit) }
            return true
        }
    }

    public func rewrap(_ versions: [KeyVersion], audit: AuditEvent) async throws {
        try await write { tx in
            for version in versions {
                let wrapped = version.wrapped.map { ByteBuffer(bytes: $0) }
                let changed = try await tx.changes(
                    """
                    UPDATE key_versions SET wrapped_by = \(version.wrappedBy), wrapped = \(wrapped)
                    WHERE version = \(version.version) RETURNING 1
                    """)
                guard changed == 1 else {
                    throw IchigoError(.corruptData, detail: "key version \(version.version) is not stored")
                }
            }
            tx.append(audit)
        }
    }

    public func sealedSeedCounts() async throws -> SealedSeedCounts {
        var counts: SealedSeedCounts = [:]
        for row in try await rows("SELECT seed_key_version AS v, COUNT(*) AS n FROM tokens GROUP BY seed_key_version") {
            let c = Columns(row)
            counts[try c["v"] as Int] = try c["n"] as Int
        }
        return counts
    }

    public func resealSeeds(
        olderThan target: Int, after: TokenID?, limit: Int,
        reseal: @escaping @Sendable (TokenID, SealedSeed) -> SealedSeed?
    ) async throws -> ResealBatch {
        try await write { tx in
            let rows = try await tx.rows(
                """
                SELECT id, sealed_seed, seed_key_version FROM tokens
                WHERE seed_key_version < \(target) AND id > \(after?.rawValue ?? "")
                ORDER BY id LIMIT \(limit) FOR UPDATE SKIP LOCKED
                """)
            var ids: [String] = []
            var seeds: [ByteBuffer] = []
            var versions: [Int] = []
            var last: TokenID?
            for row in rows {
                let c = Columns(row)
                let id = TokenID(rawValue: try c["id"])
                last = id
                let sealed: ByteBuffer = try c["sealed_seed"]
                let old = SealedSeed(combined: Array(sealed.readableBytesView), keyVersion: try c["seed_key_version"])
                guard let new = reseal(id, old) else { continue }
                ids.append(id.rawValue)
                seeds.append(ByteBuffer(bytes: new.combined))
                versions.append(new.keyVersion)
            }
            if !ids.isEmpty {
                try await tx.run(
                    """
                    UPDATE tokens SET sealed_seed = r.seed, seed_key_version = r.version
                    FROM unnest(\(ids)::text[], \(seeds)::bytea[], \(versions)::int8[]) AS r(id, seed, version)
                    WHERE tokens.id = r.id
                    """)
            }
            return ResealBatch(examined: rows.count, resealed: ids.count, last: last)
        }
    }

    public func retire(_ version: Int, at now: Date, audit: AuditEvent) async throws -> Bool {
        try await write { tx in
            // Not ordered against a token inserted at this moment under the version (a lagging instance): such a
            // seed is re-sealed by the next pass; a retired version's key stays loaded, so it always opens.
            let changed = try await tx.changes(
                """
                UPDATE key_versions SET retired_at = \(now.millis)
                WHERE version = \(version) AND retired_at IS NULL
                    AND NOT EXISTS (SELECT 1 FROM tokens WHERE seed_key_version = \(version))
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

}
