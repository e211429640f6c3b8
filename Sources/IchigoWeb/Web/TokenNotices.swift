import Foundation
import Ichigo

extension ScreenController {
    /// What a user whose token was revoked (失効) reads on the pages their login lands on (BTP001, BOP001, HTP001,
    /// HOR001, HKG001): that it was revoked and what to do now, for their audience. `nil` unless the token the user
    /// holds is revoked; registering or issuing a new token ends it.
    ///
    /// - Parameters:
    ///   - selfRegistration: the page is the corporate first-use registration (HOR001), where the user registers
    ///     the new token themself.
    func revokedNotice(
        for user: User, _ audience: Audience, selfRegistration: Bool = false, _ language: Language
    ) async throws -> String? {
        guard let id = user.tokenID, let token = try await services.repository.token(id), token.state == .revoked
        else { return nil }
        let key =
            switch audience {
            case .retail, .bankOperator: "revoked.retail"
            case .corporateAdmin: "corp.revoked.admin"
            case .corporateUser: selfRegistration ? "corp.revoked.selfRegistration" : "corp.revoked.user"
            }
        return t(key, language).replacingOccurrences(of: "%@", with: token.serial.rawValue)
    }
}
