import Foundation
import Ichigo
import OTP

/// The promise of a request's deadline (`RequestDeadline`), for the stores that batch writes (SQLite, PostgreSQL):
/// nothing is committed for a caller that was answered 503. The memory store, a test double without transactions,
/// does not take part.
extension RepositoryContract {
    public static let deadlineChecks: [ContractCheck] = [
        ContractCheck(name: "deadline: a write queued after its request's deadline is dropped", run: expiredDropsWrite),
        ContractCheck(
            name: "deadline: a verification abandoned while its work ran is rolled back", run: abandonedRollsBack),
        ContractCheck(name: "deadline: a write that began before the deadline completes", run: claimedCompletes),
        ContractCheck(
            name: "deadline: an abandoned write in a batch leaves the others committed", run: abandonedInBatch),
    ]

    /// The audit record of a verification checked with `checkCode` directly.
    static func verifyAudit(at now: Date) -> @Sendable (String, String, Refusal?) -> AuditEvent {
        { subject, outcome, reason in
            AuditEvent(
                at: now, actor: "t", action: "otp.verify", subject: subject, outcome: outcome,
                reason: reason?.rawValue)
        }
    }

    static func expiredDropsWrite(_ f: ContractFixture) async throws {
        let (user, token, totp) = try await f.activeCustomer("deadline")
        let now = ContractFixture.start + 120
        let before = try await f.repository.auditRecords(from: 1, limit: 10_000).count
        let deadline = RequestDeadline(label: "POST /verify")
        try ensure(deadline.expire(), "a fresh deadline expires")
        try await ensureThrows(.serviceUnavailable) {
            _ = try await RequestDeadline.$current.withValue(deadline) {
                try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)
            }
        }
        try ensure(
            try await f.repository.auditRecords(from: 1, limit: 10_000).count == before,
            "a dropped verification wrote to the audit trail")
        try ensure(
            try await f.repository.token(token.id)?.lastAcceptedStep == token.lastAcceptedStep,
            "a dropped verification moved the token")
        // The code was not used up: the caller told 503 may send it again.
        let again = try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)
        try ensure(again.isAccepted, "the code of a dropped verification must still work: \(again)")
    }

    static func abandonedRollsBack(_ f: ContractFixture) async throws {
        let (user, token, _) = try await f.activeCustomer("abandon")
        let now = ContractFixture.start + 120
        let before = try await f.repository.auditRecords(from: 1, limit: 10_000).count
        let deadline = RequestDeadline(label: "POST /verify")
        let step = Int64(now.timeIntervalSince1970) / 60
        do {
            let check = try await RequestDeadline.$current.withValue(deadline) {
                try await f.repository.checkCode(
                    for: user.id, requiring: .active, at: now,
                    audit: verifyAudit(at: now),
                    decide: { _ in
                        // The grace period ends while the work runs (the database stalled): the caller hears 503.
                        _ = deadline.abandon()
                        return .accept(step: step, driftSteps: 0)
                    })
            }
            // A store without the hot path answers step by step, without running `decide`.
            guard case .stepByStep = check else {
                throw ContractFailure("an abandoned verification answered \(check)")
            }
            return
        } catch let error as IchigoError where error.code == .serviceUnavailable {}
        try ensure(
            try await f.repository.auditRecords(from: 1, limit: 10_000).count == before,
            "an abandoned verification wrote to the audit trail")
        try ensure(
            try await f.repository.token(token.id)?.lastAcceptedStep == token.lastAcceptedStep,
            "an abandoned verification was committed")
    }

    static func claimedCompletes(_ f: ContractFixture) async throws {
        let (user, _, totp) = try await f.activeCustomer("claimed")
        let now = ContractFixture.start + 120
        let deadline = RequestDeadline(label: "POST /verify")
        let result = try await RequestDeadline.$current.withValue(deadline) {
            try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "t", at: now)
        }
        try ensure(result.isAccepted, "a verification within its deadline: \(result)")
        try ensure(!deadline.expire(), "once written, the deadline cannot expire into a 503 without a commit")
    }

    static func abandonedInBatch(_ f: ContractFixture) async throws {
        // 20 verifications at once, every other one abandoned while its work runs: those are rolled back, the others
        // are committed (whether the store batched them together or not).
        var people: [(User, Token, Bool)] = []
        let now = ContractFixture.start + 120
        let step = Int64(now.timeIntervalSince1970) / 60
        for index in 0..<20 {
            let (user, token, _) = try await f.activeCustomer("batch\(index)")
            people.append((user, token, index % 2 == 0))
        }
        let outcomes = try await withThrowingTaskGroup(of: (UserID, Bool).self) { group in
            for (user, _, abandon) in people {
                group.addTask {
                    let deadline = RequestDeadline(label: "POST /verify")
                    do {
                        let check = try await RequestDeadline.$current.withValue(deadline) {
                            try await f.repository.checkCode(
                                for: user.id, requiring: .active, at: now,
                                audit: verifyAudit(at: now),
                                decide: { _ in
                                    if abandon { _ = deadline.abandon() }
                                    return .accept(step: step, driftSteps: 0)
                                })
                        }
                        if case .stepByStep = check { return (user.id, !abandon) }
                        return (user.id, true)
                    } catch let error as IchigoError where error.code == .serviceUnavailable {
                        return (user.id, false)
                    }
                }
            }
            return try await group.reduce(into: [UserID: Bool]()) { $0[$1.0] = $1.1 }
        }
        for (user, token, abandon) in people {
            let stored = try await f.repository.token(token.id)
            let committed = stored?.lastAcceptedStep == step
            try ensure(outcomes[user.id] == !abandon, "\(user.loginID.rawValue): answered \(outcomes[user.id] ?? false)")
            try ensure(committed == !abandon, "\(user.loginID.rawValue): committed \(committed), abandoned \(abandon)")
        }
    }
}
