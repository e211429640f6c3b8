import Foundation
import Ichigo
import IchigoTesting
import Logging
import Testing
import WebAuthn

/// The passkey flows against the memory store, with a software authenticator answering as a browser would: every
/// refusal the service must make (a challenge used twice, from another session, for another purpose; another
/// origin; a counter that goes back; an approval for changed data; the wrong login page; a locked login), and what it
/// writes when it accepts (the passkey, the counter, the mails, the audit rows).
@Suite("Passkey service")
struct PasskeyServiceTests {
    static let origin = "http://localhost:8080"

    struct Harness {
        let repository: MemoryRepository
        let passkeys: PasskeyService
        let customers: CustomerService
        let now = ContractFixture.start

        init(login: PasskeyPolicy.LoginMode = .requiredOnceRegistered) {
            let key = MasterKey.random()
            repository = MemoryRepository(chain: AuditChain(masterKey: key))
            let logger = Logger(label: "test")
            let tokens = TokenService(repository: repository, vault: SeedVault(masterKey: key), policy: .standard, logger: logger)
            let retail = RetailService(repository: repository, tokens: tokens, hasher: .forTesting, bankName: "いちご銀行", logger: logger)
            passkeys = PasskeyService(
                repository: repository,
                policy: PasskeyPolicy(
                    relyingParty: RelyingParty(id: "localhost", origins: [PasskeyServiceTests.origin]),
                    relyingPartyName: "いちご銀行", login: login),
                credentials: retail.credentials, bankName: "いちご銀行", bankContact: "0120-000-000", logger: logger)
            customers = CustomerService(repository: repository, hasher: .forTesting)
        }

        func customer(_ login: String, role: UserRole = .customer) async throws -> User {
            try await customers.createRetailCustomer(
                NewUser(loginID: LoginID(rawValue: login)!, name: "鈴木 \(login)", email: "\(login)@example.jp",
                        loginPassword: "login-\(login)", confirmationPassword: "conf12"),
                actor: "test", at: now)
        }

        /// Registers a passkey for `user` in session `binding`.
        func register(_ user: User, _ authenticator: SoftPasskeyAuthenticator, binding: String = "session:a") async throws -> Passkey {
            let options = try await passkeys.registrationOptions(for: user, binding: binding, at: now)
            return try await passkeys.register(authenticator.register(options), name: "スマホ", for: user, binding: binding, at: now)
        }

        func audit(_ action: String) async throws -> [AuditEvent] {
            try await repository.auditRecords(from: 0, limit: 10_000).map(\.event).filter { $0.action == action }
        }
    }

    func expectFailure(_ code: IchigoError.Code, _ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("expected \(code), nothing was thrown")
        } catch let error as IchigoError {
            #expect(error.code == code)
        } catch {
            Issue.record("expected \(code), got \(error)")
        }
    }

    @Test func registrationStoresThePasskeyAndMails() async throws {
        let h = Harness()
        let user = try await h.customer("reg1")
        let authenticator = SoftPasskeyAuthenticator(origin: Self.origin)
        let options = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        #expect(options.rp.id == "localhost")
        #expect(options.authenticatorSelection.userVerification == "required")
        #expect(options.authenticatorSelection.residentKey == "required")
        #expect(Base64URL.decode(options.user.id) == Passkey.userHandle(of: user.id))
        let passkey = try await h.passkeys.register(
            authenticator.register(options), name: "  私の電話  ", for: user, binding: "session:a", at: h.now)
        #expect(passkey.name == "私の電話")
        #expect(passkey.credentialID == Base64URL.encode(authenticator.credentialID))
        #expect(passkey.backupEligible && passkey.attestation == "none")
        #expect(try await h.repository.passkeys(of: user.id) == [passkey])
        let mails = await h.repository.mails
        #expect(mails.contains { $0.recipient == "reg1@example.jp" && $0.body.contains("「私の電話」") })
        #expect(try await h.audit("passkey.register").map(\.outcome) == ["ok"])
        // The next options exclude it.
        let again = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        #expect(again.excludeCredentials.map(\.id) == [passkey.credentialID])
    }

    @Test func registrationRefusals() async throws {
        let h = Harness()
        let user = try await h.customer("reg2")
        let authenticator = SoftPasskeyAuthenticator(origin: Self.origin)
        // A challenge from another session.
        let options = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        let response = authenticator.register(options)
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.register(response, name: "x", for: user, binding: "session:b", at: h.now)
        }
        // The challenge was not used up by the other session's attempt; then it works once.
        try await h.passkeys.register(response, name: "x", for: user, binding: "session:a", at: h.now)
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.register(response, name: "x", for: user, binding: "session:a", at: h.now)
        }
        // Another origin, an expired challenge, a bad name.
        let phished = SoftPasskeyAuthenticator(origin: "http://localhost:9999")
        let second = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.register(phished.register(second), name: "x", for: user, binding: "session:a", at: h.now)
        }
        let late = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.register(
                SoftPasskeyAuthenticator(origin: Self.origin).register(late), name: "x", for: user, binding: "session:a",
                at: h.now + 301)
        }
        await expectFailure(.passkeyNameInvalid) {
            try await h.passkeys.register(
                authenticator.register(late), name: String(repeating: "あ", count: 31), for: user, binding: "session:a",
                at: h.now)
        }
        #expect(try await h.repository.passkeys(of: user.id).count == 1)
        let reasons = try await h.audit("passkey.register").compactMap(\.reason)
        #expect(reasons.contains { $0.contains("origin_not_allowed") })
        #expect(reasons.contains { $0.contains("challenge_unknown_used_or_expired") })
    }

    @Test func signInOnceWithTheRightPageAndCounter() async throws {
        let h = Harness()
        let user = try await h.customer("login1")
        let authenticator = SoftPasskeyAuthenticator(origin: Self.origin)
        _ = try await h.register(user, authenticator)
        #expect(try await h.passkeys.loginRequiresPasskey(user))
        let options = try await h.passkeys.loginOptions(for: .retail, binding: "session:l", at: h.now)
        #expect(options.allowCredentials.isEmpty)
        let assertion = authenticator.assert(options)
        let (signedIn, _) = try await h.passkeys.login(assertion, as: .retail, binding: "session:l", at: h.now)
        #expect(signedIn.id == user.id)
        #expect(try await h.repository.passkey(credentialID: Base64URL.encode(authenticator.credentialID))?.signCount == 1)
        // The same assertion again: its challenge is gone.
        await expectFailure(.passkeyFailed) {
            _ = try await h.passkeys.login(assertion, as: .retail, binding: "session:l", at: h.now)
        }
        // A retail customer's passkey on the corporate login page.
        let corporate = try await h.passkeys.loginOptions(for: .corporateUser, binding: "session:l", at: h.now)
        await expectFailure(.passkeyFailed) {
            _ = try await h.passkeys.login(authenticator.assert(corporate), as: .corporateUser, binding: "session:l", at: h.now)
        }
        // A counter that goes back marks the passkey as a possible clone; it is refused from then on.
        let next = try await h.passkeys.loginOptions(for: .retail, binding: "session:l", at: h.now)
        authenticator.signCount = 0
        await expectFailure(.passkeyFailed) {
            _ = try await h.passkeys.login(authenticator.assert(next), as: .retail, binding: "session:l", at: h.now)
        }
        #expect(try await h.repository.passkey(credentialID: Base64URL.encode(authenticator.credentialID))?.cloneSuspected == true)
        #expect(try await h.audit("passkey.clone_suspected").count == 1)
        authenticator.signCount = 50
        let later = try await h.passkeys.loginOptions(for: .retail, binding: "session:l", at: h.now)
        await expectFailure(.passkeyFailed) {
            _ = try await h.passkeys.login(authenticator.assert(later), as: .retail, binding: "session:l", at: h.now)
        }
    }

    @Test func userVerificationIsRequired() async throws {
        let h = Harness()
        let user = try await h.customer("uv1")
        let authenticator = SoftPasskeyAuthenticator(origin: Self.origin)
        _ = try await h.register(user, authenticator)
        authenticator.flags = 0x01  // UP only
        let options = try await h.passkeys.loginOptions(for: .retail, binding: "session:u", at: h.now)
        await expectFailure(.passkeyFailed) {
            _ = try await h.passkeys.login(authenticator.assert(options), as: .retail, binding: "session:u", at: h.now)
        }
        #expect(try await h.audit("login.passkey").compactMap(\.reason).contains { $0.contains("user_not_verified") })
    }

    @Test func offeredPolicyKeepsThePasswordLogin() async throws {
        let h = Harness(login: .offered)
        let user = try await h.customer("off1")
        _ = try await h.register(user, SoftPasskeyAuthenticator(origin: Self.origin))
        #expect(!(try await h.passkeys.loginRequiresPasskey(user)))
        try await h.passkeys.requirePasswordLoginAllowed(user, at: h.now)
        #expect(try await h.audit("login.password").isEmpty)
    }

    @Test func aPasswordLoginOfAPasskeyHolderIsRefusedAndAudited() async throws {
        let h = Harness(login: .requiredOnceRegistered)
        let user = try await h.customer("req1")
        // Without a passkey yet, the password still signs in.
        try await h.passkeys.requirePasswordLoginAllowed(user, at: h.now)
        _ = try await h.register(user, SoftPasskeyAuthenticator(origin: Self.origin))
        await expectFailure(.passkeyRequired) { try await h.passkeys.requirePasswordLoginAllowed(user, at: h.now) }
        let refused = try await h.audit("login.password")
        #expect(refused.count == 1 && refused[0].outcome == "refused" && refused[0].reason == "passkey_required")
    }

    @Test func approvalIsBoundToTheTransfer() async throws {
        let h = Harness()
        let user = try await h.customer("appr1")
        let authenticator = SoftPasskeyAuthenticator(origin: Self.origin)
        _ = try await h.register(user, authenticator)
        try await h.repository.insert(
            Account(id: "A1", userID: user.id, name: "普通預金", branch: "001", number: "7000001", balance: 100_000),
            audit: AuditEvent(at: h.now, actor: "test", action: "account.open", subject: "A1", outcome: "ok"))
        let shown = Transfer(
            id: "X1", accountID: "A1", payee: Payee(bank: "0001", branch: "123", account: "1234567", name: "タナカ"),
            amount: 30_000, createdAt: h.now)
        let options = try #require(
            try await h.passkeys.approvalOptions(for: user, subject: .transfer(shown), binding: "session:t", at: h.now))
        #expect(options.allowCredentials.map(\.id) == [Base64URL.encode(authenticator.credentialID)])
        // The challenge ends with the transfer's digest.
        #expect(Array(Base64URL.decode(options.challenge)!.suffix(32)) == ApprovalSubject.transfer(shown).digest)
        // The same account number and amount at another bank: refused, nothing moves.
        var otherBank = shown
        otherBank.payee.bank = "0002"
        let assertion = authenticator.assert(options)
        await expectFailure(.passkeyTransactionChanged) {
            try await h.passkeys.transfer(otherBank, by: user, approval: assertion, binding: "session:t", at: h.now)
        }
        #expect(try await h.repository.accounts(of: user.id).first?.balance == 100_000)
        // Its challenge is used up by that attempt.
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.transfer(shown, by: user, approval: assertion, binding: "session:t", at: h.now)
        }
        let fresh = try #require(
            try await h.passkeys.approvalOptions(for: user, subject: .transfer(shown), binding: "session:t", at: h.now))
        try await h.passkeys.transfer(shown, by: user, approval: authenticator.assert(fresh), binding: "session:t", at: h.now)
        #expect(try await h.repository.accounts(of: user.id).first?.balance == 70_000)
        let rows = try await h.audit("transfer")
        #expect(rows.count == 1 && rows[0].reason?.contains("approved_with=passkey") == true)
        // Another person's passkey cannot approve this customer's transfer.
        let stranger = try await h.customer("appr2")
        let strangersKey = SoftPasskeyAuthenticator(origin: Self.origin)
        _ = try await h.register(stranger, strangersKey)
        let third = try #require(
            try await h.passkeys.approvalOptions(for: user, subject: .transfer(shown), binding: "session:t", at: h.now))
        await expectFailure(.passkeyFailed) {
            try await h.passkeys.transfer(shown, by: user, approval: strangersKey.assert(third), binding: "session:t", at: h.now)
        }
    }

    @Test func atMostTenAndRemovalMails() async throws {
        let h = Harness()
        let user = try await h.customer("lim1")
        var credentials: [String] = []
        for _ in 0..<10 {
            #expect(try await h.passkeys.mayRegisterAnother(user.id))
            credentials.append(try await h.register(user, SoftPasskeyAuthenticator(origin: Self.origin)).credentialID)
        }
        #expect(!(try await h.passkeys.mayRegisterAnother(user.id)))
        await expectFailure(.passkeyLimit) {
            _ = try await h.passkeys.registrationOptions(for: user, binding: "session:a", at: h.now)
        }
        try await h.passkeys.remove(credentials[0], by: user, at: h.now)
        #expect(try await h.repository.passkeys(of: user.id).count == 9)
        let removed = try await h.passkeys.remove(nil, of: user, actor: "operator:O1", byBank: true, at: h.now)
        #expect(removed == 9)
        let mails = await h.repository.mails.filter { $0.subject.contains("パスキー削除") }
        #expect(mails.count == 2 && mails[1].body.contains("当行にて"))
        #expect(!(try await h.passkeys.loginRequiresPasskey(user)))
        await expectFailure(.passkeyNotFound) { try await h.passkeys.remove(credentials[1], by: user, at: h.now) }
    }
}
