import Foundation
import Ichigo
import Logging
import WebAuthn

/// The domain's services over one store, built once at start: what the screens, the JSON API and the command line
/// call. Pure wiring (no I/O); `IchigoRuntime` opens the store and the keys and makes this, and so do tests.
public struct IchigoServices: Sendable {
    public let repository: any IchigoStore
    public let tokens: TokenService
    public let customers: CustomerService
    /// Login, confirmation password and OTP checks, shared by the retail, corporate and passkey flows.
    public let credentials: CredentialService
    public let retail: RetailService
    public let corporate: CorporateService
    /// Transaction authentication (取引認証): the bank's policy, challenges and signature checks.
    public let signing: TransactionSigning
    public let operators: OperatorService
    /// Passkeys (WebAuthn): registration, sign-in, approvals, removal.
    public let passkeys: PasskeyService
    public let importer: TokenImporter
    public let clock: any IchigoClock
    /// The JSON API's keys (`ichigo apikey`).
    public let apiKeys: APIKeyService
    /// The first admin key (`data/api.key` or `ICHIGO_API_KEY`), adopted as the key `admin` at start unless a key
    /// of that name exists (also a revoked one).
    public let apiKey: String
    /// The issuer name in `otpauth://` URIs.
    public let bankName: String
    /// Whom customers contact (`bank.contact`), as the lock notices and the screens of a stopped token print it.
    public let bankContact: String
    /// Whether session cookies carry `Secure` (set when served over HTTPS).
    public let secureCookies: Bool
    public let logger: Logger
    /// What the server counts (`IchigoMetrics`; `/metrics` shows it when the web layer is given its registry).
    public let metrics: IchigoMetrics
    /// Each request's deadline, `/ready`'s, and the grace for a commit under way (`DeadlineResponder`).
    public var deadlines = RequestDeadlines()
    /// Why the keys cannot be used (a key store that stopped answering, versions that cannot be read), for `/ready`;
    /// `nil` when they can.
    public var keyProblem: @Sendable () -> String? = { nil }

    /// Whom customers contact unless the bank says otherwise (`bank.contact`).
    public static let defaultBankContact = "いちご銀行 インターネットバンキング ヘルプデスク 0120-150-150（平日 9:00〜17:00）"

    /// Services whose seeds are sealed under `keyring`'s versions (the same keyring as the store's audit chain).
    public init(
        repository: any IchigoStore, keyring: Keyring, policy: OTPPolicy,
        hasher: PasswordHasher, retailPolicy: RetailPolicy = RetailPolicy(), clock: any IchigoClock = SystemClock(),
        apiKey: String, bankName: String, bankContact: String = IchigoServices.defaultBankContact,
        secureCookies: Bool = false, logger: Logger, metrics: IchigoMetrics = IchigoMetrics(),
        signingPolicy: TransferSigningPolicy = .off,
        passkeyPolicy: PasskeyPolicy? = nil
    ) {
        self.repository = repository
        self.metrics = metrics
        let notices = LockNotices(repository: repository, bankName: bankName, contact: bankContact)
        self.tokens = TokenService(
            repository: repository, vault: SeedVault(keyring: keyring), policy: policy, logger: logger,
            metrics: metrics, lockNotices: notices)
        self.customers = CustomerService(repository: repository, hasher: hasher)
        self.signing = TransactionSigning(repository: repository, tokens: tokens, policy: signingPolicy)
        self.retail = RetailService(
            repository: repository, tokens: tokens, hasher: hasher, policy: retailPolicy, bankName: bankName,
            logger: logger, lockNotices: notices, signing: signing)
        self.credentials = retail.credentials
        self.corporate = CorporateService(
            repository: repository, credentials: credentials, signing: signing, bankName: bankName)
        self.passkeys = PasskeyService(
            repository: repository,
            policy: passkeyPolicy
                ?? PasskeyPolicy(
                    relyingParty: RelyingParty(id: "localhost", origins: ["http://localhost:8080"]),
                    relyingPartyName: bankName),
            credentials: credentials, bankName: bankName, bankContact: bankContact, logger: logger)
        self.operators = OperatorService(repository: repository, tokens: tokens, hasher: hasher)
        self.importer = TokenImporter(repository: repository, vault: tokens.vault)
        self.clock = clock
        self.apiKey = apiKey
        self.apiKeys = APIKeyService(repository: repository)
        self.bankName = bankName
        self.bankContact = bankContact
        self.secureCookies = secureCookies
        self.logger = logger
    }

    /// Adopts the configured API key (`data/api.key`, `ICHIGO_API_KEY`) as the key named `admin` the first time, and
    /// warns when it is not an active key (the admin key was revoked, or it is another one). Run before serving.
    public func adoptAdminKey() async throws {
        try await apiKeys.adopt(secret: apiKey, name: "admin", scopes: [.admin], at: clock.now())
        if try await apiKeys.authenticate(secret: apiKey, at: clock.now()) == nil {
            logger.warning(
                "the key in data/api.key (or ICHIGO_API_KEY) is not an active API key: the key named admin was revoked or is another one; use `ichigo apikey create NAME --scope admin`")
        }
    }
}
