import Ichigo
import PostgresNIO

extension PostgresRepository: AuditTrailReader {
    /// The maximum of the primary key: one index seek.
    public func newestAuditSequence() async throws -> Int64 {
        guard let row = try await row("SELECT COALESCE(MAX(seq), 0)::BIGINT AS newest FROM audit_log") else { return 0 }
        return try Columns(row)["newest"]
    }
}
