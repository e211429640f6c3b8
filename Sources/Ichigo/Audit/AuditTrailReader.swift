/// Reads the audit trail in sequence order, as the SIEM stream tails it.
public protocol AuditTrailReader: Sendable {
    /// Records with sequence numbers from `sequence` on, in order, at most `limit`.
    func auditRecords(from sequence: Int64, limit: Int) async throws -> [AuditRecord]
    /// The newest record's sequence number; 0 for an empty trail.
    func newestAuditSequence() async throws -> Int64
}
