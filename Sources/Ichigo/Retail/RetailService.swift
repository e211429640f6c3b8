import Foundation
import Logging
import OTP

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
    /// The login, confirmation password and OTP checks (shared with the corporate and passkey flows).
    public let credentials: CredentialService
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
        self.credentials = CredentialService(
            repository: repository, tokens: tokens, hasher: hasher, policy: policy, lockNotices: lockNotices)
        self.repository = repository
        self.tokens = tokens
        self.hasher = hasher
        self.policy = policy
        self.bankName = bankName
        self.logger = logger
    }
}
