import Foundation
import Ichigo
import IchigoTesting
import Logging
import OTP
import Testing

/// Retail rules that live in the domain, tested against the memory store without the screens.
@Suite("Retail service")
struct RetailServiceTests {
    let key = MasterKey.random()
    let repository: MemoryRepository
    let retail: RetailService
    let customers: CustomerService
    let now = ContractFixture.start

    init() {
        repository = MemoryRepository(chain: AuditChain(masterKey: key))
        let logger = Logger(label: "test")
        let tokens = TokenService(repository: repository, vault: SeedVault(masterKey: key), policy: .standard, logger: logger)
        retail = RetailService(repository: repository, tokens: tokens, hasher: .forTesting, bankName: "いちご銀行", logger: logger)
        customers = CustomerService(repository: repository, hasher: .forTesting)
    }

    func customer(_ login: String) async throws -> User {
        try await customers.createRetailCustomer(
            NewUser(loginID: LoginID(rawValue: login)!, name: "佐藤 \(login)", email: "\(login)@example.jp",
                    loginPassword: "login-\(login)", confirmationPassword: "conf12"),
            actor: "test", at: now)
    }

    /// A token of `kind` in `state` held by `user`, with the seed returned.
    func token(_ kind: TokenKind, _ state: TokenState, for user: User) async throws -> (Token, Seed) {
        let id = TokenID.random()
        let seed = Seed.random()
        let token = Token(
            id: id, serial: kind == .software ? .randomSoftware() : SerialNumber(rawValue: "SKTH\(Int.random(in: 100000...999999))")!,
            kind: kind, state: state, sealedSeed: try SeedVault(masterKey: key).seal(seed, for: id),
            parameters: .ichigoDefault, contractID: user.contractID, createdAt: now)
        try await repository.insert(
            token, assigningTo: [user.id],
            audit: AuditEvent(at: now, actor: "test", action: "token.enrol", subject: token.serial.rawValue, outcome: "ok"))
        return (token, seed)
    }

    @Test func cancellingUseTakesOnlyAnActiveSoftwareToken() async throws {
        let user = try await customer("bos1")
        let (hardware, seed) = try await token(.hardware, .active, for: user)
        #expect(!RetailService.mayCancelUse(hardware))
        let auditBefore = try await repository.auditRecords(from: 1, limit: 1000).count
        let code = TOTP(seed: seed).code(at: now).text
        // Refused before the password or the code is looked at: nothing counted, nothing written.
        let error = await #expect(throws: IchigoError.self) {
            try await retail.cancelUse(by: user, confirmationPassword: "wrong!", code: code, at: now)
        }
        #expect(error?.code == .illegalTransition)
        #expect(try await repository.token(hardware.id)?.state == .active)
        #expect(try await repository.token(hardware.id)?.lastAcceptedStep == hardware.lastAcceptedStep)
        #expect(try await repository.user(user.id)?.passwordFailures == 0)
        #expect(try await repository.auditRecords(from: 1, limit: 1000).count == auditBefore)

        let other = try await customer("bos2")
        let (software, softSeed) = try await token(.software, .active, for: other)
        #expect(RetailService.mayCancelUse(software))
        try await retail.cancelUse(
            by: other, confirmationPassword: "conf12", code: TOTP(seed: softSeed).code(at: now).text, at: now)
        #expect(try await repository.token(software.id)?.state == .cancelled)
    }

    @Test func abortingStartOfUseIsAuditedOnlyForATokenAwaitingItsFirstCode() async throws {
        let user = try await customer("bok1")
        try await retail.abortStartOfUse(by: user, at: now)
        #expect(try await repository.auditRecords(from: 1, limit: 1000).allSatisfy { $0.event.action != "token.start_use" })
        let (issued, _) = try await token(.software, .issued, for: user)
        try await retail.abortStartOfUse(by: user, at: now)
        let aborted = try await repository.auditRecords(from: 1, limit: 1000).map(\.event)
            .filter { $0.action == "token.start_use" }
        #expect(aborted.map(\.outcome) == ["aborted"] && aborted.first?.subject == issued.serial.rawValue)
        #expect(try await repository.token(issued.id)?.state == .issued, "the token stays issued")
    }

    @Test func aPendingApplicationIsOnlyItsApplicantsAndOnlyWhilePending() async throws {
        let applicant = try await customer("bot1")
        let other = try await customer("bot2")
        let application = try await retail.startIssuance(
            for: applicant, phoneEmail: "bot1@phone.example.jp", phoneEmailConfirmation: "bot1@phone.example.jp",
            activationPassword: "4821", activationPasswordConfirmation: "4821", at: now)
        #expect(try await retail.pendingApplication(application.id, of: applicant.id)?.id == application.id)
        #expect(try await retail.pendingApplication(application.id, of: other.id) == nil)
        #expect(try await retail.pendingApplication(ApplicationID(rawValue: "Anone"), of: applicant.id) == nil)
        #expect(try await !retail.awaitsStartOfUse(applicant.id))
        _ = try await token(.software, .issued, for: other)
        #expect(try await retail.awaitsStartOfUse(other.id))
    }
}
