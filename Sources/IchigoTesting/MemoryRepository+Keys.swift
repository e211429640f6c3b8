import Foundation
import Ichigo

extension MemoryRepository: KeyVersionRepository {
    public func keyVersions() async throws -> [KeyVersion] { keyVersionList.sorted { $0.version < $1.version } }

    public func insert(_ version: KeyVersion, audit: AuditEvent?) async throws -> Bool {
        guard !keyVersionList.contains(where: { $0.version == version.version }) else { return false }
        keyVersionList.append(version)
        if let audit { appendAudit(audit) }
        return true
    }

    public func rewrap(_ versions: [KeyVersion], audit: AuditEvent) async throws {
        var list = keyVersionList
        for version in versions {
            guard let index = list.firstIndex(where: { $0.version == version.version }) else {
                throw IchigoError(.corruptData, detail: "key version \(version.version) is not stored")
            }
            list[index].wrappedBy = version.wrappedBy
            list[index].wrapped = version.wrapped
        }
        keyVersionList = list
        appendAudit(audit)
    }

    public func sealedSeedCounts() async throws -> SealedSeedCounts {
        var counts: SealedSeedCounts = [:]
        for token in tokens.values { counts[token.sealedSeed.keyVersion, default: 0] += 1 }
        return counts
    }

    public func resealSeeds(
        olderThan target: Int, after: TokenID?, limit: Int,
        reseal: @escaping @Sendable (TokenID, SealedSeed) -> SealedSeed?
    ) async throws -> ResealBatch {
        let batch = tokens.values.filter { $0.sealedSeed.keyVersion < target && $0.id.rawValue > (after?.rawValue ?? "") }
            .sorted { $0.id.rawValue < $1.id.rawValue }.prefix(limit)
        var resealed = 0
        for token in batch {
            guard let new = reseal(token.id, token.sealedSeed) else { continue }
            tokens[token.id]?.sealedSeed = new
            resealed += 1
        }
        return ResealBatch(examined: batch.count, resealed: resealed, last: batch.last?.id)
    }

    public func retire(_ version: Int, at now: Date, audit: AuditEvent) async throws -> Bool {
        guard let index = keyVersionList.firstIndex(where: { $0.version == version }),
            keyVersionList[index].retiredAt == nil,
            !tokens.values.contains(where: { $0.sealedSeed.keyVersion == version })
        else { return false }
        keyVersionList[index].retiredAt = now
        appendAudit(audit)
        return true
    }
}
