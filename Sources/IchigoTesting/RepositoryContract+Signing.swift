import Foundation
import Ichigo
import OTP

/// The storage contract of transaction signing (取引認証): a token's OCRA suite and signature replay state, a
/// signature accepted once per step (also under concurrency), and the JSON API's challenges answered once.
extension RepositoryContract {
    static let signingChecks: [ContractCheck] = [
        ContractCheck(name: "signing: suite stored with the token; a signature step accepted once, only while active", run: signatureSteps),
        ContractCheck(name: "signing: challenges stored, answered once, never after expiry", run: signingChallenges),
        ContractCheck(name: "signing: 20 concurrent answers, one challenge consumed once; 20 signatures, one accepted", run: concurrentSignatures),
        ContractCheck(name: "signing: a signature checked against the transaction, counted like a wrong OTP", run: signatureService),
    ]

    static let suiteText = "OCRA-1:HOTP-SHA1-6:QN20-T1M"

    /// A customer with an active software token that carries the default signing suite, and its seed.
    static func signingCustomer(_ f: ContractFixture, _ login: String) async throws -> (User, Token, Seed) {
        let user = try await f.customer(login)
        let now = ContractFixture.start
        let (token, seed) = try await f.tokens.enrolSoftwareToken(
            for: user.id, ocraSuite: suiteText, actor: "test", at: now - 60)
        let totp = TOTP(seed: seed, parameters: token.parameters)
        let result = try await f.tokens.activate(totp.code(at: now - 60), for: user.id, actor: "test", at: now - 60)
        try ensure(result.isAccepted, "activation failed: \(result)")
        return (user, try await f.repository.token(token.id)!, seed)
    }

    static func signatureSteps(_ f: ContractFixture) async throws {
        let (_, token, _) = try await signingCustomer(f, "sig1")
        try ensure(token.ocraSuite == suiteText, "suite not stored: \(token.ocraSuite ?? "nil")")
        try ensure(token.lastSignatureStep == -1, "a new token has signed already")
        let now = ContractFixture.start
        try ensure(try await f.repository.recordSignature(ofStep: 5, for: token.id, at: now, audit: event("s")), "step 5 refused")
        try ensure(!(try await f.repository.recordSignature(ofStep: 5, for: token.id, at: now, audit: event("s"))), "step 5 twice")
        try ensure(!(try await f.repository.recordSignature(ofStep: 4, for: token.id, at: now, audit: event("s"))), "an earlier step")
        try ensure(try await f.repository.recordSignature(ofStep: 6, for: token.id, at: now, audit: event("s")), "step 6 refused")
        let read = try await f.repository.token(token.id)!
        try ensure(read.lastSignatureStep == 6, "last signature step \(read.lastSignatureStep)")
        try ensure(read.lastAcceptedStep == token.lastAcceptedStep, "a signature moved the OTP step")
        // Not while locked.
        try ensure(
            try await f.repository.transition(token.id, from: .active, to: .locked, resetFailures: false, at: now, audit: event("lock")),
            "lock")
        try ensure(!(try await f.repository.recordSignature(ofStep: 9, for: token.id, at: now, audit: event("s"))), "a locked token signed")
        // A hardware token from a PSKC import keeps its suite.
        var hardware = try hardwareToken(f, "SKTH77000001")
        hardware.ocraSuite = "OCRA-1:HOTP-SHA256-8:QN20-T1M"
        try await f.repository.importTokens([hardware], audit: [event("import")])
        try ensure(
            try await f.repository.token(serial: hardware.serial)?.ocraSuite == hardware.ocraSuite, "imported suite lost")
    }

    static func challenge(for user: User, _ token: Token, at now: Date, lifetime: TimeInterval = 300) -> SigningChallenge {
        SigningChallenge(
            id: .random(), userID: user.id, tokenID: token.id, suite: suiteText, challenge: "500001234567",
            payeeAccount: "1234567", amount: 50_000, createdAt: now, expiresAt: now + lifetime)
    }

    static func signingChallenges(_ f: ContractFixture) async throws {
        let (user, token, _) = try await signingCustomer(f, "sig2")
        let now = ContractFixture.start
        let open = challenge(for: user, token, at: now)
        try await f.repository.insert(open, audit: event("signature.challenge", open.id.rawValue))
        try ensure(try await f.repository.signingChallenge(open.id) == open, "challenge read back differs")
        try ensure(try await f.repository.signingChallenge(ChallengeID(rawValue: "Snone")) == nil, "an unknown challenge was found")
        try ensure(try await f.repository.consumeSigningChallenge(open.id, at: now + 10), "an open challenge not consumed")
        try ensure(!(try await f.repository.consumeSigningChallenge(open.id, at: now + 11)), "a challenge answered twice")
        try ensure(
            try await f.repository.signingChallenge(open.id)?.answeredAt.map { abs($0.timeIntervalSince(now + 10)) < 0.01 } == true,
            "answer time not stored")
        let expiring = challenge(for: user, token, at: now, lifetime: 60)
        try await f.repository.insert(expiring, audit: event("signature.challenge", expiring.id.rawValue))
        try ensure(!(try await f.repository.consumeSigningChallenge(expiring.id, at: now + 60)), "answered at its expiry")
        try ensure(try await f.repository.signingChallenge(expiring.id)?.answeredAt == nil, "an expired challenge changed")
        var stranger = challenge(for: user, token, at: now)
        stranger.userID = UserID(rawValue: "U000000000000000000000000")
        try await ensureThrows(.userNotFound) { try await f.repository.insert(stranger, audit: event("x")) }
        try ensure(try await f.repository.signingChallenge(stranger.id) == nil, "a refused challenge was stored")
    }

    static func concurrentSignatures(_ f: ContractFixture) async throws {
        let (user, token, _) = try await signingCustomer(f, "sig3")
        let now = ContractFixture.start
        let one = challenge(for: user, token, at: now)
        try await f.repository.insert(one, audit: event("signature.challenge", one.id.rawValue))
        let repository = f.repository
        let consumed = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 { group.addTask { try await repository.consumeSigningChallenge(one.id, at: now + 1) } }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try ensure(consumed == 1, "\(consumed) answers consumed one challenge")
        let accepted = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask { try await repository.recordSignature(ofStep: 100, for: token.id, at: now, audit: event("s")) }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try ensure(accepted == 1, "\(accepted) signatures accepted for one step")
    }

    static func signatureService(_ f: ContractFixture) async throws {
        let (user, token, seed) = try await signingCustomer(f, "sig4")
        let signing = TransactionSigning(
            repository: f.repository, tokens: f.tokens, policy: TransferSigningPolicy(mode: .required))
        let now = ContractFixture.start
        let suite = try OCRASuite(suiteText)
        let ocra = OCRA(seed: seed, suite: suite)
        func code(_ account: String, _ amount: Int) throws -> String {
            let question = try TransactionChallenge(payeeAccount: account, amount: amount).question(for: suite)
            return try ocra.response(to: question, time: .at(now)).text
        }
        let transfer = SignedTransaction(payeeAccount: "1234567", amount: 50_000)
        let right = try code("1234567", 50_000)
        // For another amount or payee the same code is wrong, and counted.
        let otherAmount = try await signing.verify(
            right, by: user.id, over: SignedTransaction(payeeAccount: "1234567", amount: 50_001), action: "t", actor: "test", at: now)
        try ensure(otherAmount == .refused(.invalidCode), "a code for another amount: \(otherAmount)")
        let otherPayee = try await signing.verify(
            right, by: user.id, over: SignedTransaction(payeeAccount: "7654321", amount: 50_000), action: "t", actor: "test", at: now)
        try ensure(otherPayee == .refused(.invalidCode), "a code for another payee: \(otherPayee)")
        try ensure(try await f.repository.token(token.id)?.failureCount == 2, "wrong signatures not counted")
        let accepted = try await signing.verify(right, by: user.id, over: transfer, action: "t", actor: "test", at: now)
        try ensure(accepted.isAccepted, "the right signature: \(accepted)")
        try ensure(try await f.repository.token(token.id)?.failureCount == 0, "an accepted signature left failures")
        let replay = try await signing.verify(right, by: user.id, over: transfer, action: "t", actor: "test", at: now)
        try ensure(replay == .refused(.replay), "a replayed signature: \(replay)")
        // The audit trail records what was signed, never the code.
        let records = try await f.repository.auditRecords(from: 0, limit: 1000)
        let signed = records.filter { $0.event.action == "t" && $0.event.outcome == "accepted" }
        try ensure(signed.count == 1, "\(signed.count) accepted signature records")
        let reason = signed.first?.event.reason ?? ""
        for part in ["suite=\(suiteText)", "challenge=500001234567", "payee_account=1234567", "amount=50000"] {
            try ensure(reason.contains(part), "audit reason lacks \(part): \(reason)")
        }
        try ensure(!records.contains { ($0.event.reason ?? "").contains(right) }, "a signature code reached the audit trail")
        // Wrong ones lock the token at the OTP threshold.
        let question = try TransactionChallenge(payeeAccount: "1234567", amount: 50_000).question(for: suite)
        let valid = try Set((-2...2).map { try ocra.response(to: question, time: .at(now + 60 + Double($0 * 60))).text })
        let wrong = (0..<10).map { String(repeating: String($0), count: 6) }.first { !valid.contains($0) }!
        for attempt in 1...5 {
            let result = try await signing.verify(
                wrong, by: user.id, over: transfer, action: "t", actor: "test", at: now + 60)
            if attempt == 5 { try ensure(result == .refused(.lockedByThisAttempt), "fifth wrong: \(result)") }
            if attempt == 4 { try ensure(result == .refused(.invalidCodeLastTry), "fourth wrong: \(result)") }
        }
        try ensure(try await f.repository.token(token.id)?.state == .locked, "five wrong signatures did not lock")
    }
}
