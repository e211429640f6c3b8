import Foundation
import Logging
import OTP

/// 利用者変更: users' permissions (権限, 限度額).
extension CorporateService {
    // MARK: Permissions (利用者変更)

    /// 振込限度額: a whole number of yen from 0 to 9,999,999,999 (ten digits, as HRK005 takes it).
    public static let maximumLimit: Int64 = 9_999_999_999

    /// The limits typed for the accounts a user may use (HRK005), by account ID: digits only (no sign, no
    /// separators), 0 to `maximumLimit`, required for each account chosen. Errors are by account ID.
    public static func parseLimits(_ typed: [String: String]) -> (limits: [String: Int64], errors: [String: IchigoError.Code]) {
        var limits: [String: Int64] = [:]
        var errors: [String: IchigoError.Code] = [:]
        for (account, raw) in typed {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty {
                errors[account] = .required
            } else if text.isASCIIDigits, let limit = Int64(text), limit <= maximumLimit {
                limits[account] = limit
            } else {
                errors[account] = .invalidLimit
            }
        }
        return (limits, errors)
    }

    /// Stores new permissions for a user of the contract, confirmed with the administrator's confirmation
    /// password and OTP. They take effect at the user's next login.
    public func updatePermissions(
        of targetID: UserID, to permissions: Permissions, by admin: User, confirmationPassword: String, code: String,
        at now: Date
    ) async throws {
        try await updatePermissions(
            of: targetID, to: permissions, by: admin,
            proof: .codes(confirmationPassword: confirmationPassword, code: code), at: now)
    }

    /// 権限変更 with either proof: the confirmation password and OTP, or a passkey whose challenge was made for this
    /// change (the user and the exact authorities and limits).
    public func updatePermissions(
        of targetID: UserID, to permissions: Permissions, by admin: User, proof: ApprovalProof, at now: Date
    ) async throws {
        try requireManager(admin)
        let target = try await member(targetID, of: admin)
        let accounts = Set(try await repository.accounts(ofContract: admin.contractID).map(\.id.rawValue))
        guard permissions.accountLimits.keys.allSatisfy(accounts.contains),
            permissions.accountLimits.values.allSatisfy({ (0...Self.maximumLimit).contains($0) })
        else { throw IchigoError(.invalidInput, field: "accounts") }
        var approvedWith = ""
        switch proof {
        case .codes(let confirmationPassword, let code):
            try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
            try await credentials.checkConfirmationPassword(confirmationPassword, of: admin, action: "user.permissions", at: now)
            try await requireOTP(code, of: admin, at: now)
        case .passkey(let assertion, let binding, let passkeys):
            let passkey = try await passkeys.approve(
                assertion, by: admin, subject: .permissions(of: target.id, permissions), action: "user.permissions.passkey",
                binding: binding, at: now)
            approvedWith = " approved_with=passkey credential=\(passkey.credentialID.prefix(16))"
        }
        let described = permissions.authorities.sorted().map(\.rawValue).joined(separator: ",")
        let limits = permissions.accountLimits.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            .joined(separator: ",")
        try await repository.setPermissions(
            permissions, of: target.id,
            audit: AuditEvent(
                at: now, actor: actor(admin), action: "user.permissions", subject: target.id.rawValue, outcome: "ok",
                reason: "authorities=[\(described)] limits=[\(limits)]" + approvedWith))
    }
}
