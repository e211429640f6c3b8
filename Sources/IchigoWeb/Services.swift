import Foundation
import Ichigo
import Logging

/// Everything the web layer needs, built once at start.
public struct IchigoServices: Sendable {
    public let repository: any IchigoRepository
    public let tokens: TokenService
    public let customers: CustomerService
    public let clock: any IchigoClock
    /// The bearer key integrating systems present to the JSON API.
    public let apiKey: String
    /// The issuer name in `otpauth://` URIs.
    public let bankName: String
    public let logger: Logger

    public init(
        repository: any IchigoRepository, masterKey: MasterKey, policy: OTPPolicy, hasher: PasswordHasher,
        clock: any IchigoClock = SystemClock(), apiKey: String, bankName: String, logger: Logger
    ) {
        self.repository = repository
        self.tokens = TokenService(
            repository: repository, vault: SeedVault(masterKey: masterKey), policy: policy, logger: logger)
        self.customers = CustomerService(repository: repository, hasher: hasher)
        self.clock = clock
        self.apiKey = apiKey
        self.bankName = bankName
        self.logger = logger
    }
}
