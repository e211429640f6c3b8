import Foundation
import Logging
import OTP

/// Issuance of a software token: the application (BOT001 → BOT002), the issuance (BOT002 → BOT003) and the app's
/// provisioning.
extension RetailService {
    // MARK: BOT001 → BOT002

    /// Validates BOT001's input, stores the application and mails the mail notification password to the
    /// customer's registered address. Returns the application.
    ///
    /// Coming back from BOT002 (戻る) with `revising` the pending application: the corrected address and
    /// activation password replace the application's, and the mail notification password already sent stays
    /// valid — a new one is mailed only when `resend` is asked for (or the application is no longer pending).
    public func startIssuance(
        for user: User, phoneEmail: String, phoneEmailConfirmation: String, activationPassword: String,
        activationPasswordConfirmation: String, revising: ApplicationID? = nil, resend: Bool = false, at now: Date
    ) async throws -> IssuanceApplication {
        var errors: [String: IchigoError.Code] = [:]
        if phoneEmail.isEmpty {
            errors["phoneEmail"] = .required
        } else if !CredentialRules.isValidEmail(phoneEmail) {
            errors["phoneEmail"] = .invalidEmail
        }
        if phoneEmailConfirmation.isEmpty {
            errors["phoneEmailConfirmation"] = .required
        } else if errors["phoneEmail"] == nil && phoneEmailConfirmation != phoneEmail {
            errors["phoneEmailConfirmation"] = .emailMismatch
        }
        if activationPassword.isEmpty {
            errors["activationPassword"] = .required
        } else if !CredentialRules.isValidActivationPassword(activationPassword) {
            errors["activationPassword"] = .invalidActivationPassword
        }
        if activationPasswordConfirmation.isEmpty {
            errors["activationPasswordConfirmation"] = .required
        } else if errors["activationPassword"] == nil && activationPasswordConfirmation != activationPassword {
            errors["activationPasswordConfirmation"] = .activationPasswordMismatch
        }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await checkMayIssue(user, at: now)
        guard let registered = user.email else { throw IchigoError(.noRegisteredEmail) }

        if let revising, !resend, var pending = try await repository.application(revising),
            pending.userID == user.id, pending.status == .pending, now < pending.mailPasswordExpiresAt
        {
            pending.phoneEmail = phoneEmail
            pending.activationPasswordHash = try hasher.hash(activationPassword)
            let revised = try await repository.revise(
                revising, phoneEmail: phoneEmail, activationPasswordHash: pending.activationPasswordHash, at: now,
                audit: AuditEvent(
                    at: now, actor: "user:\(user.id.rawValue)", action: "issuance.revise", subject: revising.rawValue,
                    outcome: "ok", reason: "corrected on BOT001; mail notification password kept"))
            if revised { return pending }
        }

        let mailPassword = RandomText.digits(8)
        let application = IssuanceApplication(
            id: .random(), userID: user.id, phoneEmail: phoneEmail,
            activationPasswordHash: try hasher.hash(activationPassword),
            mailPasswordHash: try hasher.hash(mailPassword), mailPasswordExpiresAt: now + policy.mailPasswordLifetime,
            createdAt: now)
        let mail = OutgoingMail(
            recipient: registered,
            mail: .issuanceMailPassword(
                bank: bankName, name: user.name, code: mailPassword, minutes: Int(policy.mailPasswordLifetime / 60),
                at: now),
            createdAt: now)
        try await repository.insert(
            application, mail: mail,
            audit: AuditEvent(
                at: now, actor: "user:\(user.id.rawValue)", action: "issuance.apply", subject: application.id.rawValue,
                outcome: "ok", reason: "mail notification password sent to the registered address"))
        metrics.mailQueued()
        return application
    }

    // MARK: BOT002 → BOT003

    /// Confirms an application with the confirmation password and the mail notification password; issues the
    /// token (awaiting app setup) and mails サービスID/ユーザID to the phone address.
    public func confirmIssuance(
        _ id: ApplicationID, by user: User, confirmationPassword: String, mailPassword: String, at now: Date
    ) async throws -> (application: IssuanceApplication, provisioning: Provisioning) {
        guard let application = try await repository.application(id), application.userID == user.id else {
            throw IchigoError(.applicationNotFound)
        }
        guard application.status == .pending else {
            throw IchigoError(application.status == .void ? .applicationVoid : .applicationClosed)
        }
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if mailPassword.isEmpty { errors["mailPassword"] = .required }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "issuance.confirm", at: now)
        guard now < application.mailPasswordExpiresAt else {
            _ = try await repository.close(
                id, as: .void, at: now,
                audit: AuditEvent(at: now, actor: "system", action: "issuance.void", subject: id.rawValue, outcome: "ok", reason: "mail password expired"))
            throw IchigoError(.mailPasswordExpired)
        }
        guard hasher.verify(mailPassword, against: application.mailPasswordHash) else {
            let attempts = try await repository.recordMailPasswordFailure(
                id, maxAttempts: policy.mailPasswordMaxAttempts, at: now,
                audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "issuance.confirm", subject: id.rawValue,
                                  outcome: "refused", reason: "wrong_mail_password"))
            if let attempts, attempts >= policy.mailPasswordMaxAttempts { throw IchigoError(.applicationVoid) }
            throw IchigoError(.wrongMailPassword, field: "mailPassword")
        }
        try await checkMayIssue(user, at: now)

        let seed = Seed.random()
        let tokenID = TokenID.random()
        let token = Token(
            id: tokenID, serial: .randomSoftware(), kind: .software, state: .awaitingAppSetup,
            sealedSeed: try tokens.vault.seal(seed, for: tokenID), parameters: tokens.policy.parameters,
            contractID: user.contractID, createdAt: now, ocraSuite: signing?.policy.suiteForNewTokens)
        let provisioning = Provisioning(
            tokenID: tokenID, serviceID: "1" + RandomText.digits(7), appUserID: "9" + RandomText.digits(11),
            activationPasswordHash: application.activationPasswordHash, expiresAt: now + policy.provisioningLifetime)
        let mail = OutgoingMail(
            recipient: application.phoneEmail,
            mail: .tokenIssued(
                bank: bankName, serviceID: provisioning.serviceID, appUserID: provisioning.appUserID,
                url: policy.appDownloadURL, at: now),
            createdAt: now)
        let actor = "user:\(user.id.rawValue)"
        let done = try await repository.complete(
            id, token: token, provisioning: provisioning,
            mail: mail, at: now,
            audit: [
                AuditEvent(at: now, actor: actor, action: "issuance.confirm", subject: id.rawValue, outcome: "accepted"),
                AuditEvent(at: now, actor: actor, action: "token.enrol", subject: token.serial.rawValue, outcome: "ok",
                           reason: "user=\(user.id.rawValue) state=awaiting_app_setup"),
            ])
        guard done else { throw IchigoError(.applicationClosed) }
        metrics.mailQueued()
        return (application, provisioning)
    }

    /// 申込を中止する on BOT002: the application is cancelled and nothing was issued.
    public func cancelIssuance(_ id: ApplicationID, by user: User, at now: Date) async throws {
        guard let application = try await repository.application(id), application.userID == user.id else { return }
        _ = try await repository.close(
            id, as: .cancelled, at: now,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "issuance.cancel", subject: id.rawValue, outcome: "ok"))
    }

    // MARK: App provisioning

    /// The phone app's initial setup: サービスID, ユーザID, 利用開始パスワード and consent → seed and serial, once.
    public func provision(
        serviceID: String, appUserID: String, activationPassword: String, consent: Bool, at now: Date
    ) async throws -> ProvisionedToken {
        guard consent else { throw IchigoError(.consentRequired, field: "consent") }
        guard let provisioning = try await repository.provisioning(appUserID: appUserID),
            constantTimeEqual(provisioning.serviceID, serviceID),
            let token = try await repository.token(provisioning.tokenID)
        else { throw IchigoError(.provisioningNotFound) }
        let subject = "app:\(appUserID)"
        guard provisioning.provisionedAt == nil, token.state == .awaitingAppSetup else {
            throw IchigoError(.provisioningNotFound)
        }
        guard now < provisioning.expiresAt else {
            _ = try await repository.expireProvisioning(
                token: token.id, at: now,
                audit: AuditEvent(at: now, actor: "system", action: "token.cancel", subject: token.serial.rawValue, outcome: "ok", reason: "provisioning expired"))
            throw IchigoError(.provisioningExpired)
        }
        guard hasher.verify(activationPassword, against: provisioning.activationPasswordHash) else {
            let result = try await repository.recordActivationFailure(
                token: token.id, maxAttempts: policy.activationMaxAttempts, at: now,
                audit: AuditEvent(at: now, actor: subject, action: "app.provision", subject: token.serial.rawValue,
                                  outcome: "refused", reason: "wrong_activation_password"))
            guard let result, !result.voided else { throw IchigoError(.provisioningVoid) }
            let left = policy.activationMaxAttempts - result.attempts
            throw IchigoError(
                .wrongActivationPassword, field: "activationPassword", detail: "\(left) attempt(s) left",
                triesLeft: left)
        }
        let seed = try tokens.vault.open(token.sealedSeed, for: token.id)
        for _ in 1...5 {
            let serial = SerialNumber.randomSoftware()
            do {
                guard try await repository.completeProvisioning(
                    token: token.id, serial: serial, at: now,
                    audit: AuditEvent(at: now, actor: subject, action: "app.provision", subject: serial.rawValue, outcome: "accepted"))
                else { throw IchigoError(.provisioningNotFound) }
                return ProvisionedToken(
                    serial: serial, seed: seed, parameters: token.parameters, issuer: bankName, ocraSuite: token.ocraSuite)
            } catch let error as IchigoError where error.code == .serialTaken {
                continue
            }
        }
        throw IchigoError(.serialTaken)
    }

    /// For a bank that allows standard authenticator apps: delivers the seed of a just-issued token as an
    /// `otpauth://` Key URI (for a QR code shown once at BOT003), giving the installation its serial.
    /// Afterwards the provisioning endpoint refuses this issuance: a seed is delivered once.
    public func provisionForAuthenticatorApp(appUserID: String, account: String, by user: User, at now: Date)
        async throws -> KeyURI
    {
        guard policy.allowAuthenticatorApps else { throw IchigoError(.provisioningNotFound) }
        guard let provisioning = try await repository.provisioning(appUserID: appUserID),
            provisioning.provisionedAt == nil, let token = try await repository.token(provisioning.tokenID),
            token.state == .awaitingAppSetup, try await repository.user(user.id)?.tokenID == token.id
        else { throw IchigoError(.provisioningNotFound) }
        let seed = try tokens.vault.open(token.sealedSeed, for: token.id)
        let serial = SerialNumber.randomSoftware()
        guard try await repository.completeProvisioning(
            token: token.id, serial: serial, at: now,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "app.provision", subject: serial.rawValue,
                              outcome: "accepted", reason: "otpauth QR shown at BOT003"))
        else { throw IchigoError(.provisioningNotFound) }
        return KeyURI(issuer: bankName, account: account, seed: seed, parameters: token.parameters)
    }
}
