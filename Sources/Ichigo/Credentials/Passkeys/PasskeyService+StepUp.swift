import Foundation

/// A mail notification password sent for a passkey registration's step-up, as the browser session keeps it (hashed).
public struct PasskeyMailPassword: Sendable, Codable, Hashable {
    /// The password's slow salted hash.
    public var hash: String
    public var expiresAt: Date
    /// Wrong entries so far; at `RetailPolicy.mailPasswordMaxAttempts` it is void.
    public var attempts: Int
}

extension PasskeyService {
    /// Whether the step-up asks for the OTP (the user's token is in use, or stopped) rather than a mail password.
    public func stepUpUsesOTP(_ user: User) async throws -> Bool {
        try await credentials.loginNeedsOTP(user)
    }

    /// Sends a mail notification password to the user's registered address for a registration's step-up (users
    /// without a token in use). Throws `noRegisteredEmail` when there is no address.
    public func sendStepUpMailPassword(to user: User, at now: Date) async throws -> PasskeyMailPassword {
        guard let email = user.email, !email.isEmpty else { throw IchigoError(.noRegisteredEmail) }
        let code = String((0..<8).map { _ in "0123456789".randomElement()! })
        let minutes = Int(credentials.policy.mailPasswordLifetime / 60)
        try await repository.enqueue(
            OutgoingMail(
                recipient: email,
                mail: .passkeyStepUpPassword(bank: bankName, name: user.name, code: code, minutes: minutes, at: now),
                createdAt: now))
        try await repository.append(
            AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "passkey.stepup_mail", subject: user.id.rawValue,
                       outcome: "ok", reason: "mail notification password sent to the registered address"))
        return PasskeyMailPassword(
            hash: try credentials.hasher.hash(code).encoded, expiresAt: now + credentials.policy.mailPasswordLifetime, attempts: 0)
    }

    /// The step-up before a registration: the confirmation password, and the current OTP (or, for a user without a
    /// token in use, the mail notification password). Wrong passwords and codes count as everywhere else (lockout);
    /// a wrong mail password raises `mailPassword.attempts`, and the caller drops it at the limit.
    public func stepUp(
        _ user: User, confirmationPassword: String, otp: String, mailPassword: String,
        mailChallenge: inout PasskeyMailPassword?, at now: Date
    ) async throws {
        let usesOTP = try await stepUpUsesOTP(user)
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if usesOTP && otp.isEmpty { errors["otp"] = .required }
        if !usesOTP && mailPassword.isEmpty { errors["mailPassword"] = .required }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        if !usesOTP {
            guard let challenge = mailChallenge, now < challenge.expiresAt else {
                mailChallenge = nil
                throw IchigoError(.mailPasswordExpired)
            }
            _ = challenge
        }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "passkey.stepup", at: now)
        if usesOTP {
            try await credentials.verifyOTP(otp, for: user, at: now)
        } else if var challenge = mailChallenge {
            guard credentials.hasher.verify(mailPassword, against: PasswordHash(encoded: challenge.hash)) else {
                challenge.attempts += 1
                mailChallenge = challenge.attempts >= credentials.policy.mailPasswordMaxAttempts ? nil : challenge
                try await repository.append(
                    AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "passkey.stepup",
                               subject: user.id.rawValue, outcome: "refused", reason: "wrong_mail_password"))
                throw IchigoError(.wrongMailPassword, field: "mailPassword")
            }
            mailChallenge = nil
        }
        try await repository.append(
            AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "passkey.stepup", subject: user.id.rawValue,
                       outcome: "accepted", reason: usesOTP ? "confirmation password and OTP" : "confirmation password and mail password"))
    }
}
