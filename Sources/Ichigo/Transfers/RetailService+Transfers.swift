import Foundation
import Logging
import OTP

/// Retail transfers (振込, BFK001 → BFK003).
extension RetailService {
    /// A retail transfer as typed on BFK001, checked (`TransferForm`) against the customer's own accounts: the
    /// account paid from, the payee and the amount; field errors otherwise (`account` when the account is not theirs).
    public func validateTransfer(
        from accountID: AccountID, bank: String, branch: String, account: String, name: String, amount: String,
        of user: UserID
    ) async throws -> (from: Account, payee: Payee, amount: Int64) {
        let own = try await repository.accounts(of: user).first { $0.id == accountID }
        let form = TransferForm.validate(bank: bank, branch: branch, account: account, name: name, amount: amount)
        var errors = form.errors
        if own == nil { errors["account"] = .required }
        guard let own, let payee = form.payee, let value = form.amount, errors.isEmpty else {
            throw ValidationErrors(fields: errors)
        }
        return (own, payee, value)
    }

    // MARK: Transfers

    /// Whether transfers need a transaction signature (取引認証) from `user` instead of the OTP: the policy requires
    /// it and the customer's token is in use (or stopped).
    public func needsSignature(_ user: User) async throws -> Bool {
        guard signing?.isRequired == true else { return false }
        return try await credentials.loginNeedsOTP(user)
    }

    /// The challenge BFK002 shows for `transfer` under the signing policy, or `nil` if the transfer needs no
    /// signature. Throws `signingUnsupported` if the customer's token cannot sign it.
    public func signingPrompt(for transfer: SignedTransaction, by user: User) async throws -> SigningPrompt? {
        guard let signing, try await needsSignature(user),
            let token = try await repository.userWithToken(user.id)?.token
        else { return nil }
        return try signing.prompt(for: token, transfer)
    }

    /// A transfer: confirmation password, and the OTP when the customer's OTP is in use. Money moves only if
    /// both pass and the balance suffices, in one transaction.
    ///
    /// Under the signing policy the code is instead a signature (取引認証番号) over the payee account and amount of
    /// `transfer` — the pending transfer as the server holds it. `shownTransferID` is the transfer whose challenge
    /// the confirming page showed: if it is not `transfer` (another window replaced the pending transfer), nothing is
    /// checked or counted and `transferChanged` is thrown. The signature is consumed (committed) before the money
    /// moves; a transfer refused afterwards for funds needs a new signature.
    public func transfer(
        _ transfer: Transfer, by user: User, confirmationPassword: String, code: String, shownTransferID: TransferID? = nil,
        at now: Date
    ) async throws {
        if let signing, try await needsSignature(user) {
            return try await signedTransfer(
                transfer, by: user, confirmationPassword: confirmationPassword, signature: code,
                shownTransferID: shownTransferID, signing: signing, at: now)
        }
        let needsOTP = try await credentials.loginNeedsOTP(user)
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if needsOTP && OTPCode(code) == nil { errors["otp"] = code.isEmpty ? .required : .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer", at: now)
        if needsOTP { try await credentials.verifyOTP(code, for: user, at: now) }
        let done = try await repository.execute(
            transfer, by: user.id,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer", subject: transfer.id.rawValue,
                              outcome: "ok", reason: transfer.auditDescription))
        guard done else { throw IchigoError(.insufficientFunds) }
    }

    func signedTransfer(
        _ transfer: Transfer, by user: User, confirmationPassword: String, signature: String, shownTransferID: TransferID?,
        signing: TransactionSigning, at now: Date
    ) async throws {
        guard shownTransferID == transfer.id else {
            try await repository.append(
                AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer.sign", subject: transfer.id.rawValue,
                           outcome: "refused", reason: "transfer_changed shown=\(shownTransferID?.rawValue ?? "-")"))
            throw IchigoError(.transferChanged)
        }
        let token = try await repository.userWithToken(user.id)?.token
        let suite = token.flatMap(signing.suite(of:))
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if signature.isEmpty {
            errors["signature"] = .required
        } else if !TransactionSigning.isWellFormed(signature, for: suite) {
            errors["signature"] = .invalidSignatureFormat
        }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer", at: now)
        let signed = SignedTransaction(payeeAccount: transfer.payee.account, amount: transfer.amount)
        let prompt = try token.map { try signing.prompt(for: $0, signed) }
        let result = try await signing.verify(
            signature, by: user.id, over: signed, action: "transfer.sign", actor: "user:\(user.id.rawValue)", at: now)
        if case .refused(let reason) = result {
            switch reason {
            case .locked, .lockedByThisAttempt, .notActive: throw IchigoError(reason.signatureErrorCode)
            default: throw IchigoError(reason.signatureErrorCode, field: "signature")
            }
        }
        let done = try await repository.execute(
            transfer, by: user.id,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer", subject: transfer.id.rawValue,
                              outcome: "ok",
                              reason: transfer.auditDescription + " signed " + (prompt?.auditDescription ?? "")))
        guard done else { throw IchigoError(.insufficientFunds) }
    }
}
