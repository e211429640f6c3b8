import Foundation
import Logging
import OTP

/// 利用登録: registering hardware tokens to a contract's users.
extension CorporateService {
    // MARK: Token registration (利用登録)

    /// 利用登録 by a master user or administrator: serial, the token's current OTP and the contract PIN.
    ///
    /// In shared mode the token is registered for every user of the contract; in individual mode for the chosen
    /// users (several users may be given one serial). A user who held another token has it replaced.
    /// - Returns: the registered token.
    public func registerToken(
        serial serialText: String, code: String, pin: String, for chosen: [UserID], by admin: User, at now: Date
    ) async throws -> Token {
        try requireManager(admin)
        let contract = try await contract(of: admin)
        var errors: [String: IchigoError.Code] = [:]
        let serial = SerialNumber(rawValue: serialText.trimmingCharacters(in: .whitespaces))
        if serialText.isEmpty { errors["serial"] = .required } else if serial == nil { errors["serial"] = .invalidSerial }
        if code.isEmpty { errors["otp"] = .required } else if OTPCode(code) == nil { errors["otp"] = .invalidOTPFormat }
        if pin.isEmpty {
            errors["pin"] = .required
        } else if !(4...8).contains(pin.count) || !pin.isASCIIDigits {
            errors["pin"] = .invalidPIN
        }
        let members = try await repository.users(of: contract.id)
        let targets: [User]
        if contract.usageMode == .shared {
            targets = members
        } else {
            targets = members.filter { chosen.contains($0.id) }
            if targets.isEmpty || targets.count != Set(chosen).count { errors["users"] = .nothingSelected }
        }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        guard let pinHash = contract.pinHash, hasher.verify(pin, against: pinHash) else {
            // Wrong PINs count like wrong passwords: five stop the administrator's login.
            try await credentials.countPasswordFailure(
                of: admin,
                AuditEvent(
                    at: now, actor: actor(admin), action: "token.register", subject: contract.id.rawValue,
                    outcome: "refused", reason: "wrong_pin"),
                at: now)
            throw IchigoError(.wrongPIN, field: "pin")
        }
        return try await register(serial!, code: code, contract: contract, targets: targets, by: admin, at: now)
    }

    /// Self-registration at first use (seed 002 §1): serial and OTP → 登録; a completion mail is sent.
    public func selfRegister(serial serialText: String, code: String, by user: User, at now: Date) async throws -> Token {
        guard try await needsSelfRegistration(user) else { throw IchigoError(.illegalTransition) }
        let contract = try await contract(of: user)
        var errors: [String: IchigoError.Code] = [:]
        let serial = SerialNumber(rawValue: serialText.trimmingCharacters(in: .whitespaces))
        if serialText.isEmpty { errors["serial"] = .required } else if serial == nil { errors["serial"] = .invalidSerial }
        if code.isEmpty { errors["otp"] = .required } else if OTPCode(code) == nil { errors["otp"] = .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        let targets = contract.usageMode == .shared ? try await repository.users(of: contract.id) : [user]
        return try await register(serial!, code: code, contract: contract, targets: targets, by: user, at: now)
    }

    func register(
        _ serial: SerialNumber, code: String, contract: Contract, targets: [User], by actingUser: User, at now: Date
    ) async throws -> Token {
        guard let token = try await repository.token(serial: serial), Self.isRegistrable(token, for: contract) else {
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor(actingUser), action: "token.register", subject: serial.rawValue,
                    outcome: "refused", reason: "not_registrable"))
            throw IchigoError(.tokenNotRegistrable, field: "serial")
        }
        // The token's current code proves the registering person holds it.
        let result = try await tokens.verify(
            OTPCode(code)!, onToken: token, action: "token.register", actor: actor(actingUser), at: now)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
        let mails = targets.compactMap { user -> OutgoingMail? in
            guard let email = user.email else { return nil }
            return OutgoingMail(
                recipient: email, mail: .corporateRegistered(bank: bankName, name: user.name, serial: serial, at: now),
                createdAt: now)
        }
        try await repository.register(
            token.id, to: contract.id, for: targets.map(\.id), at: now,
            audit: targets.map {
                AuditEvent(
                    at: now, actor: actor(actingUser), action: "token.register", subject: serial.rawValue,
                    outcome: "ok",
                    reason: "user=\($0.id.rawValue) replaced=\($0.tokenID.map { $0 == token.id ? "none" : $0.rawValue } ?? "none")")
            },
            mails: mails)
        credentials.metrics.mailQueued(mails.count)
        return try await repository.token(token.id) ?? token
    }

    /// Whether `token` may be registered for a user of `contract`: an unassigned hardware token from the bank's
    /// inventory, or a token that already belongs to this contract; never cancelled, revoked or stopped.
    public static func isRegistrable(_ token: Token, for contract: Contract) -> Bool {
        switch token.state {
        case .issued, .active: break
        case .awaitingAppSetup, .locked, .cancelled, .revoked: return false
        }
        if let owner = token.contractID { return owner == contract.id }
        return token.kind == .hardware && token.state == .issued
    }

    /// 利用登録解除: removes the registration of the chosen users.
    public func deregister(_ chosen: [UserID], by admin: User, confirmationPassword: String, at now: Date) async throws {
        try requireManager(admin)
        if chosen.isEmpty { throw ValidationErrors(fields: ["users": .nothingSelected]) }
        try requireFields(["confirmationPassword": confirmationPassword])
        var users: [User] = []
        for id in Set(chosen) { users.append(try await member(id, of: admin)) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.deregister", at: now)
        try await repository.deregister(
            users.map(\.id), at: now,
            audit: users.map {
                AuditEvent(
                    at: now, actor: actor(admin), action: "token.deregister", subject: $0.id.rawValue, outcome: "ok",
                    reason: "token=\($0.tokenID?.rawValue ?? "none")")
            })
    }
}
