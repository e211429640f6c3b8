import GRDB
import Ichigo

extension SQLiteRepository: AuditTrailReader {
    /// The sequence number is the table's rowid (migration v8): its maximum is one seek.
    public func newestAuditSequence() async throws -> Int64 {
        try await pool.read { db in try Int64.fetchOne(db, sql: "SELECT MAX(seq) FROM audit_log") ?? 0 }
    }
}
