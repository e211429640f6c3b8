import Foundation
import Logging
import OTP

/// Why a code was not accepted. Several reasons read the same to the outside (`errorCode`).
public enum Refusal: String, Sendable, Hashable {
    case unknownUser = "unknown_user"
    case noToken = "no_token"
    case notActive = "not_active"
    case locked
    case invalidCode = "invalid_code"
    case replay
    /// A wrong code that reached the lockout threshold with this attempt.
    case lockedByThisAttempt = "invalid_code_locked"
    /// A wrong code after which one more wrong code locks the token (残り1回).
    case invalidCodeLastTry = "invalid_code_last_try"

    /// The error the outside sees: unknown user, no token, wrong code and replay are indistinguishable.
    public var errorCode: IchigoError.Code {
        switch self {
        case .unknownUser, .noToken, .invalidCode, .replay: .otpInvalid
        case .invalidCodeLastTry: .otpLastTry
        case .locked, .lockedByThisAttempt: .tokenLocked
        case .notActive: .tokenNotActive
        }
    }
}

/// The answer to a code.
public enum VerificationResult: Sendable, Hashable {
    /// Accepted: the token's step and serial.
    case accepted(step: Int64, serial: SerialNumber)
    /// Refused, and why.
    case refused(Refusal)

    public var isAccepted: Bool {
        if case .accepted = self { return true }
        return false
    }
}

/// Enrols tokens, checks codes and carries out operators' token actions.
///
/// Holds no state of its own; every rule that must hold across instances is enforced by the repository.
public struct TokenService: Sendable {
    public let repository: any IchigoRepository
    public let vault: SeedVault
    public let policy: OTPPolicy
    let logger: Logger
    /// Counts and times every checked code.
    public let metrics: IchigoMetrics
    /// Writes the mails that tell people their token locked; none if nil.
    let lockNotices: LockNotices?

    public init(
        repository: any IchigoRepository, vault: SeedVault, policy: OTPPolicy = .standard, logger: Logger,
        metrics: IchigoMetrics = IchigoMetrics(), lockNotices: LockNotices? = nil
    ) {
        self.repository = repository
        self.vault = vault
        self.policy = policy
        self.logger = logger
        self.metrics = metrics
        self.lockNotices = lockNotices
    }

    /// Runs a check, counting its outcome and timing it.
    private func measured(_ action: String, _ check: () async throws -> VerificationResult) async throws
        -> VerificationResult
    {
        let started = ContinuousClock.now
        let result: VerificationResult
        do {
            result = try await check()
        } catch {
            metrics.verification(action: action, outcome: "error")
            throw error
        }
        metrics.verificationTook(since: started)
        switch result {
        case .accepted: metrics.verification(action: action, outcome: "accepted")
        case .refused(let reason): metrics.verification(action: action, outcome: reason.rawValue)
        }
        return result
    }

    // MARK: Enrolment

    /// Creates a software token for `user` in state `issued` (the holder has the seed; the first code is pending).
    ///
    /// - Returns: the token and its seed, which the caller shows once (e.g. as an `otpauth://` URI) and forgets.
    /// - Throws: `userNotFound`, `tokenAlreadyAssigned`.
    /// - Parameter ocraSuite: the OCRA suite the token signs transfers with (the bank's, under the signing policy).
    public func enrolSoftwareToken(
        for user: UserID, state: TokenState = .issued, ocraSuite: String? = nil, actor: String, at now: Date
    ) async throws -> (token: Token, seed: Seed) {
        guard let holder = try await repository.user(user) else { throw IchigoError(.userNotFound) }
        let seed = Seed.random(byteCount: policy.parameters.algorithm == .sha1 ? 20 : 32)
        for attempt in 1...5 {
            let id = TokenID.random()
            let token = Token(
                id: id, serial: .randomSoftware(), kind: .software, state: state,
                sealedSeed: try vault.seal(seed, for: id), parameters: policy.parameters, contractID: holder.contractID,
                createdAt: now, ocraSuite: ocraSuite)
            do {
                try await repository.insert(
                    token, assigningTo: [user],
                    audit: AuditEvent(
                        at: now, actor: actor, action: "token.enrol", subject: token.serial.rawValue, outcome: "ok",
                        reason: "user=\(user.rawValue) state=\(state.rawValue)"))
                logger.debug("token enrolled", metadata: ["token.serial": "\(token.serial)", "user.id": "\(user)"])
                return (token, seed)
            } catch let error as IchigoError where error.code == .serialTaken && attempt < 5 {
                continue
            }
        }
        throw IchigoError(.serialTaken, detail: "could not find a free serial")
    }

    // MARK: Verification

    /// Checks `code` for `user` at `now` and records the outcome.
    ///
    /// Accepts only if the user's token is active, the code matches within the policy's window around the
    /// token's expected step, and that step is later than the last step accepted for the token (per token,
    /// so a code one sharer used cannot be used by another). A wrong code counts towards the lockout.
    public func verify(_ code: OTPCode, for user: UserID, actor: String, at now: Date) async throws
        -> VerificationResult
    {
        try await measured("otp.verify") {
            try await check(code, for: user, requiring: .active, action: "otp.verify", actor: actor, at: now)
        }
    }

    /// The first code after issuance (BOK001 / the API's activate): moves an `issued` token to `active`.
    /// - Parameter mail: a mail to queue in the same transaction when the code is accepted.
    public func activate(
        _ code: OTPCode, for user: UserID, actor: String, at now: Date, mail: OutgoingMail? = nil
    ) async throws -> VerificationResult {
        try await measured("token.activate") {
            try await check(code, for: user, requiring: .issued, action: "token.activate", actor: actor, at: now, mail: mail)
        }
    }

    private func check(
        _ code: OTPCode, for userID: UserID, requiring requiredState: TokenState, action: String, actor: String,
        at now: Date, mail: OutgoingMail? = nil
    ) async throws -> VerificationResult {
        func event(_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent {
            AuditEvent(
                at: now, actor: actor, action: action, subject: subject, outcome: outcome, reason: reason?.rawValue)
        }
        func refuse(_ reason: Refusal, subject: String) async throws -> VerificationResult {
            try await repository.append(event(subject, "refused", reason))
            return .refused(reason)
        }

        if mail == nil {
            // One transaction where the store offers it (SQLite): read, decide and write together.
            let vault = vault
            let policy = policy
            let checked = try await repository.checkCode(
                for: userID, requiring: requiredState, at: now,
                audit: { subject, outcome, reason in
                    AuditEvent(
                        at: now, actor: actor, action: action, subject: subject, outcome: outcome,
                        reason: reason?.rawValue)
                },
                decide: { token in
                    Self.decide(code, on: token, requiring: requiredState, policy: policy, vault: vault, at: now)
                })
            if case .decided(let result, let failureCount) = checked {
                if case .refused(.invalidCode) = result, failureCount == policy.lockoutThreshold - 1 {
                    return .refused(.invalidCodeLastTry)
                }
                return result
            }
        }
        guard let found = try await repository.userWithToken(userID) else {
            return try await refuse(.unknownUser, subject: "user:\(userID.rawValue)")
        }
        guard let token = found.token else { return try await refuse(.noToken, subject: "user:\(userID.rawValue)") }
        return try await check(code, on: token, requiring: requiredState, action: action, actor: actor, at: now, mail: mail)
    }

    /// The decision for `code` on `token` as read inside the store's transaction (`checkCode`): the same rules
    /// as the step-by-step path below, except that a wrong code that may lock the token goes step by step (its
    /// lock notices are prepared outside the transaction).
    static func decide(
        _ code: OTPCode, on token: Token, requiring requiredState: TokenState, policy: OTPPolicy, vault: SeedVault,
        at now: Date
    ) -> CodeDecision {
        if let refusal = CodeRule.stateRefusal(of: token, requiring: requiredState) { return .refuse(refusal) }
        guard let seed = try? vault.open(token.sealedSeed, for: token.id) else { return .stepByStep }
        let decision = CodeRule.judge(code, on: token, seed: seed, policy: policy, at: now)
        if decision == .wrong, token.failureCount + 1 >= policy.lockoutThreshold { return .stepByStep }
        return decision
    }

    /// Checks `code` against `token` directly (token registration by serial, where the token may have no
    /// holder yet). Accepts in `issued` (moving it to `active`) or `active` state.
    public func verify(_ code: OTPCode, onToken token: Token, action: String, actor: String, at now: Date) async throws
        -> VerificationResult
    {
        let required: TokenState = token.state == .issued ? .issued : .active
        return try await measured(action) {
            try await check(code, on: token, requiring: required, action: action, actor: actor, at: now, mail: nil)
        }
    }

    private func check(
        _ code: OTPCode, on token: Token, requiring requiredState: TokenState, action: String, actor: String,
        at now: Date, mail: OutgoingMail?
    ) async throws -> VerificationResult {
        func event(_ subject: String, _ outcome: String, _ reason: Refusal?) -> AuditEvent {
            AuditEvent(
                at: now, actor: actor, action: action, subject: subject, outcome: outcome, reason: reason?.rawValue)
        }
        func refuse(_ reason: Refusal, subject: String) async throws -> VerificationResult {
            try await repository.append(event(subject, "refused", reason))
            return .refused(reason)
        }
        let subject = token.serial.rawValue
        if let refusal = CodeRule.stateRefusal(of: token, requiring: requiredState) {
            return try await refuse(refusal, subject: subject)
        }
        let seed = try vault.open(token.sealedSeed, for: token.id)
        switch CodeRule.judge(code, on: token, seed: seed, policy: policy, at: now) {
        case .accept(let step, let drift):
            let accepted = try await repository.recordAcceptance(
                ofStep: step, driftSteps: drift, for: token.id, in: requiredState, at: now,
                audit: event(subject, "accepted", nil), mail: mail)
            if accepted { return .accepted(step: step, serial: token.serial) }
            // Lost the race: another request took this step, or the token changed state meanwhile.
            return try await refuse(try await reasonAfterLostRace(token.id, requiredState), subject: subject)
        case .refuse(let refusal):
            return try await refuse(refusal, subject: subject)
        case .wrong, .stepByStep:
            return try await countWrongCode(on: token, audit: event(subject, "refused", .invalidCode), at: now)
        }
    }

    /// Counts a wrong code (or signature) against `token`: one failure count, threshold, lock audit and lock notices
    /// for OTPs and signatures.
    ///
    /// The lock's notice goes in the lock's transaction. It is written only when this failure may lock (the count as
    /// read is within one of the threshold: one concurrent failure is allowed for); a lock reached through more
    /// concurrent failures than that gets its notice queued just after.
    func countWrongCode(on token: Token, audit: AuditEvent, at now: Date) async throws -> VerificationResult {
        let mayLock = token.failureCount + 2 >= policy.lockoutThreshold
        let lockMails =
            mayLock ? try await lockNotices?.tokenLocked(token, threshold: policy.lockoutThreshold, at: now) ?? [] : []
        let outcome = try await repository.recordFailure(
            for: token.id, lockingAt: policy.lockoutThreshold, at: now, audit: audit,
            lockAudit: AuditEvent(
                at: now, actor: "system", action: "token.lock", subject: token.serial.rawValue, outcome: "ok",
                reason: "\(policy.lockoutThreshold) consecutive wrong codes"),
            lockMails: lockMails)
        guard let outcome else {
            // The token left `issued`/`active` meanwhile (locked by a concurrent failure, or stopped).
            let current = try await repository.token(token.id)
            let reason: Refusal = current == nil ? .noToken : current?.state == .locked ? .locked : .notActive
            try await repository.append(
                AuditEvent(at: now, actor: audit.actor, action: audit.action, subject: audit.subject, outcome: "refused",
                           reason: reason.rawValue))
            return .refused(reason)
        }
        if outcome.lockedNow {
            metrics.tokenLocked()
            metrics.mailQueued(lockMails.count)
            if !mayLock, let lockNotices, let outbox = repository as? any RetailRepository {
                for mail in try await lockNotices.tokenLocked(token, threshold: policy.lockoutThreshold, at: now) {
                    try await outbox.enqueue(mail)
                    metrics.mailQueued()
                }
            }
            return .refused(.lockedByThisAttempt)
        }
        return .refused(outcome.failureCount == policy.lockoutThreshold - 1 ? .invalidCodeLastTry : .invalidCode)
    }

    private func reasonAfterLostRace(_ token: TokenID, _ requiredState: TokenState) async throws -> Refusal {
        guard let current = try await repository.token(token) else { return .noToken }
        if current.state == requiredState || current.state == .active { return .replay }
        return current.state == .locked ? .locked : .notActive
    }

    // MARK: Lifecycle actions

    /// Applies `event` to the token with `serial`, with compare-and-set in the store.
    ///
    /// - Throws: `tokenNotFound`, `illegalTransition`, `concurrentUpdate`.
    @discardableResult
    public func apply(_ event: TokenEvent, toSerial serial: SerialNumber, actor: String, at now: Date) async throws
        -> Token
    {
        guard let token = try await repository.token(serial: serial) else { throw IchigoError(.tokenNotFound) }
        return try await apply(event, to: token, actor: actor, at: now)
    }

    /// Applies `event` to `token` (as last read), with compare-and-set in the store.
    @discardableResult
    public func apply(_ event: TokenEvent, to token: Token, actor: String, at now: Date) async throws -> Token {
        let newState = try token.state.applying(event, lockedFrom: token.lockedFrom)
        let moved = try await repository.transition(
            token.id, from: token.state, to: newState, resetFailures: event == .unlock, at: now,
            audit: AuditEvent(
                at: now, actor: actor, action: "token.\(event.rawValue)", subject: token.serial.rawValue,
                outcome: "ok", reason: "\(token.state.rawValue)->\(newState.rawValue)"))
        guard moved else { throw IchigoError(.concurrentUpdate, detail: "token \(token.serial) changed meanwhile") }
        guard let updated = try await repository.token(token.id) else { throw IchigoError(.tokenNotFound) }
        return updated
    }

    /// Lets `user` share the token with `serial` (a token may serve several users).
    public func share(_ serial: SerialNumber, with user: UserID, actor: String, at now: Date) async throws -> Token {
        guard let token = try await repository.token(serial: serial) else { throw IchigoError(.tokenNotFound) }
        guard !token.state.isFinal else {
            throw IchigoError(.illegalTransition, detail: "a \(token.state.rawValue) token cannot be assigned")
        }
        // Only within one corporate contract: a token never passes to another customer or to a retail customer.
        guard let holder = try await repository.user(user) else { throw IchigoError(.userNotFound) }
        guard holder.isCorporate, token.contractID == holder.contractID else {
            throw IchigoError(.tokenNotRegistrable, detail: "a token is shared only among users of its own contract")
        }
        try await repository.assign(
            token.id, to: user,
            audit: AuditEvent(
                at: now, actor: actor, action: "token.assign", subject: serial.rawValue, outcome: "ok",
                reason: "user=\(user.rawValue)"))
        return token
    }
}
