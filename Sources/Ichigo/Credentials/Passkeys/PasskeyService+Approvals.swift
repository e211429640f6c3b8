import Foundation

extension PasskeyService {
    /// A retail transfer (振込, BFK002) approved with a passkey instead of the confirmation password and OTP: the
    /// assertion must answer a challenge made for this transfer as the server holds it (`transfer`, the pending
    /// transfer of the session, never the form). Then the money moves, in one transaction with its audit record, which
    /// names the passkey.
    public func transfer(
        _ transfer: Transfer, by user: User, approval json: PasskeyAssertionJSON, binding: String, at now: Date
    ) async throws {
        let passkey = try await approve(
            json, by: user, subject: .transfer(transfer), action: "transfer.passkey", binding: binding, at: now)
        let done = try await repository.execute(
            transfer, by: user.id,
            audit: AuditEvent(
                at: now, actor: "user:\(user.id.rawValue)", action: "transfer", subject: transfer.id.rawValue, outcome: "ok",
                reason: transfer.auditDescription + " approved_with=passkey credential=\(passkey.credentialID.prefix(16))"))
        guard done else { throw IchigoError(.insufficientFunds) }
    }
}

/// How an approval (承認実行, 権限変更) is proven.
public enum ApprovalProof: Sendable {
    /// The confirmation password and the OTP (or, under 取引認証, the signature).
    case codes(confirmationPassword: String, code: String)
    /// A passkey assertion for a challenge made for exactly what is approved, in the session `binding`.
    case passkey(PasskeyAssertionJSON, binding: String, service: PasskeyService)
}
