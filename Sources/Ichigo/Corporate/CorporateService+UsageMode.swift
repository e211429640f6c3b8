import Foundation
import Logging
import OTP

/// 利用形態 (shared or individual tokens) of a corporate contract.
extension CorporateService {
    // MARK: Usage mode (利用形態)

    /// Changes the contract's usage mode; every token registration of the contract is removed with it.
    public func changeUsageMode(
        to mode: TokenUsageMode, by admin: User, confirmationPassword: String, at now: Date
    ) async throws -> [UserID] {
        try requireManager(admin)
        try requireFields(["confirmationPassword": confirmationPassword])
        let contract = try await contract(of: admin)
        try await credentials.checkConfirmationPassword(confirmationPassword, of: admin, action: "contract.usage_mode", at: now)
        guard contract.usageMode != mode else { return [] }
        return try await repository.changeUsageMode(
            of: contract.id, to: mode, at: now,
            audit: AuditEvent(
                at: now, actor: actor(admin), action: "contract.usage_mode", subject: contract.id.rawValue,
                outcome: "ok", reason: "\(contract.usageMode.rawValue)->\(mode.rawValue); every registration removed"))
    }
}
