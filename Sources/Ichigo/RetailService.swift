import Foundation
import Logging
import OTP

/// Which login page a user came through; each admits only its own users.
public enum LoginAudience: String, Sendable, Hashable, Codable {
    /// 個人: the retail login.
    case retail
    /// 法人 ログイン: every user of a corporate contract.
    case corporateUser = "corporate_user"
    /// 管理者ログイン: the master user and administrators of a corporate contract.
    case corporateAdmin = "corporate_admin"

    public func admits(_ user: User) -> Bool {
        switch self {
        case .retail: user.role == .customer
        case .corporateUser: user.isCorporate
        case .corporateAdmin: user.role.managesTokens
        }
    }
}

/// The retail rules that are policy, not law: lifetimes and attempt limits.
public struct RetailPolicy: Sendable, Hashable {
    /// How long a mail notification password is valid. 10 minutes.
    public var mailPasswordLifetime: TimeInterval = 600
    /// Wrong mail notification passwords before the application is void. 5.
    public var mailPasswordMaxAttempts = 5
    /// Consecutive wrong passwords (login or confirmation) that stop the login. 5.
    public var passwordLockoutThreshold = 5
    /// Wrong activation passwords before the issuance is void. 5.
    public var activationMaxAttempts = 5
    /// How long the app may take to be set up after BOT003. 7 days.
    public var provisioningLifetime: TimeInterval = 7 * 24 * 3600
    /// The app download page named in the token-issuance mail.
    public var appDownloadURL = "https://ichigo.example.jp/app/"
    /// Whether BOT003 may show an `otpauth://` QR code for standard authenticator apps. Off by default.
    public var allowAuthenticatorApps = false

    public init() {}
}

/// The texts of the mails the retail flows send (Japanese, in the seeds' wording where they give it).
public enum RetailMails {
    static func dateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.calendar = .japan
        formatter.timeZone = Calendar.japan.timeZone
        formatter.locale = Locale(identifier: "ja_JP")
        formatter.dateFormat = "yyyy年M月d日 HH:mm:ss"
        return formatter.string(from: date)
    }

    static func mailPassword(bank: String, name: String, code: String, at now: Date, minutes: Int) -> (String, String) {
        ("【\(bank)】メール通知パスワードのお知らせ", """
        \(name) 様

        ワンタイムパスワードのトークン発行のお申込みを受け付けました。
        トークン発行（ソフトウェアトークン発行情報入力内容確認）画面で、次のメール通知パスワードを入力してください。

        メール通知パスワード: \(code)
        有効期限: 送信から\(minutes)分間

        送信日時: \(dateTime(now))

        このメールにお心当たりのない場合は、お手数ですが当行までご連絡ください。
        \(bank)
        """)
    }

    static func tokenIssued(bank: String, serviceID: String, appUserID: String, url: String, at now: Date) -> (String, String) {
        ("【\(bank)】ワンタイムパスワード トークン発行のご案内", """
        ワンタイムパスワード（ソフトウェアトークン）を発行しました。
        下記のダウンロードURLからワンタイムパスワードアプリをダウンロードし、初期設定を行ってください。

        ダウンロードURL: \(url)
        サービスID: \(serviceID)
        ユーザID: \(appUserID)

        初期設定には、サービスID・ユーザID と、トークン発行申請時にご登録いただいた利用開始パスワードが必要です。
        （利用開始パスワードはこのメールには記載しておりません。）

        送信日時: \(dateTime(now))
        \(bank)
        """)
    }

    static func useStarted(bank: String, name: String, at now: Date) -> (String, String) {
        ("【\(bank)】利用開始登録完了のご案内", """
        \(name) 様

        ワンタイムパスワードの利用開始登録を受け付けました。
        次回のログインから、ログインID・ログインパスワードに加えてワンタイムパスワードの入力が必要になります。

        送信日時: \(dateTime(now))
        \(bank)
        """)
    }
}

/// What the provisioning endpoint hands to the phone app, once.
public struct ProvisionedToken: Sendable {
    public var serial: SerialNumber
    public var seed: Seed
    public var parameters: TOTPParameters
    public var issuer: String
    /// The OCRA suite the app signs transfers with (取引認証), when the token has one.
    public var ocraSuite: String?
}

/// The retail software-token journey: issuance (BOT001–003), app provisioning, start of use (BOK001–002),
/// cancellation (BOS001–002), login with OTP and transfers.
public struct RetailService: Sendable {
    public let repository: any IchigoRepository & RetailRepository
    public let tokens: TokenService
    public let hasher: PasswordHasher
    public let policy: RetailPolicy
    public let bankName: String
    let logger: Logger
    /// Writes the mails that tell people their login stopped; none if nil.
    let lockNotices: LockNotices?
    /// Transaction authentication (取引認証): when its policy is `required`, transfers and approvals take a
    /// signature over the payee account and amount instead of the OTP. `nil`: off.
    public let signing: TransactionSigning?
    var metrics: IchigoMetrics { tokens.metrics }

    public init(
        repository: any IchigoRepository & RetailRepository, tokens: TokenService, hasher: PasswordHasher,
        policy: RetailPolicy = RetailPolicy(), bankName: String, logger: Logger, lockNotices: LockNotices? = nil,
        signing: TransactionSigning? = nil
    ) {
        self.signing = signing
        self.lockNotices = lockNotices
        self.repository = repository
        self.tokens = tokens
        self.hasher = hasher
        self.policy = policy
        self.bankName = bankName
        self.logger = logger
    }

    // MARK: Login

    /// Checks login ID and password. Unknown login ID and wrong password read the same.
    public func authenticate(
        loginID text: String, password: String, as audience: LoginAudience = .retail, at now: Date
    ) async throws -> User {
        // A user of another audience reads as unknown (a retail login page does not log corporate users in).
        let user = try await LoginID(rawValue: text).asyncFlatMap { try await repository.user(loginID: $0) }
            .flatMap { audience.admits($0) ? $0 : nil }
        // Hash even when the user is unknown, so the answer takes as long either way.
        let hash = user?.loginPasswordHash ?? PasswordHash(encoded: Self.dummyHash)
        let matches = hasher.verify(password, against: hash)
        guard let user, matches, user.loginPasswordHash != nil, !user.loginLocked else {
            let reason = user == nil ? "unknown_login" : (user!.loginLocked ? "login_locked" : "wrong_password")
            metrics.login(audience: audience.rawValue, outcome: reason)
            let event = AuditEvent(
                at: now, actor: "web", action: "login.password", subject: user.map { $0.id.rawValue } ?? "login:\(text.prefix(32))",
                outcome: "refused", reason: reason)
            guard let user else {
                try await repository.append(event)
                throw IchigoError(.loginFailed)
            }
            if user.loginLocked {
                try await repository.append(event)
                throw IchigoError(.loginLocked)
            }
            let outcome = try await countPasswordFailure(of: user, event, at: now)
            // 残り1回: the next wrong password stops the login (PSD2 RTS Art. 4 asks to warn before a block).
            throw IchigoError(outcome?.failureCount == policy.passwordLockoutThreshold - 1 ? .loginLastTry : .loginFailed)
        }
        if user.passwordFailures > 0 { try await repository.resetPasswordFailures(of: user.id) }
        metrics.login(audience: audience.rawValue, outcome: "accepted")
        try await repository.append(
            AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "login.password", subject: user.id.rawValue, outcome: "accepted"))
        return user
    }

    private static let dummyHash = "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

    /// Whether the user's login needs the OTP page: their token is in use or stopped.
    public func loginNeedsOTP(_ user: User) async throws -> Bool {
        let token = try await repository.userWithToken(user.id)?.token
        return token?.state == .active || token?.state == .locked
    }

    /// Checks the confirmation password (確認用パスワード); audits a refusal.
    public func checkConfirmationPassword(_ password: String, of user: User, action: String, at now: Date) async throws {
        guard let hash = user.confirmationPasswordHash, hasher.verify(password, against: hash) else {
            let outcome = try await countPasswordFailure(
                of: user,
                AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: action, subject: user.id.rawValue,
                           outcome: "refused", reason: "wrong_confirmation_password"),
                at: now)
            let lastTry = outcome?.failureCount == policy.passwordLockoutThreshold - 1
            throw IchigoError(lastTry ? .confirmationLastTry : .wrongConfirmationPassword, field: "confirmationPassword")
        }
        if user.passwordFailures > 0 { try await repository.resetPasswordFailures(of: user.id) }
    }

    /// Counts a wrong password; throws `loginLocked` when this one reached the threshold, and then queues the
    /// lock's mails with it.
    @discardableResult
    func countPasswordFailure(of user: User, _ event: AuditEvent, at now: Date) async throws -> FailureOutcome? {
        let threshold = policy.passwordLockoutThreshold
        // As for tokens: the notice is prepared when this failure may lock, queued just after in a wider race.
        let mayLock = user.passwordFailures + 2 >= threshold
        let lockMails = mayLock ? try await lockNotices?.loginLocked(user, threshold: threshold, at: now) ?? [] : []
        let outcome = try await repository.recordPasswordFailure(
            of: user.id, lockingAt: threshold, at: now, audit: event,
            lockAudit: AuditEvent(
                at: now, actor: "system", action: "login.lock", subject: user.id.rawValue, outcome: "ok",
                reason: "\(threshold) consecutive wrong passwords"),
            lockMails: lockMails)
        if outcome?.lockedNow == true {
            metrics.loginLocked()
            metrics.mailQueued(lockMails.count)
            if !mayLock, let lockNotices {
                for mail in try await lockNotices.loginLocked(user, threshold: threshold, at: now) {
                    try await repository.enqueue(mail)
                    metrics.mailQueued()
                }
            }
            throw IchigoError(.loginLocked)
        }
        return outcome
    }

    // MARK: BOP001

    /// The user's registration status, token and provisioning, for BOP001.
    public func overview(of user: UserID) async throws -> (status: RegistrationStatus, token: Token?, provisioning: Provisioning?) {
        guard let found = try await repository.userWithToken(user) else { throw IchigoError(.userNotFound) }
        let provisioning = try await found.token.asyncFlatMap { try await repository.provisioning(token: $0.id) }
        return (RegistrationStatus(token: found.token), found.token, provisioning)
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
        let (subject, body) = RetailMails.mailPassword(
            bank: bankName, name: user.name, code: mailPassword, at: now, minutes: Int(policy.mailPasswordLifetime / 60))
        try await repository.insert(
            application, mail: OutgoingMail(recipient: registered, subject: subject, body: body, createdAt: now),
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
        try await checkConfirmationPassword(confirmationPassword, of: user, action: "issuance.confirm", at: now)
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
        let (subject, body) = RetailMails.tokenIssued(
            bank: bankName, serviceID: provisioning.serviceID, appUserID: provisioning.appUserID,
            url: policy.appDownloadURL, at: now)
        let actor = "user:\(user.id.rawValue)"
        let done = try await repository.complete(
            id, token: token, provisioning: provisioning,
            mail: OutgoingMail(recipient: application.phoneEmail, subject: subject, body: body, createdAt: now), at: now,
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
            throw IchigoError(
                .wrongActivationPassword, field: "activationPassword",
                detail: "\(policy.activationMaxAttempts - result.attempts)")
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

    // MARK: BOK001 → BOK002

    /// Start of use: the first code from the app moves the token to 利用中 and mails 利用開始登録完了のご案内.
    public func startUse(by user: User, code text: String, at now: Date) async throws {
        guard let code = OTPCode(text) else {
            throw ValidationErrors(fields: ["otp": text.isEmpty ? .required : .invalidOTPFormat])
        }
        let (subject, body) = RetailMails.useStarted(bank: bankName, name: user.name, at: now)
        let mail = user.email.map { OutgoingMail(recipient: $0, subject: subject, body: body, createdAt: now) }
        let result = try await tokens.activate(code, for: user.id, actor: "user:\(user.id.rawValue)", at: now, mail: mail)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
        if mail != nil { metrics.mailQueued() }
    }

    // MARK: BOS001 → BOS002

    /// Cancellation of use: confirmation password and OTP, then the token is cancelled and a new issuance
    /// waits until the next day (Japan time).
    public func cancelUse(by user: User, confirmationPassword: String, code text: String, at now: Date) async throws {
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if OTPCode(text) == nil { errors["otp"] = text.isEmpty ? .required : .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await checkConfirmationPassword(confirmationPassword, of: user, action: "token.cancel", at: now)
        try await verifyOTP(text, for: user, at: now)
        guard let token = try await repository.userWithToken(user.id)?.token else { throw IchigoError(.noToken) }
        let moved = try await repository.cancelUse(
            of: token.id, from: token.state, by: user.id, at: now,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "token.cancel", subject: token.serial.rawValue,
                              outcome: "ok", reason: "\(token.state.rawValue)->cancelled"))
        guard moved else { throw IchigoError(.concurrentUpdate) }
    }

    /// Verifies an OTP typed into a form; throws a field error for the form if refused.
    public func verifyOTP(_ text: String, for user: User, at now: Date) async throws {
        guard let code = OTPCode(text) else {
            throw ValidationErrors(fields: ["otp": text.isEmpty ? .required : .invalidOTPFormat])
        }
        let result = try await tokens.verify(code, for: user.id, actor: "user:\(user.id.rawValue)", at: now)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
    }

    // MARK: Transfers

    /// Whether transfers need a transaction signature (取引認証) from `user` instead of the OTP: the policy requires
    /// it and the customer's token is in use (or stopped).
    public func needsSignature(_ user: User) async throws -> Bool {
        guard signing?.isRequired == true else { return false }
        return try await loginNeedsOTP(user)
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
        _ transfer: Transfer, by user: User, confirmationPassword: String, code: String, shownTransferID: String? = nil,
        at now: Date
    ) async throws {
        if let signing, try await needsSignature(user) {
            return try await signedTransfer(
                transfer, by: user, confirmationPassword: confirmationPassword, signature: code,
                shownTransferID: shownTransferID, signing: signing, at: now)
        }
        let needsOTP = try await loginNeedsOTP(user)
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if needsOTP && OTPCode(code) == nil { errors["otp"] = code.isEmpty ? .required : .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await checkConfirmationPassword(confirmationPassword, of: user, action: "transfer", at: now)
        if needsOTP { try await verifyOTP(code, for: user, at: now) }
        let done = try await repository.execute(
            transfer, by: user.id,
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer", subject: transfer.id,
                              outcome: "ok", reason: transfer.auditDescription))
        guard done else { throw IchigoError(.insufficientFunds) }
    }

    private func signedTransfer(
        _ transfer: Transfer, by user: User, confirmationPassword: String, signature: String, shownTransferID: String?,
        signing: TransactionSigning, at now: Date
    ) async throws {
        guard shownTransferID == transfer.id else {
            try await repository.append(
                AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer.sign", subject: transfer.id,
                           outcome: "refused", reason: "transfer_changed shown=\(shownTransferID ?? "-")"))
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
        try await checkConfirmationPassword(confirmationPassword, of: user, action: "transfer", at: now)
        let signed = SignedTransaction(payeeAccount: transfer.payeeAccount, amount: transfer.amount)
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
            audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "transfer", subject: transfer.id,
                              outcome: "ok",
                              reason: transfer.auditDescription + " signed " + (prompt?.auditDescription ?? "")))
        guard done else { throw IchigoError(.insufficientFunds) }
    }
}

/// Several field errors at once, for a form.
public struct ValidationErrors: Error, Sendable {
    public var fields: [String: IchigoError.Code]
    public init(fields: [String: IchigoError.Code]) { self.fields = fields }
}

extension Optional {
    /// `flatMap` for an async transform.
    public func asyncFlatMap<U>(_ transform: (Wrapped) async throws -> U?) async rethrows -> U? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
