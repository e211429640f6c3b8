import Ichigo

extension MemoryRepository: AuditTrailReader {
    public func newestAuditSequence() async throws -> Int64 { audit.last?.sequence ?? 0 }
}
