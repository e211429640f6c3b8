import Foundation
import Logging
import OTP

/// Start of use (BOK001 → BOK002) and cancellation of use (BOS001 → BOS002).
extension RetailService {
    // MARK: BOK001 → BOK002

    /// Start of use: the first code from the app moves the token to 利用中 and mails 利用開始登録完了のご案内.
    public func startUse(by user: User, code text: String, at now: Date) async throws {
        guard let code = OTPCode(text) else {
            throw ValidationErrors(fields: ["otp": text.isEmpty ? .required : .invalidOTPFormat])
        }
        let mail = user.email.map {
            OutgoingMail(recipient: $0, mail: .useStarted(bank: bankName, name: user.name, at: now), createdAt: now)
        }
        let result = try await tokens.activate(code, for: user.id, actor: "user:\(user.id.rawValue)", at: now, mail: mail)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
        if mail != nil { metrics.mailQueued() }
    }

    /// 申込を中止する on BOK001: cancels only this start-of-use application. The token the customer set up in the app
    /// stays トークン発行済 and BOK001 can be tried again; the abort is in the audit trail if there was one to abort.
    public func abortStartOfUse(by user: User, at now: Date) async throws {
        guard let token = try await repository.userWithToken(user.id)?.token, token.state == .issued else { return }
        try await repository.append(
            AuditEvent(
                at: now, actor: "user:\(user.id.rawValue)", action: "token.start_use", subject: token.serial.rawValue,
                outcome: "aborted"))
    }

    // MARK: BOS001 → BOS002

    /// Cancellation of use: confirmation password and OTP, then the token is cancelled and a new issuance
    /// waits until the next day (Japan time).
    ///
    /// Only an active software token (the app) is cancelled here (`mayCancelUse`); a hardware token is returned to
    /// the bank through its operator (`illegalTransition`, before any password or code is checked or counted).
    public func cancelUse(by user: User, confirmationPassword: String, code text: String, at now: Date) async throws {
        guard let current = try await repository.userWithToken(user.id)?.token else { throw IchigoError(.noToken) }
        guard Self.mayCancelUse(current) else {
            throw IchigoError(.illegalTransition, detail: "only an active software token is cancelled by its customer")
        }
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if OTPCode(text) == nil { errors["otp"] = text.isEmpty ? .required : .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "token.cancel", at: now)
        try await credentials.verifyOTP(text, for: user, at: now)
        guard let token = try await repository.userWithToken(user.id)?.token else { throw IchigoError(.noToken) }
        let moved = try await repository.cancelUse(
            of: token.id, from: token.state, by: user.id, at: now,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "token.cancel", subject: token.serial.rawValue,
                              outcome: "ok", reason: "\(token.state.rawValue)->cancelled"))
        guard moved else { throw IchigoError(.concurrentUpdate) }
    }

    /// Whether the customer may cancel the use of `token` themselves (BOS001): an active software token.
    public static func mayCancelUse(_ token: Token?) -> Bool {
        token?.kind == .software && token?.state == .active
    }
}
