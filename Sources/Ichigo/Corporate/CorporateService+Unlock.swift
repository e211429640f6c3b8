import Foundation
import Logging
import OTP

/// 利用停止解除 (unlocking users' stopped tokens) and トークンの失効 (revoking a token).
extension CorporateService {
    // MARK: 利用停止解除 and 失効

    /// Users of the contract whose token is stopped (locked), for the 利用停止解除一覧.
    public func stoppedMembers(of admin: User) async throws -> [UserWithToken] {
        try requireManager(admin)
        return try await members(of: admin.contractID).filter { $0.token?.state == .locked }
    }

    /// The users who must be selected with `chosen`: everyone sharing a token with one of them.
    public static func sharingClosure(of chosen: Set<UserID>, in members: [UserWithToken]) -> Set<UserID> {
        let tokens = Set(members.filter { chosen.contains($0.user.id) }.compactMap(\.token?.id))
        return chosen.union(members.filter { $0.token.map { tokens.contains($0.id) } ?? false }.map(\.user.id))
    }

    /// 利用停止解除: the selection must include every user sharing each selected token (the page selects them
    /// automatically; the server refuses a partial selection). Confirmed with the confirmation password.
    /// - Returns: the tokens unlocked.
    public func unlock(_ chosen: [UserID], by admin: User, confirmationPassword: String, at now: Date) async throws
        -> [Token]
    {
        let stopped = try await stoppedMembers(of: admin)
        let selection = Set(chosen)
        if selection.isEmpty { throw ValidationErrors(fields: ["users": .nothingSelected]) }
        guard selection.isSubset(of: Set(stopped.map(\.user.id))) else { throw IchigoError(.illegalTransition) }
        guard Self.sharingClosure(of: selection, in: try await members(of: admin.contractID)) == selection else {
            throw ValidationErrors(fields: ["users": .partialSelection])
        }
        try requireFields(["confirmationPassword": confirmationPassword])
        try await credentials.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.unlock", at: now)
        var unlocked: [Token] = []
        var seen = Set<TokenID>()
        for member in stopped where selection.contains(member.user.id) {
            guard let token = member.token, seen.insert(token.id).inserted else { continue }
            unlocked.append(try await tokens.apply(.unlock, to: token, actor: actor(admin), at: now))
        }
        return unlocked
    }

    /// トークンの失効: revokes the chosen user's token (and so every sharer's), confirmed with the administrator's
    /// confirmation password and OTP. A revoked token never verifies again.
    public func revoke(
        tokenOf targetID: UserID, by admin: User, confirmationPassword: String, code: String, at now: Date
    ) async throws -> Token {
        try requireManager(admin)
        let target = try await member(targetID, of: admin)
        guard let token = try await target.tokenID.asyncFlatMap({ try await repository.token($0) }),
            token.state.occupiesUser
        else { throw IchigoError(.noToken) }
        try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
        try await credentials.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.revoke", at: now)
        try await requireOTP(code, of: admin, at: now)
        // Re-read: the OTP check may have been the admin's own (shared) token.
        guard let current = try await repository.token(token.id) else { throw IchigoError(.tokenNotFound) }
        return try await tokens.apply(.revoke, to: current, actor: actor(admin), at: now)
    }
}
