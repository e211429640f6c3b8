import Foundation
import OTP

/// What a one-time code does to a token: the one rule for the window, the once-only step and the clock offset, and
/// the token as it is after the outcome. Pure: every path uses it — the token service's step-by-step path and its
/// single-transaction decision (`TokenService.decide`), and every store when it applies a decision (the memory fake,
/// SQLite's conditional update, PostgreSQL's locked batch) — so the rule exists once.
public enum CodeRule {
    /// Why a token in `state` cannot take a code when `required` is needed, if it cannot.
    public static func stateRefusal(of token: Token, requiring required: TokenState) -> Refusal? {
        guard token.state != required else { return nil }
        return token.state == .locked ? .locked : .notActive
    }

    /// The decision for `code` on `token` (whose state was checked) with its opened `seed` at `now`: accepted at the
    /// matching step within `policy.window` around the expected step (the token's clock offset applied) if that step
    /// is later than the last accepted one, refused as a replay if not, wrong if no step matches. The offset kept is
    /// the accepted step's distance from now, bounded by `policy.maxDriftSteps`.
    public static func judge(_ code: OTPCode, on token: Token, seed: Seed, policy: OTPPolicy, at now: Date)
        -> CodeDecision
    {
        let totp = TOTP(seed: seed, parameters: token.parameters)
        let currentStep = token.parameters.step(at: now)
        guard let step = totp.matchingStep(for: code, around: currentStep + Int64(token.driftSteps), window: policy.window)
        else { return .wrong }
        guard step > token.lastAcceptedStep else { return .refuse(.replay) }
        let drift = Int(max(-Int64(policy.maxDriftSteps), min(Int64(policy.maxDriftSteps), step - currentStep)))
        return .accept(step: step, driftSteps: drift)
    }
}

extension Token {
    /// The token after a code for `step` was accepted at `now`: that step is the last accepted, no failures, the
    /// clock offset kept, active (an issued token's first code activates it).
    public func accepting(step: Int64, driftSteps: Int, at now: Date) -> Token {
        var token = self
        token.lastAcceptedStep = step
        token.failureCount = 0
        token.driftSteps = driftSteps
        token.state = .active
        token.lastUsedAt = now
        token.updatedAt = now
        return token
    }

    /// The token after a wrong code at `now`: one more failure, locked (remembering the state it was locked from)
    /// when the failures reach `threshold` (`nil`: a failure the caller knows cannot lock).
    public func countingFailure(lockingAt threshold: Int?, at now: Date) -> Token {
        var token = self
        token.failureCount += 1
        token.updatedAt = now
        if let threshold, token.failureCount >= threshold {
            token.lockedFrom = token.state
            token.state = .locked
        }
        return token
    }
}
