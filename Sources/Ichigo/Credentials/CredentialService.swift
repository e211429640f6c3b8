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

/// What retail customers and corporate users alike present: the login password (BLI001, 法人ログイン), the
/// confirmation password (確認用パスワード) and the OTP typed into a form; wrong passwords counted together, and the
/// login stopped (with its notice mails) at the policy's threshold. The retail, corporate and passkey flows all check
/// credentials here.
public struct CredentialService: Sendable {
    public let repository: any IchigoRepository & RetailRepository
    public let tokens: TokenService
    public let hasher: PasswordHasher
    /// The lockout threshold (`passwordLockoutThreshold`), and the mail password's lifetime and attempts.
    public let policy: RetailPolicy
    /// Writes the mails that tell people their login stopped; none if nil.
    let lockNotices: LockNotices?
    var metrics: IchigoMetrics { tokens.metrics }

    public init(
        repository: any IchigoRepository & RetailRepository, tokens: TokenService, hasher: PasswordHasher,
        policy: RetailPolicy = RetailPolicy(), lockNotices: LockNotices? = nil
    ) {
        self.repository = repository
        self.tokens = tokens
        self.hasher = hasher
        self.policy = policy
        self.lockNotices = lockNotices
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

    static let dummyHash = "$scrypt$ln=15,r=8,p=1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

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

    /// Records that `user` logged out (the audit trail shows each session's end).
    public func recordLogout(of user: User, at now: Date) async throws {
        try await repository.append(
            AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "logout", subject: user.id.rawValue, outcome: "ok"))
    }

    /// Verifies an OTP typed into a form; throws a field error for the form if refused.
    public func verifyOTP(_ text: String, for user: User, at now: Date) async throws {
        guard let code = OTPCode(text) else {
            throw ValidationErrors(fields: ["otp": text.isEmpty ? .required : .invalidOTPFormat])
        }
        let result = try await tokens.verify(code, for: user.id, actor: "user:\(user.id.rawValue)", at: now)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
    }
}
