import Foundation
import OTP

/// BOP001: the customer's registration status, and whether a token may be issued.
extension RetailService {
    // MARK: BOP001

    /// The user's registration status, token and provisioning, for BOP001.
    public func overview(of user: UserID) async throws -> (status: RegistrationStatus, token: Token?, provisioning: Provisioning?) {
        guard let found = try await repository.userWithToken(user) else { throw IchigoError(.userNotFound) }
        let provisioning = try await found.token.asyncFlatMap { try await repository.provisioning(token: $0.id) }
        return (RegistrationStatus(token: found.token), found.token, provisioning)
    }

    /// The application `id` if it is `user`'s and still pending (BOT002 and BOT001's revision); `nil` otherwise.
    public func pendingApplication(_ id: ApplicationID, of user: UserID) async throws -> IssuanceApplication? {
        guard let application = try await repository.application(id), application.status == .pending,
            application.userID == user
        else { return nil }
        return application
    }

    /// Whether the user's token awaits its first code (BOK001): issued, not yet in use.
    public func awaitsStartOfUse(_ user: UserID) async throws -> Bool {
        try await overview(of: user).token?.state == .issued
    }

    /// Whether a new software token may be issued now; throws the reason if not.
    public func checkMayIssue(_ user: User, at now: Date) async throws {
        if let token = try await repository.userWithToken(user.id)?.token, token.state.occupiesUser {
            throw IchigoError(token.kind == .hardware ? .hardwareTokenInUse : .tokenAlreadyAssigned)
        }
        if let cancelled = try await repository.otpCancelledAt(of: user.id),
            Calendar.japan.isDate(cancelled, inSameDayAs: now)
        {
            throw IchigoError(.reissueNextDay)
        }
    }
}
