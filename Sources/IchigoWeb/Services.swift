import Foundation
import Ichigo
import Logging
import Prometheus
import WebAuthn

/// Everything the web layer needs, built once at start.
public struct IchigoServices: Sendable {
    public let repository: any IchigoStore
    public let tokens: TokenService
    public let customers: CustomerService
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
    /// What the server counts (`IchigoMetrics`), and the Prometheus registry `/metrics` shows (none: no `/metrics`).
    public let metrics: IchigoMetrics
    public let metricsRegistry: PrometheusCollectorRegistry
    /// Each request's deadline, `/ready`'s, and the grace for a commit under way (`DeadlineResponder`).
    public var deadlines = RequestDeadlines()
    /// Why the keys cannot be used (a key store that stopped answering, versions that cannot be read), for `/ready`;
    /// `nil` when they can.
    public var keyProblem: @Sendable () -> String? = { nil }

    /// Services over one key (version 1), for tests and tools.
    public init(
        repository: any IchigoStore, masterKey: MasterKey, policy: OTPPolicy,
        hasher: PasswordHasher, retailPolicy: RetailPolicy = RetailPolicy(), clock: any IchigoClock = SystemClock(),
        apiKey: String, bankName: String, bankContact: String = IchigoConfiguration.defaultBankContact,
        secureCookies: Bool = false, logger: Logger, metrics: IchigoMetrics? = nil,
        metricsRegistry: PrometheusCollectorRegistry? = nil, signingPolicy: TransferSigningPolicy = .off,
        passkeyPolicy: PasskeyPolicy? = nil
    ) {
        self.init(
            repository: repository, keyring: Keyring(masterKey), policy: policy, hasher: hasher,
            retailPolicy: retailPolicy, clock: clock, apiKey: apiKey, bankName: bankName, bankContact: bankContact,
            secureCookies: secureCookies, logger: logger, metrics: metrics, metricsRegistry: metricsRegistry,
            signingPolicy: signingPolicy, passkeyPolicy: passkeyPolicy)
    }

    /// Services whose seeds are sealed under `keyring`'s versions (the same keyring as the store's audit chain).
    public init(
        repository: any IchigoStore, keyring: Keyring, policy: OTPPolicy,
        hasher: PasswordHasher, retailPolicy: RetailPolicy = RetailPolicy(), clock: any IchigoClock = SystemClock(),
        apiKey: String, bankName: String, bankContact: String = IchigoConfiguration.defaultBankContact,
        secureCookies: Bool = false, logger: Logger, metrics: IchigoMetrics? = nil,
        metricsRegistry: PrometheusCollectorRegistry? = nil, signingPolicy: TransferSigningPolicy = .off,
        passkeyPolicy: PasskeyPolicy? = nil
    ) {
        self.repository = repository
        // Without a registry given, a registry of its own: `/metrics` shows what this instance counted.
        let registry = metricsRegistry ?? PrometheusCollectorRegistry()
        let metrics = metrics ?? IchigoMetrics(factory: PrometheusMetricsFactory(registry: registry))
        self.metrics = metrics
        self.metricsRegistry = registry
        let notices = LockNotices(repository: repository, bankName: bankName, contact: bankContact)
        self.tokens = TokenService(
            repository: repository, vault: SeedVault(keyring: keyring), policy: policy, logger: logger,
            metrics: metrics, lockNotices: notices)
        self.customers = CustomerService(repository: repository, hasher: hasher)
        self.signing = TransactionSigning(repository: repository, tokens: tokens, policy: signingPolicy)
        self.retail = RetailService(
            repository: repository, tokens: tokens, hasher: hasher, policy: retailPolicy, bankName: bankName,
            logger: logger, lockNotices: notices, signing: signing)
        self.corporate = CorporateService(repository: repository, retail: retail)
        self.passkeys = PasskeyService(
            repository: repository,
            policy: passkeyPolicy
                ?? PasskeyPolicy(
                    relyingParty: RelyingParty(id: "localhost", origins: ["http://localhost:8080"]),
                    relyingPartyName: bankName),
            retail: retail, bankName: bankName, bankContact: bankContact, logger: logger)
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
