import Foundation
import Ichigo
import IchigoTesting
import Logging
import OTP
import Testing

/// The credential checks the retail, corporate and passkey flows share, against the memory store.
@Suite("Credential service")
struct CredentialServiceTests {
    let key = MasterKey.random()
    let repository: MemoryRepository
    let credentials: CredentialService
    let customers: CustomerService
    let now = ContractFixture.start

    init() {
        repository = MemoryRepository(chain: AuditChain(masterKey: key))
        let logger = Logger(label: "test")
        let tokens = TokenService(repository: repository, vault: SeedVault(masterKey: key), policy: .standard, logger: logger)
        credentials = CredentialService(repository: repository, tokens: tokens, hasher: .forTesting)
        customers = CustomerService(repository: repository, hasher: .forTesting)
    }

    func customer(_ login: String) async throws -> User {
        try await customers.createRetailCustomer(
            NewUser(loginID: LoginID(rawValue: login)!, name: "佐藤 \(login)", email: "\(login)@example.jp",
                    loginPassword: "login-\(login)", confirmationPassword: "conf12"),
            actor: "test", at: now)
    }

    func code(_ error: (any Error)?) -> IchigoError.Code? { (error as? IchigoError)?.code }

    @Test func wrongPasswordsWarnAtTheLastTryThenStopTheLogin() async throws {
        let user = try await customer("cred1")
        let threshold = RetailPolicy().passwordLockoutThreshold
        for attempt in 1..<threshold {
            let error = await #expect(throws: IchigoError.self) {
                _ = try await credentials.authenticate(loginID: "cred1", password: "wrong", at: now)
            }
            #expect(code(error) == (attempt == threshold - 1 ? .loginLastTry : .loginFailed), "attempt \(attempt)")
        }
        let locked = await #expect(throws: IchigoError.self) {
            _ = try await credentials.authenticate(loginID: "cred1", password: "wrong", at: now)
        }
        #expect(code(locked) == .loginLocked)
        // Stopped: even the right password is refused, and says why.
        let after = await #expect(throws: IchigoError.self) {
            _ = try await credentials.authenticate(loginID: "cred1", password: "login-cred1", at: now)
        }
        #expect(code(after) == .loginLocked)
        #expect(try await repository.user(user.id)?.loginLocked == true)
    }

    @Test func aWrongConfirmationPasswordCountsWithTheLoginPasswords() async throws {
        let user = try await customer("cred2")
        _ = await #expect(throws: IchigoError.self) {
            _ = try await credentials.authenticate(loginID: "cred2", password: "wrong", at: now)
        }
        let error = await #expect(throws: IchigoError.self) {
            try await credentials.checkConfirmationPassword("nope", of: user, action: "transfer", at: now)
        }
        #expect(code(error) == .wrongConfirmationPassword && (error as? IchigoError)?.field == "confirmationPassword")
        #expect(try await repository.user(user.id)?.passwordFailures == 2)
        // The right one resets the count.
        let fresh = try #require(try await repository.user(user.id))
        try await credentials.checkConfirmationPassword("conf12", of: fresh, action: "transfer", at: now)
        #expect(try await repository.user(user.id)?.passwordFailures == 0)
    }

    @Test func eachLoginPageAdmitsOnlyItsOwnUsers() async throws {
        _ = try await customer("cred3")
        let user = try await credentials.authenticate(loginID: "cred3", password: "login-cred3", as: .retail, at: now)
        #expect(user.loginID.rawValue == "cred3")
        // A retail customer on the corporate page reads as an unknown login, and counts nothing.
        let error = await #expect(throws: IchigoError.self) {
            _ = try await credentials.authenticate(loginID: "cred3", password: "login-cred3", as: .corporateUser, at: now)
        }
        #expect(code(error) == .loginFailed)
        #expect(try await repository.user(user.id)?.passwordFailures == 0)
    }

    @Test func anOTPInAFormIsCheckedForItsShapeBeforeTheToken() async throws {
        let user = try await customer("cred4")
        let empty = await #expect(throws: ValidationErrors.self) {
            try await credentials.verifyOTP("", for: user, at: now)
        }
        #expect(empty?.fields == ["otp": .required])
        let letters = await #expect(throws: ValidationErrors.self) {
            try await credentials.verifyOTP("12ab56", for: user, at: now)
        }
        #expect(letters?.fields == ["otp": .invalidOTPFormat])
        #expect(try await credentials.loginNeedsOTP(user) == false)
    }
}

/// Lifting a login stop: one rule for the console, the command line and the JSON API.
@Suite("Login stop")
struct LoginStopTests {
    @Test func onlyAStoppedLoginIsLiftedAndEveryCallerHearsTheSame() async throws {
        let key = MasterKey.random()
        let repository = MemoryRepository(chain: AuditChain(masterKey: key))
        let logger = Logger(label: "test")
        let tokens = TokenService(repository: repository, vault: SeedVault(masterKey: key), policy: .standard, logger: logger)
        let credentials = CredentialService(repository: repository, tokens: tokens, hasher: .forTesting)
        let operators = OperatorService(repository: repository, tokens: tokens, hasher: .forTesting)
        let now = ContractFixture.start
        let user = try await CustomerService(repository: repository, hasher: .forTesting).createRetailCustomer(
            NewUser(loginID: LoginID(rawValue: "stop1")!, name: "佐藤", loginPassword: "login-stop1"), actor: "test", at: now)
        let notStopped = await #expect(throws: IchigoError.self) {
            try await operators.unlockLogin(of: user.id, actor: "api:ops", at: now)
        }
        #expect(notStopped?.code == .loginNotLocked)
        let byLoginID = await #expect(throws: IchigoError.self) {
            _ = try await operators.unlockLogin(loginID: "stop1", actor: "op:1", at: now)
        }
        #expect(byLoginID?.code == .loginNotLocked)
        let unknown = await #expect(throws: IchigoError.self) {
            try await operators.unlockLogin(of: UserID(rawValue: "U0"), actor: "api:ops", at: now)
        }
        #expect(unknown?.code == .userNotFound)
        for _ in 0..<RetailPolicy().passwordLockoutThreshold {
            _ = try? await credentials.authenticate(loginID: "stop1", password: "wrong", at: now)
        }
        #expect(try await repository.user(user.id)?.loginLocked == true)
        try await operators.unlockLogin(of: user.id, actor: "api:ops", at: now + 60)
        #expect(try await repository.user(user.id)?.loginLocked == false)
        let lifted = try await repository.auditRecords(from: 1, limit: 1000).last?.event
        #expect(lifted?.action == "login.unlock" && lifted?.actor == "api:ops" && lifted?.subject == user.id.rawValue)
    }
}
