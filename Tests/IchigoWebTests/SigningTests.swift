import Foundation
import HTTPTypes
import HummingbirdTesting
import Ichigo
import IchigoSQLite
import IchigoTesting
import IchigoWeb
import NIOCore
import OTP
import Testing

/// Transaction authentication (取引認証) in-process: signed retail transfers (BFK002), signed corporate approvals
/// (HSN002) and the JSON API's challenge/verify pair, under the bank's signing policy.
@Suite("Transaction signing on the server (BFK002, HSN002, JSON API)")
struct SigningTests {
    static let confirmation = RetailScreenTests.confirmation
    static let required = TransferSigningPolicy(mode: .required)
    static let suite = TransferSigningPolicy.defaultSuiteText

    /// The customer `yamada` (accounts yamada-A 100,000 yen, yamada-B 0 yen) with an active software token carrying
    /// `suite`; returns the user, the seed and the token's TOTP.
    static func signer(_ harness: APIHarness, suite: String? = suite) async throws -> (User, Seed, TOTP) {
        let user = try await RetailScreenTests.customer(harness)
        let now = harness.clock.now()
        let (token, seed) = try await harness.services.tokens.enrolSoftwareToken(
            for: user.id, ocraSuite: suite, actor: "test", at: now - 120)
        let totp = TOTP(seed: seed, parameters: token.parameters)
        let activated = try await harness.services.tokens.activate(
            totp.code(at: now - 120), for: user.id, actor: "test", at: now - 120)
        try #require(activated.isAccepted)
        return (user, seed, totp)
    }

    /// What `ichigo-token sign` computes: the OCRA response over (amount, account) at `date`.
    static func sign(_ seed: Seed, account: String, amount: Int, at date: Date, suite text: String = suite) throws
        -> String
    {
        let suite = try OCRASuite(text)
        let question = try TransactionChallenge(payeeAccount: account, amount: amount).question(for: suite)
        return try OCRA(seed: seed, suite: suite).response(to: question, time: .at(date)).text
    }

    /// Logs in with password and OTP.
    static func login(_ browser: Browser, _ harness: APIHarness, _ totp: TOTP) async throws {
        try await RetailScreenTests.login(browser)
        try #require(browser.screenID == "BLI002", "\(browser.page)")
        try await browser.post("/login/otp", ["otp": totp.code(at: harness.clock.now()).text])
        try #require(browser.screenID == "BTP001", "\(browser.page)")
    }

    /// BFK001 → BFK002 for a transfer to `account` (bank 9999 branch 001: yamada-B is 7654321); returns the page's
    /// transfer ID (the pending transfer the shown challenge belongs to).
    @discardableResult
    static func enter(_ browser: Browser, account: String, amount: Int, bank: String = "9999") async throws -> String? {
        try await browser.get("/transfer")
        try await browser.post(
            "/transfer",
            ["account": "yamada-A", "payeeBank": bank, "payeeBranch": "001", "payeeAccount": account,
             "payeeName": "ヤマダ タロウ", "amount": String(amount)])
        try #require(browser.screenID == "BFK002", "\(browser.page)")
        return browser.first(#"name="transferID" value="([^"]*)""#)
    }

    static func balances(_ harness: APIHarness, _ user: User) async throws -> [Int64] {
        try await harness.repository.accounts(of: user.id).map(\.balance)
    }

    static func message(_ code: IchigoError.Code) -> String { WebMessages.text(for: code, in: .ja) }

    // MARK: Retail 振込

    @Test func aSignedTransferGoesThroughOnceAndAReplayIsRefused() async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, seed, totp) = try await Self.signer(harness)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            harness.clock.advance(by: 60)
            let id = try #require(try await Self.enter(browser, account: "7654321", amount: 30_000))
            // BFK002 shows the challenge of the pending transfer and asks for the signature, not the OTP.
            #expect(browser.has("id=\"signature\"") && !browser.has("id=\"otp\""))
            #expect(browser.text(of: "sign-challenge-text") == "300007654321")
            #expect(browser.text(of: "sign-suite") == Self.suite)
            #expect(browser.has("トークンアプリで「取引認証」を選び、振込先口座番号と振込金額を入力して表示された取引認証番号を入力してください。"))
            #expect(browser.text(of: "sign-command") == "ichigo-token sign --account 7654321 --amount 30000")
            let now = harness.clock.now()
            let code = try Self.sign(seed, account: "7654321", amount: 30_000, at: now)
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": code, "transferID": id])
            #expect(browser.screenID == "BFK003", "\(browser.page)")
            #expect(try await Self.balances(harness, user) == [70_000, 30_000])

            // The audit trail records what was signed, never the code.
            let records = try await harness.repository.auditRecords(from: 0, limit: 1000)
            let transfer = try #require(records.last { $0.event.action == "transfer" })
            let reason = transfer.event.reason ?? ""
            #expect(reason.contains("suite=\(Self.suite)") && reason.contains("challenge=300007654321"))
            #expect(reason.contains("payee_account=7654321") && reason.contains("amount=30000"))
            // … and the whole payee, bank and branch too (the signature binds the account number and the amount).
            #expect(reason.contains("payee=9999-001-7654321"), "\(reason)")
            #expect(records.contains { $0.event.action == "transfer.sign" && $0.event.outcome == "accepted" })
            #expect(!records.contains { ($0.event.reason ?? "").contains(code) })

            // The same code again, for the same transfer data in the same minute: refused, nothing moves.
            let again = try #require(try await Self.enter(browser, account: "7654321", amount: 30_000))
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": code, "transferID": again])
            #expect(browser.screenID == "BFK002")
            #expect(browser.fieldError("signature") == Self.message(.signatureInvalid))
            #expect(try await Self.balances(harness, user) == [70_000, 30_000])
            // A minute later the token shows a new code, which works.
            harness.clock.advance(by: 60)
            let fresh = try Self.sign(seed, account: "7654321", amount: 30_000, at: harness.clock.now())
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": fresh, "transferID": again])
            #expect(browser.screenID == "BFK003", "\(browser.page)")
            #expect(try await Self.balances(harness, user) == [40_000, 60_000])
        }
    }

    @Test(arguments: [("7654321", 30_001), ("1111111", 30_000)])
    func aCodeForTheTransferShownInAnotherWindowIsRefused(_ changed: (account: String, amount: Int)) async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, seed, totp) = try await Self.signer(harness)
        try await harness.test { api in
            let first = Browser(client: api.client)
            try await Self.login(first, harness, totp)
            harness.clock.advance(by: 60)
            let firstID = try #require(try await Self.enter(first, account: "7654321", amount: 30_000))
            let code = try Self.sign(seed, account: "7654321", amount: 30_000, at: harness.clock.now())
            // A second tab of the same session confirms another transfer, replacing the pending one.
            let second = Browser(client: api.client)
            second.cookie = first.cookie
            let secondID = try #require(
                try await Self.enter(
                    second, account: changed.account, amount: changed.amount,
                    bank: changed.account == "7654321" ? "9999" : "0001"))
            #expect(secondID != firstID)
            #expect(second.text(of: "sign-challenge-text") == "\(changed.amount)\(changed.account)")
            // The first tab's code is refused with a clear message; nothing moves, nothing is counted.
            try await first.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": code, "transferID": firstID])
            #expect(first.screenID == "BFK002")
            #expect(first.pageError == Self.message(.transferChanged))
            #expect(try await Self.balances(harness, user) == [100_000, 0])
            #expect(try await harness.repository.userWithToken(user.id)?.token?.failureCount == 0)
            // The same code posted against the pending (changed) transfer: a wrong signature for it.
            try await first.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": code, "transferID": secondID])
            #expect(first.fieldError("signature") == Self.message(.signatureInvalid))
            #expect(try await Self.balances(harness, user) == [100_000, 0])
            #expect(try await harness.repository.userWithToken(user.id)?.token?.failureCount == 1)
            // A code for the transfer now pending goes through, for that transfer.
            let right = try Self.sign(seed, account: changed.account, amount: changed.amount, at: harness.clock.now())
            try await second.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": right, "transferID": secondID])
            #expect(second.screenID == "BFK003", "\(second.page)")
            let expectedB: Int64 = changed.account == "7654321" ? Int64(changed.amount) : 0
            #expect(try await Self.balances(harness, user) == [100_000 - Int64(changed.amount), expectedB])
        }
    }

    @Test func aPayeeFieldOfTheWrongFormSaysWhatItNeeds() async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, _, totp) = try await Self.signer(harness)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            try await browser.get("/transfer")
            try await browser.post(
                "/transfer",
                ["account": "yamada-A", "payeeBank": "99", "payeeBranch": "0011", "payeeAccount": "76543210",
                 "payeeName": "ヤマダ タロウ", "amount": "30000"])
            #expect(browser.screenID == "BFK001", "\(browser.page)")
            #expect(browser.fieldError("payeeBank") == Self.message(.invalidBankCode))
            #expect(browser.fieldError("payeeBranch") == Self.message(.invalidBranchCode))
            #expect(browser.fieldError("payeeAccount") == "口座番号は半角数字7桁で入力してください。")
            #expect(try await Self.balances(harness, user) == [100_000, 0])
        }
    }

    @Test func aSigningSuiteIsRefusedForWhatItLacks() throws {
        let neither = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN20")
        #expect(TransferSigningPolicy.problem(with: neither)?.contains("needs a time step (T) or a counter (C)") == true)
        let both = try OCRASuite("OCRA-1:HOTP-SHA1-6:C-QN20-T1M")
        #expect(TransferSigningPolicy.problem(with: both)?.contains("not both") == true)
        #expect(TransferSigningPolicy.problem(with: try OCRASuite(Self.suite)) == nil)
    }

    @Test func thePlainOTPIsRefusedWhereSigningIsRequired() async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, _, totp) = try await Self.signer(harness)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            harness.clock.advance(by: 60)
            let id = try #require(try await Self.enter(browser, account: "7654321", amount: 5_000))
            let otp = totp.code(at: harness.clock.now()).text
            // The OTP in the old field: the signature is missing.
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "otp": otp, "transferID": id])
            #expect(browser.fieldError("signature") == Self.message(.required))
            // The OTP typed as the signature: a wrong signature.
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": otp, "transferID": id])
            #expect(browser.fieldError("signature") == Self.message(.signatureInvalid))
            // Not digits: a format error, nothing counted.
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": "12ab56", "transferID": id])
            #expect(browser.fieldError("signature") == Self.message(.invalidSignatureFormat))
            #expect(try await Self.balances(harness, user) == [100_000, 0])
            #expect(try await harness.repository.userWithToken(user.id)?.token?.failureCount == 1)
        }
    }

    @Test func wrongSignaturesLockTheTokenLikeWrongOTPs() async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, seed, totp) = try await Self.signer(harness)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            harness.clock.advance(by: 60)
            let id = try #require(try await Self.enter(browser, account: "7654321", amount: 5_000))
            let now = harness.clock.now()
            let valid = try Set((-1...1).map { try Self.sign(seed, account: "7654321", amount: 5_000, at: now + Double($0 * 60)) })
            let wrong = (0..<10).map { String(repeating: String($0), count: 6) }.first { !valid.contains($0) }!
            for attempt in 1...5 {
                try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": wrong, "transferID": id])
                switch attempt {
                case 4: #expect(browser.fieldError("signature") == Self.message(.signatureLastTry))
                case 5: #expect(browser.pageError == Self.message(.tokenLocked), "\(browser.page)")
                default: #expect(browser.fieldError("signature") == Self.message(.signatureInvalid))
                }
            }
            #expect(try await harness.repository.userWithToken(user.id)?.token?.state == .locked)
            #expect(try await RetailScreenTests.mail(harness, to: "yamada@example.jp") != nil)
            // Even the right signature moves nothing now.
            let right = try Self.sign(seed, account: "7654321", amount: 5_000, at: now)
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": right, "transferID": id])
            #expect(browser.pageError == Self.message(.tokenLocked))
            #expect(try await Self.balances(harness, user) == [100_000, 0])
        }
    }

    @Test func withThePolicyOffTheOTPFlowIsUnchanged() async throws {
        let harness = try APIHarness()
        let (user, _, totp) = try await Self.signer(harness, suite: nil)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            harness.clock.advance(by: 60)
            let id = try await Self.enter(browser, account: "7654321", amount: 30_000)
            #expect(id == nil && browser.has("id=\"otp\"") && !browser.has("id=\"signature\"") && !browser.has("sign-challenge"))
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "otp": totp.code(at: harness.clock.now()).text])
            #expect(browser.screenID == "BFK003", "\(browser.page)")
            #expect(try await Self.balances(harness, user) == [70_000, 30_000])
        }
    }

    @Test func aTokenWithoutASuiteCannotSignUnderThePolicy() async throws {
        let harness = try APIHarness(signing: Self.required)
        let (user, _, totp) = try await Self.signer(harness, suite: nil)
        try await harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.login(browser, harness, totp)
            harness.clock.advance(by: 60)
            let id = try #require(try await Self.enter(browser, account: "7654321", amount: 30_000))
            #expect(browser.pageError == Self.message(.signingUnsupported))
            try await browser.post("/transfer/confirm", ["confirmationPassword": Self.confirmation, "signature": "123456", "transferID": id])
            #expect(browser.pageError == Self.message(.signingUnsupported))
            #expect(try await Self.balances(harness, user) == [100_000, 0])
        }
    }

    // MARK: Corporate 承認実行

    @Test func aCorporateApprovalIsSignedOverTheStoredTransfer() async throws {
        let f = try await CorporateScreenTests.fixture(signing: Self.required)
        let harness = f.harness
        let repository = harness.repository
        let now = harness.clock.now()
        // A hardware token whose PSKC key names the signing suite, registered for keiri.
        let seed = Seed.random()
        let tokenID = TokenID.random()
        try await repository.importTokens(
            [
                Token(
                    id: tokenID, serial: SerialNumber(rawValue: "SKTH71000001")!, kind: .hardware, state: .issued,
                    sealedSeed: try SeedVault(masterKey: harness.masterKey).seal(seed, for: tokenID),
                    parameters: .ichigoDefault, createdAt: now, ocraSuite: Self.suite)
            ], audit: [AuditEvent(at: now, actor: "test", action: "token.import", subject: "SKTH71000001", outcome: "ok")])
        let totp = TOTP(seed: seed)
        try await repository.setPermissions(
            Permissions(authorities: [.transfer], accountLimits: ["CA": 1_000_000]), of: f.user("staff").id,
            audit: AuditEvent(at: now, actor: "test", action: "user.permissions", subject: "staff", outcome: "ok"))
        try await repository.setPermissions(
            Permissions(authorities: [.transferApproval], accountLimits: ["CA": 1_000_000]), of: f.user("keiri").id,
            audit: AuditEvent(at: now, actor: "test", action: "user.permissions", subject: "keiri", outcome: "ok"))
        _ = try await harness.services.corporate.registerToken(
            serial: "SKTH71000001", code: CorporateScreenTests.code(totp, harness), pin: CorporateScreenTests.pin,
            for: [f.user("keiri").id], by: f.user("admin"), at: harness.clock.now())
        let staff = try await repository.user(f.user("staff").id)!
        let transfer = try await harness.services.corporate.validateTransfer(
            TransferInput(accountID: "CA", payee: Payee(bank: "9999", branch: "001", account: "2000002", name: "テスト"), amount: "40000"),
            by: staff, grants: staff.permissions, at: now)
        try await harness.services.corporate.createTransfer(
            transfer, by: staff, grants: staff.permissions, confirmationPassword: Self.confirmation, at: now)
        try await harness.test { api in
            let keiri = Browser(client: api.client)
            try await CorporateScreenTests.userLogin(keiri, "keiri", totp: totp, harness: harness)
            #expect(keiri.screenID == "HTP001", "\(keiri.page)")
            try await keiri.get("/corp/approvals/\(transfer.id)")
            #expect(keiri.screenID == "HSN002")
            #expect(keiri.has("id=\"signature\"") && !keiri.has("id=\"otp\""))
            #expect(keiri.text(of: "sign-challenge-text") == "400002000002")
            harness.clock.advance(by: 60)
            // The plain OTP: refused.
            try await keiri.post(
                "/corp/approvals/\(transfer.id)",
                ["confirmationPassword": Self.confirmation, "otp": totp.code(at: harness.clock.now()).text])
            #expect(keiri.fieldError("signature") == Self.message(.required))
            // A code for another amount: refused, nothing moves.
            let other = try Self.sign(seed, account: "2000002", amount: 400_000, at: harness.clock.now())
            try await keiri.post("/corp/approvals/\(transfer.id)", ["confirmationPassword": Self.confirmation, "signature": other])
            #expect(keiri.fieldError("signature") == Self.message(.signatureInvalid))
            #expect(try await repository.corporateTransfer(transfer.id)?.status == .pending)
            // The code for the stored transfer: approved, the money moves once.
            let right = try Self.sign(seed, account: "2000002", amount: 40_000, at: harness.clock.now())
            try await keiri.post("/corp/approvals/\(transfer.id)", ["confirmationPassword": Self.confirmation, "signature": right])
            #expect(keiri.screenID == "HSN003", "\(keiri.page)")
            let accounts = try await repository.accounts(ofContract: f.contract.id)
            #expect(accounts.first { $0.id == "CA" }?.balance == 960_000)
            #expect(accounts.first { $0.id == "CB" }?.balance == 540_000)
            let records = try await repository.auditRecords(from: 0, limit: 1000)
            let approval = try #require(records.last { $0.event.action == "transfer.approve" && $0.event.outcome == "ok" })
            #expect((approval.event.reason ?? "").contains("challenge=400002000002"))
        }
    }

    // MARK: JSON API

    @Test func theAPIChallengeIsAnsweredOnceAndExpires() async throws {
        let harness = try APIHarness(signing: Self.required)
        try await harness.test { api in
            let user = try await api.createUser("api-signer")
            let enrolled = try await api.call(.post, "/api/v1/users/\(user)/token")
            #expect(enrolled.string("ocraSuite") == Self.suite)
            let uriText = try #require(enrolled.string("otpauthUri"))
            let uri = try #require(KeyURI(parsing: uriText))
            let totp = TOTP(seed: uri.seed, parameters: uri.parameters)
            harness.clock.advance(by: 60)
            let activated = try await api.submit(totp.code(at: harness.clock.now()).text, for: user, activate: true)
            try #require(activated.status == .ok, "\(activated.text)")

            func challenge(_ account: String = "1234567", _ amount: Int = 50_000) async throws -> String {
                let reply = try await api.call(
                    .post, "/api/v1/users/\(user)/transaction-challenges",
                    json: #"{"payeeAccount":"\#(account)","amount":\#(amount)}"#)
                try #require(reply.status == .created, "\(reply.text)")
                #expect(reply.string("challenge") == "\(amount)\(account)")
                #expect(reply.string("suite") == Self.suite)
                #expect(reply.string("expiresAt") != nil)
                return try #require(reply.string("id"))
            }
            func answer(_ id: String, _ response: String) async throws -> APIClient.Reply {
                try await api.call(
                    .post, "/api/v1/transaction-challenges/\(id)/verify", json: #"{"response":"\#(response)"}"#)
            }
            let right = try Self.sign(uri.seed, account: "1234567", amount: 50_000, at: harness.clock.now())
            let wrongAmount = try Self.sign(uri.seed, account: "1234567", amount: 50_001, at: harness.clock.now())

            // A wrong response is refused, and the challenge is spent.
            let first = try await challenge()
            let refused = try await answer(first, wrongAmount)
            #expect(refused.status == .forbidden && refused.errorCode == "signature.invalid")
            let second = try await answer(first, right)
            #expect(second.status == .conflict && second.errorCode == "signature.challenge_used")

            // A new challenge, the right response: accepted; a second answer refused.
            let next = try await challenge()
            let accepted = try await answer(next, right)
            #expect(accepted.status == .ok && accepted.string("result") == "accepted", "\(accepted.text)")
            let again = try await answer(next, right)
            #expect(again.status == .conflict && again.errorCode == "signature.challenge_used")
            // The same response to another challenge for the same data, same minute: a replay.
            let replayed = try await answer(try await challenge(), right)
            #expect(replayed.status == .forbidden && replayed.errorCode == "signature.invalid")

            // Malformed input changes nothing; unknown and expired challenges are refused.
            let open = try await challenge()
            #expect(try await answer(open, "12ab").errorCode == "request.invalid_input")
            // Digits, but not the suite's number of them: bad input too, not a wrong signature — the challenge stays
            // open and the token's failure count does not move.
            let failuresBefore = try await harness.repository.userWithToken(UserID(rawValue: user))?.token?.failureCount
            for response in ["1234567", "12345678", "12345"] {
                let reply = try await answer(open, response)
                #expect(reply.status == .badRequest && reply.errorCode == "request.invalid_input", "\(reply.text)")
            }
            #expect(try await harness.repository.signingChallenge(ChallengeID(rawValue: open))?.answeredAt == nil)
            #expect(try await harness.repository.userWithToken(UserID(rawValue: user))?.token?.failureCount == failuresBefore)
            #expect(try await answer("Cdoesnotexist", right).status == .notFound)
            harness.clock.advance(by: 301)
            let expired = try await answer(open, try Self.sign(uri.seed, account: "1234567", amount: 50_000, at: harness.clock.now()))
            #expect(expired.status == .gone && expired.errorCode == "signature.challenge_expired")
            let badAccount = try await api.call(
                .post, "/api/v1/users/\(user)/transaction-challenges", json: #"{"payeeAccount":"12345","amount":1}"#)
            #expect(badAccount.status == .badRequest)

            // Challenges and answers are audited with what was signed.
            let records = try await harness.repository.auditRecords(from: 0, limit: 1000)
            #expect(records.contains { $0.event.action == "signature.challenge" && ($0.event.reason ?? "").contains("challenge=500001234567") })
            #expect(records.contains {
                $0.event.action == "signature.verify" && $0.event.outcome == "accepted"
                    && ($0.event.reason ?? "").contains("challenge_id=\(next)")
            })
            #expect(!records.contains { ($0.event.reason ?? "").contains(right) })
        }
    }
}
