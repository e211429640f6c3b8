import Foundation
import OTP

/// The bank's policy for transaction authentication (取引認証, OCRA RFC 6287): whether transfers and approvals are
/// signed instead of confirmed with a plain OTP, and with which suite.
public struct TransferSigningPolicy: Sendable, Hashable {
    /// Whether transfers need a signature.
    public enum Mode: String, Sendable, Hashable, CaseIterable {
        /// Transfers and approvals take the plain OTP (the default).
        case off
        /// Retail 振込 and corporate 承認実行 take a signature over the payee account and amount; a plain OTP is refused.
        case required
    }

    public var mode: Mode
    /// The suite new software tokens get while the policy is on.
    public var suite: OCRASuite
    /// How long a JSON API signing challenge may be answered. 5 minutes.
    public var challengeLifetime: TimeInterval
    /// For counter (C) suites: how many counter values past the next expected one are tried (the app moves its
    /// counter on every code it shows, also for codes never sent).
    public var counterLookAhead: Int

    /// `OCRA-1:HOTP-SHA1-6:QN20-T1M`: 6 digits (as easy to type as the OTP), a numeric challenge of up to 20 digits
    /// (7 for the account, so amounts up to 13 digits fit), and the minute (T1M) so that a code is tied to its minute
    /// and works once per token and minute — no counter to fall out of step.
    public static let defaultSuiteText = "OCRA-1:HOTP-SHA1-6:QN20-T1M"
    public static let defaultSuite: OCRASuite = try! OCRASuite(defaultSuiteText)

    public init(
        mode: Mode = .off, suite: OCRASuite = defaultSuite, challengeLifetime: TimeInterval = 300,
        counterLookAhead: Int = 10
    ) {
        self.mode = mode
        self.suite = suite
        self.challengeLifetime = challengeLifetime
        self.counterLookAhead = counterLookAhead
    }

    /// Off: transfers take the plain OTP.
    public static let off = TransferSigningPolicy()

    public var isRequired: Bool { mode == .required }

    /// The suite new software tokens carry: the bank's while signing is required, else none.
    public var suiteForNewTokens: String? { isRequired ? suite.text : nil }

    /// Checks the policy is one Ichigo can honour: the suite must be one the server can verify and every transfer
    /// the screens accept (up to ¥9,999,999,999, 10 digits + 7 for the account) must fit its challenge.
    public func validated() throws(IchigoError) -> TransferSigningPolicy {
        if let problem = Self.problem(with: suite) {
            throw IchigoError(.invalidInput, field: "transfer.ocraSuite", detail: problem)
        }
        guard suite.maximumChallengeLength >= 17 else {
            throw IchigoError(
                .invalidInput, field: "transfer.ocraSuite",
                detail:
                    "QN\(suite.maximumChallengeLength) is too short: a transfer needs up to 17 digits (QN17 or more)")
        }
        guard (60...3600).contains(challengeLifetime) else {
            throw IchigoError(.invalidInput, field: "transfer.challengeSeconds", detail: "must be 60 to 3600 seconds")
        }
        return self
    }

    /// Why the server cannot verify signatures of `suite`, or `nil` if it can: the challenge must be numeric (QN),
    /// the response 6–10 digits, there must be T or C (so a signature works once) but not both, and no PIN or session
    /// input (the server knows neither).
    public static func problem(with suite: OCRASuite) -> String? {
        if suite.challengeFormat != .numeric { return "\(suite.text): transaction challenges are numeric (QN)" }
        if !(6...10).contains(suite.digits) { return "\(suite.text): responses must be 6 to 10 digits" }
        if suite.pinHash != nil || suite.sessionLength != nil {
            return "\(suite.text): suites with a PIN (P) or session data (S) cannot be checked by the server"
        }
        if suite.usesCounter && suite.period != nil {
            return "\(suite.text): a signing suite has a time step (T) or a counter (C), not both"
        }
        if !suite.usesCounter && suite.period == nil {
            return
                "\(suite.text): a signing suite needs a time step (T) or a counter (C), so that a signature works once"
        }
        return nil
    }
}

/// A signing challenge issued through the JSON API: the transaction data, the challenge text derived from them and
/// the token that must answer, until it is answered once or expires.
public struct SigningChallenge: Sendable, Hashable {
    public var id: ChallengeID
    public var userID: UserID
    public var tokenID: TokenID
    public var suite: String
    /// The numeric challenge (amount, then the 7-digit account: `TransactionChallenge`).
    public var challenge: String
    public var payeeAccount: String
    public var amount: Int64
    public var createdAt: Date
    public var expiresAt: Date
    /// When it was answered (accepted or not); `nil` while open.
    public var answeredAt: Date?

    public init(
        id: ChallengeID, userID: UserID, tokenID: TokenID, suite: String, challenge: String, payeeAccount: String,
        amount: Int64, createdAt: Date, expiresAt: Date, answeredAt: Date? = nil
    ) {
        self.id = id
        self.userID = userID
        self.tokenID = tokenID
        self.suite = suite
        self.challenge = challenge
        self.payeeAccount = payeeAccount
        self.amount = amount
        self.createdAt = createdAt
        self.expiresAt = expiresAt
        self.answeredAt = answeredAt
    }
}

/// Storage for transaction signing: the per-token replay state and the JSON API's challenges.
public protocol SigningRepository: Sendable {
    /// Records an accepted signature: sets the token's last signature step (OCRA time step or counter) to `step`
    /// only if the token is active and its last one is earlier; resets the failure count. One conditional update,
    /// with `audit` in the same transaction.
    /// - Returns: whether it was accepted (false: replayed, or the token changed state meanwhile).
    func recordSignature(ofStep step: Int64, for token: TokenID, at now: Date, audit: AuditEvent) async throws -> Bool
    /// Stores a new signing challenge with its audit record.
    func insert(_ challenge: SigningChallenge, audit: AuditEvent) async throws
    /// The challenge with `id`, if any.
    func signingChallenge(_ id: ChallengeID) async throws -> SigningChallenge?
    /// Marks the challenge answered if it is still open and not expired at `now` (compare-and-set).
    /// - Returns: whether this call answered it.
    func consumeSigningChallenge(_ id: ChallengeID, at now: Date) async throws -> Bool
}

/// The transfer data a signature binds: the payee account and the amount, as the server holds them.
public struct SignedTransaction: Sendable, Hashable {
    public var payeeAccount: String
    public var amount: Int64
    /// The JSON API challenge answered, for the audit trail (not part of what is signed).
    public var challengeID: ChallengeID?

    public init(payeeAccount: String, amount: Int64, challengeID: ChallengeID? = nil) {
        self.payeeAccount = payeeAccount
        self.amount = amount
        self.challengeID = challengeID
    }
}

/// What a customer is shown to sign: the suite and the challenge for the transfer.
public struct SigningPrompt: Sendable, Hashable {
    public var suite: OCRASuite
    public var challenge: String
    public var transaction: SignedTransaction

    /// What the audit trail records of a signature: suite, challenge, payee account and amount (never the code), and
    /// the JSON API challenge it answers.
    public var auditDescription: String {
        "suite=\(suite.text) challenge=\(challenge) payee_account=\(transaction.payeeAccount) amount=\(transaction.amount)"
            + (transaction.challengeID.map { " challenge_id=\($0)" } ?? "")
    }
}

/// Transaction authentication: derives the challenge of a transfer and checks signatures, with the OTP's once-only
/// rule (per token, in the database) and lockout (the same failure count and threshold as OTPs).
public struct TransactionSigning: Sendable {
    public let repository: any IchigoRepository & SigningRepository
    public let tokens: TokenService
    public let policy: TransferSigningPolicy

    public init(
        repository: any IchigoRepository & SigningRepository, tokens: TokenService, policy: TransferSigningPolicy
    ) {
        self.repository = repository
        self.tokens = tokens
        self.policy = policy
    }

    /// Whether transfers need a signature.
    public var isRequired: Bool { policy.isRequired }

    /// The suite of `token` if the server can check its signatures.
    public func suite(of token: Token) -> OCRASuite? {
        guard let text = token.ocraSuite, let suite = try? OCRASuite(text),
            TransferSigningPolicy.problem(with: suite) == nil
        else { return nil }
        return suite
    }

    /// The challenge `token` signs for `transaction`.
    /// - Throws: `signingUnsupported` if the token has no usable suite or the transfer does not fit it;
    ///   `invalidInput` for an account that is not 7 digits or an amount below 1.
    public func prompt(for token: Token, _ transaction: SignedTransaction) throws -> SigningPrompt {
        guard let suite = suite(of: token) else {
            throw IchigoError(
                .signingUnsupported, detail: "token \(token.serial) has no OCRA suite the server can check")
        }
        let challenge: TransactionChallenge
        do {
            challenge = try TransactionChallenge(
                payeeAccount: transaction.payeeAccount, amount: Int(transaction.amount))
        } catch {
            throw IchigoError(.invalidInput, detail: error.description)
        }
        do {
            _ = try challenge.question(for: suite)
        } catch {
            throw IchigoError(.signingUnsupported, detail: error.description)
        }
        return SigningPrompt(suite: suite, challenge: challenge.challenge, transaction: transaction)
    }

    /// Whether `text` looks like a response of `suite` (its number of ASCII digits).
    public static func isWellFormed(_ text: String, for suite: OCRASuite?) -> Bool {
        let digits = suite?.digits ?? 6
        return text.utf8.count == digits && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }
    }

    /// Checks a signature by `user`'s token over `transaction` and records the outcome: accepted once (per token and
    /// time step or counter), a wrong one counted towards the token's lockout like a wrong OTP.
    ///
    /// - Parameters:
    ///   - action: the audit action (`transfer.sign`, `transfer.approve.sign`, `signature.verify`).
    /// - Throws: `signingUnsupported` (nothing counted) if the token cannot sign this transfer.
    public func verify(
        _ text: String, by user: UserID, over transaction: SignedTransaction, action: String, actor: String,
        at now: Date
    ) async throws -> VerificationResult {
        guard let found = try await repository.userWithToken(user) else {
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor, action: action, subject: "user:\(user.rawValue)", outcome: "refused",
                    reason: Refusal.unknownUser.rawValue))
            return .refused(.unknownUser)
        }
        guard let token = found.token else {
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor, action: action, subject: "user:\(user.rawValue)", outcome: "refused",
                    reason: Refusal.noToken.rawValue))
            return .refused(.noToken)
        }
        return try await verify(text, on: token, over: transaction, action: action, actor: actor, at: now)
    }

    /// As `verify(_:by:over:…)`, for a token already read.
    public func verify(
        _ text: String, on token: Token, over transaction: SignedTransaction, action: String, actor: String,
        at now: Date
    ) async throws -> VerificationResult {
        let started = ContinuousClock.now
        let result: VerificationResult
        do {
            result = try await check(text, on: token, over: transaction, action: action, actor: actor, at: now)
        } catch {
            tokens.metrics.verification(action: action, outcome: "error")
            throw error
        }
        tokens.metrics.verificationTook(since: started)
        switch result {
        case .accepted: tokens.metrics.verification(action: action, outcome: "accepted")
        case .refused(let reason): tokens.metrics.verification(action: action, outcome: reason.rawValue)
        }
        return result
    }

    private func check(
        _ text: String, on token: Token, over transaction: SignedTransaction, action: String, actor: String,
        at now: Date
    ) async throws -> VerificationResult {
        let subject = token.serial.rawValue
        guard token.state == .active else {
            let reason: Refusal = token.state == .locked ? .locked : .notActive
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor, action: action, subject: subject, outcome: "refused", reason: reason.rawValue
                ))
            return .refused(reason)
        }
        let prompt = try self.prompt(for: token, transaction)
        func event(_ outcome: String, _ reason: Refusal?) -> AuditEvent {
            AuditEvent(
                at: now, actor: actor, action: action, subject: subject, outcome: outcome,
                reason: (reason.map { $0.rawValue + " " } ?? "") + prompt.auditDescription)
        }
        let ocra = OCRA(seed: try tokens.vault.open(token.sealedSeed, for: token.id), suite: prompt.suite)
        let question = OCRAQuestion(prompt.challenge)
        var matched: Int64? = nil
        if let response = OCRAResponse(text), Self.isWellFormed(text, for: prompt.suite) {
            if prompt.suite.period != nil {
                let centre = try prompt.suite.timeStep(at: now)
                matched = try ocra.matchingTimeStep(
                    for: response, to: question, around: centre, window: tokens.policy.window
                ).map { Int64($0) }
            } else {
                let next = UInt64(max(token.lastSignatureStep + 1, 0))
                matched = try ocra.matchingCounter(
                    for: response, to: question, from: next, lookAhead: policy.counterLookAhead
                ).map { Int64($0) }
            }
        }
        if let step = matched {
            if step <= token.lastSignatureStep {
                try await repository.append(event("refused", .replay))
                return .refused(.replay)
            }
            if try await repository.recordSignature(ofStep: step, for: token.id, at: now, audit: event("accepted", nil))
            {
                return .accepted(step: step, serial: token.serial)
            }
            // Lost a race: another request took this step, or the token changed state meanwhile.
            let current = try await repository.token(token.id)
            let reason: Refusal =
                current?.state == .locked ? .locked : (current?.state == .active ? .replay : .notActive)
            try await repository.append(event("refused", reason))
            return .refused(reason)
        }
        // A wrong signature counts like a wrong OTP: same counter, threshold and lock notices.
        return try await tokens.countWrongCode(on: token, audit: event("refused", .invalidCode), at: now)
    }

    // MARK: JSON API challenges

    /// Issues a challenge for `user`'s token over `transaction`, answerable once within the policy's lifetime.
    /// - Throws: `userNotFound`, `noToken`, `tokenNotActive`, `tokenLocked`, `signingUnsupported`, `invalidInput`.
    public func issueChallenge(
        for user: UserID, over transaction: SignedTransaction, actor: String, at now: Date
    ) async throws -> SigningChallenge {
        // The same payee account and amount rules as the screens' (`TransferForm`).
        guard TransferForm.isAccountNumber(transaction.payeeAccount) else {
            throw IchigoError(.invalidInput, field: "payeeAccount")
        }
        guard TransferForm.isAllowed(amount: transaction.amount) else { throw IchigoError(.invalidInput, field: "amount") }
        guard let found = try await repository.userWithToken(user) else { throw IchigoError(.userNotFound) }
        guard let token = found.token, token.state.occupiesUser else { throw IchigoError(.noToken) }
        guard token.state != .locked else { throw IchigoError(.tokenLocked) }
        guard token.state == .active else { throw IchigoError(.tokenNotActive) }
        let prompt = try self.prompt(for: token, transaction)
        let challenge = SigningChallenge(
            id: .random(), userID: user, tokenID: token.id, suite: prompt.suite.text,
            challenge: prompt.challenge, payeeAccount: transaction.payeeAccount, amount: transaction.amount,
            createdAt: now, expiresAt: now + policy.challengeLifetime)
        try await repository.insert(
            challenge,
            audit: AuditEvent(
                at: now, actor: actor, action: "signature.challenge", subject: challenge.id.rawValue, outcome: "ok",
                reason: "user=\(user.rawValue) token=\(token.serial.rawValue) " + prompt.auditDescription))
        return challenge
    }

    /// Answers a challenge: it is consumed first (whatever the outcome, a challenge is answered once), then the
    /// response is checked against the challenge's transaction data as stored, counting a wrong one towards the
    /// token's lockout.
    /// - Throws: `challengeNotFound`, `challengeUsed`, `challengeExpired` (nothing counted).
    public func answer(_ id: ChallengeID, response text: String, actor: String, at now: Date) async throws
        -> (challenge: SigningChallenge, result: VerificationResult)
    {
        guard let challenge = try await repository.signingChallenge(id) else { throw IchigoError(.challengeNotFound) }
        guard challenge.answeredAt == nil else { throw IchigoError(.challengeUsed) }
        guard now < challenge.expiresAt else { throw IchigoError(.challengeExpired) }
        // A response that cannot be a code of the challenge's suite (its number of digits) is bad input: it neither
        // uses the challenge up nor counts towards the token's lockout, as on the screens.
        guard Self.isWellFormed(text, for: try? OCRASuite(challenge.suite)) else {
            throw IchigoError(.invalidInput, field: "response")
        }
        guard try await repository.consumeSigningChallenge(id, at: now) else {
            let again = try await repository.signingChallenge(id)
            throw IchigoError(again?.answeredAt != nil ? .challengeUsed : .challengeExpired)
        }
        let transaction = SignedTransaction(
            payeeAccount: challenge.payeeAccount, amount: challenge.amount, challengeID: challenge.id)
        guard let token = try await repository.token(challenge.tokenID),
            try await repository.user(challenge.userID)?.tokenID == token.id
        else {
            // The user's token was replaced since: the challenge was for the old one.
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor, action: "signature.verify", subject: "user:\(challenge.userID.rawValue)",
                    outcome: "refused", reason: Refusal.noToken.rawValue + " challenge=\(id)"))
            return (challenge, .refused(.noToken))
        }
        let result = try await verify(
            text, on: token, over: transaction, action: "signature.verify", actor: actor, at: now)
        return (challenge, result)
    }
}

extension Refusal {
    /// The error a refused signature reads as: unknown user, no token, wrong signature and replay read the same.
    public var signatureErrorCode: IchigoError.Code {
        switch self {
        case .unknownUser, .noToken, .invalidCode, .replay: .signatureInvalid
        case .invalidCodeLastTry: .signatureLastTry
        case .locked, .lockedByThisAttempt: .tokenLocked
        case .notActive: .tokenNotActive
        }
    }
}
