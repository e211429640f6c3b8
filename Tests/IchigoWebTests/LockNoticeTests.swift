import Foundation
import Ichigo
import IchigoSQLite
import IchigoTesting
import IchigoWeb
import OTP
import Testing

/// PSD2 RTS Art. 4: warned before a block (残り1回), told when blocked and whom to contact.
@Suite("Lock warnings and notices")
struct LockNoticeTests {
    @Test func aTokenLockMailsTheHolderOnceWithTheLockAndWarnsTheTryBefore() async throws {
        let harness = try APIHarness()
        let s = harness.services
        let now = harness.clock.now()
        let user = try await s.customers.createRetailCustomer(
            NewUser(loginID: LoginID(rawValue: "lock1")!, name: "苺 花子", email: "hanako@example.jp"), actor: "t", at: now)
        let (_, seed) = try await s.tokens.enrolSoftwareToken(for: user.id, state: .active, actor: "t", at: now)
        let right = TOTP(seed: seed, parameters: s.tokens.policy.parameters).code(at: now).text
        let wrong = OTPCode(String(format: "%06d", (Int(right)! + 1) % 1_000_000))!
        var results: [VerificationResult] = []
        for _ in 1...5 { results.append(try await s.tokens.verify(wrong, for: user.id, actor: "t", at: now)) }
        #expect(results[3] == .refused(.invalidCodeLastTry), "the 4th wrong code warns: one more locks")
        #expect(results[4] == .refused(.lockedByThisAttempt))
        let mails = try await harness.repository.pendingMails(limit: 10, at: now)
        #expect(mails.count == 1, "\(mails.map(\.subject))")
        #expect(mails.first?.recipient == "hanako@example.jp")
        #expect(mails.first?.subject.contains("ワンタイムパスワードのご利用を停止しました") == true)
        #expect(mails.first?.body.contains("0120-150-150") == true, "whom to contact")
        #expect(mails.first?.body.contains(right) == false)
        // Further wrong codes on the locked token send nothing more.
        _ = try await s.tokens.verify(wrong, for: user.id, actor: "t", at: now)
        #expect(try await harness.repository.pendingMails(limit: 10, at: now).count == 1)
        try harness.repository.close()
    }

    @Test func aCorporateTokenLockAlsoMailsTheContractsAdministrators() async throws {
        let harness = try APIHarness()
        let s = harness.services
        let now = harness.clock.now()
        let contract = try await s.customers.createCorporateContract(
            name: "いちご商事", usageMode: .individual, pin: "1234", actor: "t", at: now)
        _ = try await s.customers.addUser(
            NewUser(loginID: LoginID(rawValue: "boss1")!, name: "社長", role: .master, email: "boss@example.jp"),
            to: contract.id, actor: "t", at: now)
        _ = try await s.customers.addUser(
            NewUser(loginID: LoginID(rawValue: "admin1")!, name: "管理者", role: .administrator, email: "admin@example.jp"),
            to: contract.id, actor: "t", at: now)
        let clerk = try await s.customers.addUser(
            NewUser(loginID: LoginID(rawValue: "clerk1")!, name: "担当", role: .ordinary, email: "clerk@example.jp"),
            to: contract.id, actor: "t", at: now)
        let (_, seed) = try await s.tokens.enrolSoftwareToken(for: clerk.id, state: .active, actor: "t", at: now)
        let right = TOTP(seed: seed, parameters: s.tokens.policy.parameters).code(at: now).text
        let wrong = OTPCode(String(format: "%06d", (Int(right)! + 7) % 1_000_000))!
        for _ in 1...5 { _ = try await s.tokens.verify(wrong, for: clerk.id, actor: "t", at: now) }
        let mails = try await harness.repository.pendingMails(limit: 10, at: now)
        #expect(Set(mails.map(\.recipient)) == ["clerk@example.jp", "boss@example.jp", "admin@example.jp"])
        let adminMail = try #require(mails.first { $0.recipient == "admin@example.jp" })
        #expect(adminMail.body.contains("担当") && adminMail.body.contains("利用停止解除"))
        try harness.repository.close()
    }

    @Test func passwordsWarnOnTheFourthTryAndTheLockIsMailed() async throws {
        let harness = try APIHarness()
        let s = harness.services
        let now = harness.clock.now()
        let contract = try await s.customers.createCorporateContract(
            name: "みかん物産", usageMode: .individual, pin: "1234", actor: "t", at: now)
        _ = try await s.customers.addUser(
            NewUser(loginID: LoginID(rawValue: "boss2")!, name: "社長", role: .master, email: "boss2@example.jp"),
            to: contract.id, actor: "t", at: now)
        _ = try await s.customers.addUser(
            NewUser(loginID: LoginID(rawValue: "clerk2")!, name: "担当", role: .ordinary, email: "clerk2@example.jp",
                    loginPassword: "Right-Pass-1"),
            to: contract.id, actor: "t", at: now)
        var codes: [IchigoError.Code] = []
        for _ in 1...5 {
            do {
                _ = try await s.credentials.authenticate(loginID: "clerk2", password: "wrong", as: .corporateUser, at: now)
            } catch let error as IchigoError { codes.append(error.code) }
        }
        #expect(codes == [.loginFailed, .loginFailed, .loginFailed, .loginLastTry, .loginLocked])
        let mails = try await harness.repository.pendingMails(limit: 10, at: now)
        #expect(Set(mails.map(\.recipient)) == ["clerk2@example.jp", "boss2@example.jp"], "\(mails.map(\.recipient))")
        #expect(mails.allSatisfy { !$0.body.contains("Right-Pass-1") && !$0.body.contains("wrong") })
        // Even the right password is refused now, and no second notice is sent.
        await #expect(throws: IchigoError.self) {
            _ = try await s.credentials.authenticate(loginID: "clerk2", password: "Right-Pass-1", as: .corporateUser, at: now)
        }
        #expect(try await harness.repository.pendingMails(limit: 10, at: now).count == 2)
        try harness.repository.close()
    }
}
