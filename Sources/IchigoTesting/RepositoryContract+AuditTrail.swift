import Foundation
import Ichigo

extension RepositoryContract {
    /// Reading the trail as the SIEM stream tails it (`AuditTrailReader`).
    static let auditTrailChecks: [ContractCheck] = [
        ContractCheck(name: "audit trail: the newest sequence number, pages from any record on", run: auditTrailTail)
    ]

    static func auditTrailTail(_ f: ContractFixture) async throws {
        guard let reader = f.repository as? any AuditTrailReader else {
            throw ContractFailure("the repository cannot be tailed (AuditTrailReader)")
        }
        try ensure(try await reader.newestAuditSequence() == 0, "an empty trail has no newest record")
        for index in 0..<7 {
            try await f.repository.append(
                AuditEvent(
                    at: ContractFixture.start, actor: "test", action: "otp.verify", subject: "user:\(index)",
                    outcome: "refused", reason: "invalid_code"))
        }
        try ensure(try await reader.newestAuditSequence() == 7, "the newest record is the seventh")
        let page = try await reader.auditRecords(from: 4, limit: 3)
        try ensure(page.map(\.sequence) == [4, 5, 6], "records 4 to 6, got \(page.map(\.sequence))")
        try ensure(page[0].event.subject == "user:3", "record 4 is the fourth event")
        try ensure(try await reader.auditRecords(from: 8, limit: 10).isEmpty, "nothing after the newest record")
        try ensure(
            f.chain.verify(try await reader.auditRecords(from: 1, limit: 10), after: nil).isEmpty,
            "the records tail as they were chained")
    }
}
