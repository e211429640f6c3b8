import Foundation
import Logging
import OTP

/// Corporate transfers (振込振替): transfer data, its approval and execution.
extension CorporateService {
    // MARK: Transfers (振込振替)

    /// Validates transfer data typed by a user with 振込振替 authority; returns the transfer (not yet stored) or
    /// the field errors.
    public func validateTransfer(_ input: TransferInput, by user: User, grants: Permissions, at now: Date) async throws
        -> CorporateTransfer
    {
        guard user.isCorporate, grants.authorities.contains(.transfer) else { throw IchigoError(.forbidden) }
        let accounts = try await repository.accounts(ofContract: user.contractID)
        let account = accounts.first { $0.id == input.accountID }
        let limit = grants.limit(for: input.accountID)
        let form = TransferForm.validate(input.payee, amount: input.amount)
        var errors = form.errors
        if account == nil || limit == nil { errors["account"] = .required }
        if let amount = form.amount, let limit, amount > limit { errors["amount"] = .overLimit }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        guard let payee = form.payee, let amount = form.amount else { throw ValidationErrors(fields: errors) }
        return CorporateTransfer(
            id: .corporate(), contractID: user.contractID, accountID: input.accountID, payee: payee,
            amount: amount, createdBy: user.id, createdAt: now)
    }

    /// Stores validated transfer data (振込振替データ作成), confirmed with the confirmation password.
    public func createTransfer(
        _ transfer: CorporateTransfer, by user: User, grants: Permissions, confirmationPassword: String, at now: Date
    ) async throws {
        guard transfer.createdBy == user.id, transfer.contractID == user.contractID,
            grants.authorities.contains(.transfer), let limit = grants.limit(for: transfer.accountID),
            transfer.amount <= limit
        else { throw IchigoError(.forbidden) }
        try requireFields(["confirmationPassword": confirmationPassword])
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.create", at: now)
        try await repository.insert(
            transfer,
            audit: AuditEvent(
                at: now, actor: actor(user), action: "transfer.create", subject: transfer.id.rawValue, outcome: "ok",
                reason: transfer.auditDescription))
    }

    /// The transfer data `id` as HSN002 shows it to `user` for approval: `forbidden` without the approval authority,
    /// `transferNotPending` when it is not this contract's or no longer awaits approval.
    public func transferAwaitingApproval(_ id: TransferID, by user: User, grants: Permissions) async throws
        -> CorporateTransfer
    {
        guard user.isCorporate, grants.authorities.contains(.transferApproval) else { throw IchigoError(.forbidden) }
        guard let transfer = try await repository.corporateTransfer(id), transfer.contractID == user.contractID,
            transfer.status == .pending
        else { throw IchigoError(.transferNotPending) }
        return transfer
    }

    /// 承認実行: the confirmation password and an OTP; the approver needs the approval authority and a limit
    /// covering the amount for the account, and may not approve their own data. Money moves once.
    public func approve(
        _ id: TransferID, by user: User, grants: Permissions, confirmationPassword: String, code: String, at now: Date
    ) async throws {
        try await approve(id, by: user, grants: grants, proof: .codes(confirmationPassword: confirmationPassword, code: code), at: now)
    }

    /// 承認実行 with either proof: the confirmation password and OTP (or signature), or a passkey whose challenge was
    /// made for this transfer data as stored (パスキーで承認; the audit row names the passkey).
    public func approve(_ id: TransferID, by user: User, grants: Permissions, proof: ApprovalProof, at now: Date) async throws {
        let transfer = try await transferAwaitingApproval(id, by: user, grants: grants)
        guard transfer.createdBy != user.id else { throw IchigoError(.selfApproval) }
        guard let limit = grants.limit(for: transfer.accountID), transfer.amount <= limit else {
            throw IchigoError(.overLimit)
        }
        var signed = ""
        if case .passkey(let assertion, let binding, let passkeys) = proof {
            let passkey = try await passkeys.approve(
                assertion, by: user, subject: .corporateTransfer(transfer), action: "transfer.approve.passkey",
                binding: binding, at: now)
            signed = "approved_with=passkey credential=\(passkey.credentialID.prefix(16))"
        } else if case .codes(let confirmationPassword, let code) = proof, let signing = signing, signing.isRequired {
            // 取引認証: the signature is over the payee account and amount of the transfer data as stored.
            signed = try await requireSignature(
                code, of: user, over: transfer, confirmationPassword: confirmationPassword, signing: signing, at: now)
        } else if case .codes(let confirmationPassword, let code) = proof {
            try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
            try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.approve", at: now)
            try await requireOTP(code, of: user, at: now)
        }
        let outcome = try await repository.approve(
            id, by: user.id, at: now,
            audit: AuditEvent(
                at: now, actor: actor(user), action: "transfer.approve", subject: id.rawValue, outcome: "ok",
                reason: transfer.auditDescription
                    + (signed.isEmpty ? "" : (signed.hasPrefix("approved_with") ? " " : " signed ") + signed)))
        switch outcome {
        case .approved: return
        case .notPending: throw IchigoError(.transferNotPending)
        case .insufficientFunds: throw IchigoError(.insufficientFunds)
        }
    }
}
