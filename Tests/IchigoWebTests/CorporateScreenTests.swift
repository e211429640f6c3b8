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

/// The corporate screens and rules (seeds 002 and 004), in-process on SQLite with a fixed clock.
@Suite("Corporate screens")
struct CorporateScreenTests {
    static let password = "ichigo2026"
    static let confirmation = "kakunin1"
    static let pin = "1234"

    /// A corporate contract in individual mode with master, admin, staff and keiri, two accounts, and a retail
    /// customer `yamada` beside it.
    struct Fixture {
        let harness: APIHarness
        let contract: Contract
        let users: [String: User]
        func user(_ login: String) -> User { users[login]! }
    }

    static func fixture(mode: TokenUsageMode = .individual, signing: TransferSigningPolicy = .off) async throws
        -> Fixture
    {
        let harness = try APIHarness(signing: signing)
        let now = harness.clock.now()
        let services = harness.services
        let contract = try await services.customers.createCorporateContract(
            name: "いちご商事株式会社", usageMode: mode, pin: pin, actor: "test", at: now)
        var users: [String: User] = [:]
        for (login, role) in [("master", UserRole.master), ("admin", .administrator), ("staff", .ordinary), ("keiri", .ordinary)] {
            users[login] = try await services.customers.addUser(
                NewUser(
                    loginID: LoginID(rawValue: login)!, name: "利用者 \(login)", role: role, email: "\(login)@example.jp",
                    loginPassword: password, confirmationPassword: confirmation),
                to: contract.id, actor: "test", at: now)
        }
        users["yamada"] = try await services.customers.createRetailCustomer(
            NewUser(
                loginID: LoginID(rawValue: "yamada")!, name: "山田 太郎", email: "yamada@example.jp",
                loginPassword: password, confirmationPassword: confirmation),
            actor: "test", at: now)
        for (id, balance) in [("CA", Int64(1_000_000)), ("CB", Int64(500_000))] {
            try await harness.repository.insert(
                Account(id: AccountID(rawValue: id), userID: users["master"]!.id, name: "普通預金", branch: "001", number: id == "CA" ? "2000001" : "2000002", balance: balance),
                for: contract.id,
                audit: AuditEvent(at: now, actor: "test", action: "account.open", subject: id, outcome: "ok"))
        }
        return Fixture(harness: harness, contract: contract, users: users)
    }

    /// Hardware tokens in the bank's inventory, as an import would store them; returns their generators.
    static func inventory(_ harness: APIHarness, _ serials: [String]) async throws -> [String: TOTP] {
        var generators: [String: TOTP] = [:]
        var tokens: [Token] = []
        let vault = SeedVault(masterKey: harness.masterKey)
        for serial in serials {
            let seed = Seed.random()
            let id = TokenID.random()
            tokens.append(
                Token(
                    id: id, serial: SerialNumber(rawValue: serial)!, kind: .hardware, state: .issued,
                    sealedSeed: try vault.seal(seed, for: id), parameters: .ichigoDefault, createdAt: harness.clock.now()))
            generators[serial] = TOTP(seed: seed)
        }
        try await harness.repository.importTokens(
            tokens,
            audit: tokens.map { AuditEvent(at: harness.clock.now(), actor: "test", action: "token.import", subject: $0.serial.rawValue, outcome: "ok") })
        return generators
    }

    /// The current code of `totp`, moving the clock to a fresh step first so every call gets an unused code.
    static func code(_ totp: TOTP, _ harness: APIHarness) -> String {
        harness.clock.advance(by: 60)
        return totp.code(at: harness.clock.now()).text
    }

    static func adminLogin(_ browser: Browser, _ login: String = "admin", totp: TOTP? = nil, harness: APIHarness? = nil)
        async throws
    {
        try await browser.get("/corp/admin/login")
        try await browser.post("/corp/admin/login", ["loginId": login, "password": password])
        if browser.screenID == "HLI003", let totp, let harness {
            try await browser.post("/corp/admin/login/otp", ["otp": code(totp, harness)])
        }
    }

    static func userLogin(_ browser: Browser, _ login: String, totp: TOTP? = nil, harness: APIHarness? = nil) async throws {
        try await browser.get("/corp/login")
        try await browser.post("/corp/login", ["loginId": login, "password": password])
        if browser.screenID == "HLI003", let totp, let harness {
            try await browser.post("/corp/login/otp", ["otp": code(totp, harness)])
        }
    }

    /// 利用登録 through the screens (HTS003): returns the page after OK.
    static func register(
        _ browser: Browser, _ harness: APIHarness, serial: String, totp: TOTP, users: [User], pin: String = pin,
        code otp: String? = nil
    ) async throws {
        try await browser.get("/corp/admin/otp-settings/register")
        var fields = ["serial": serial, "otp": otp ?? code(totp, harness), "pin": pin]
        for user in users { fields["user_\(user.id.rawValue)"] = "on" }
        try await browser.post("/corp/admin/otp-settings/register", fields)
    }

    static func tokenOf(_ f: Fixture, _ login: String) async throws -> Token? {
        guard let id = try await f.harness.repository.user(f.user(login).id)?.tokenID else { return nil }
        return try await f.harness.repository.token(id)
    }

    @Test func registrationNeedsTheRightOTPAndPINAndAnOwnToken() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH10000001", "SKTH10000002"])
        // A software token of the retail customer: never registrable by the contract.
        let (retailToken, _) = try await f.harness.services.tokens.enrolSoftwareToken(
            for: f.user("yamada").id, actor: "test", at: f.harness.clock.now())
        try await f.harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.adminLogin(browser)
            #expect(browser.screenID == "HKG001")
            let totp = tokens["SKTH10000001"]!
            // Wrong PIN: nothing registered, a field error in Japanese.
            try await Self.register(browser, f.harness, serial: "SKTH10000001", totp: totp, users: [f.user("staff")], pin: "9999")
            #expect(browser.screenID == "HTS003")
            #expect(browser.fieldError("pin") == "ご契約先確認暗証番号が正しくありません。")
            #expect(try await Self.tokenOf(f, "staff") == nil)
            // Wrong OTP: nothing registered.
            try await Self.register(
                browser, f.harness, serial: "SKTH10000001", totp: totp, users: [f.user("staff")], code: "000000")
            #expect(browser.fieldError("otp") == "ワンタイムパスワードが正しくありません。")
            #expect(try await Self.tokenOf(f, "staff") == nil)
            // Bad input: format errors, nothing registered.
            try await browser.post("/corp/admin/otp-settings/register", ["serial": "ABC", "otp": "12", "pin": ""])
            #expect(browser.fieldError("serial") == "シリアル番号はSKTHまたはSKTSに続く半角数字で入力してください。")
            #expect(browser.fieldError("otp") == "ワンタイムパスワードは半角数字6桁で入力してください。")
            #expect(browser.fieldError("pin") == "入力してください。")
            #expect(browser.fieldError("users") == "対象を選択してください。")
            // The retail customer's token and an unknown serial read the same.
            try await Self.register(
                browser, f.harness, serial: retailToken.serial.rawValue, totp: totp, users: [f.user("staff")])
            let refusal = browser.fieldError("serial")
            #expect(refusal == "入力されたシリアル番号のトークンは登録できません。トークン裏面のシリアル番号をご確認ください。")
            try await Self.register(browser, f.harness, serial: "SKTH99999999", totp: totp, users: [f.user("staff")])
            #expect(browser.fieldError("serial") == refusal)
            #expect(try await f.harness.repository.user(f.user("yamada").id)?.tokenID == retailToken.id)
            // Right serial, OTP and PIN: registered for both chosen users (mixed mode), serial shown.
            try await Self.register(
                browser, f.harness, serial: "SKTH10000001", totp: totp, users: [f.user("staff"), f.user("keiri")])
            #expect(browser.screenID == "HTS004", "\(browser.page)")
            #expect(browser.text(of: "registered-serial") == "SKTH10000001")
            #expect(try await Self.tokenOf(f, "staff")?.serial.rawValue == "SKTH10000001")
            #expect(try await Self.tokenOf(f, "keiri")?.state == .active)
            // Mail to each registered user.
            let mails = try await f.harness.repository.pendingMails(limit: 100, at: .distantFuture)
            #expect(mails.contains { $0.recipient == "staff@example.jp" && $0.subject.contains("利用開始登録完了のご案内") })
            // Token change: a new serial for staff replaces the old registration; the old token stays with the
            // contract, free for nobody else.
            try await Self.register(
                browser, f.harness, serial: "SKTH10000002", totp: tokens["SKTH10000002"]!, users: [f.user("staff")])
            #expect(try await Self.tokenOf(f, "staff")?.serial.rawValue == "SKTH10000002")
            #expect(try await Self.tokenOf(f, "keiri")?.serial.rawValue == "SKTH10000001")
        }
    }

    @Test func aTokenOfAnotherContractCannotBeRegistered() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH20000001"])
        let other = try await f.harness.services.customers.createCorporateContract(
            name: "他社", usageMode: .individual, pin: "5678", actor: "test", at: f.harness.clock.now())
        let otherAdmin = try await f.harness.services.customers.addUser(
            NewUser(
                loginID: LoginID(rawValue: "other-admin")!, name: "他社 管理者", role: .administrator,
                loginPassword: Self.password, confirmationPassword: Self.confirmation),
            to: other.id, actor: "test", at: f.harness.clock.now())
        // The other contract registers the token first.
        _ = try await f.harness.services.corporate.registerToken(
            serial: "SKTH20000001", code: Self.code(tokens["SKTH20000001"]!, f.harness), pin: "5678",
            for: [otherAdmin.id], by: otherAdmin, at: f.harness.clock.now())
        await #expect(throws: IchigoError.self) {
            _ = try await f.harness.services.corporate.registerToken(
                serial: "SKTH20000001", code: Self.code(tokens["SKTH20000001"]!, f.harness), pin: Self.pin,
                for: [f.user("staff").id], by: f.user("admin"), at: f.harness.clock.now())
        }
        #expect(try await Self.tokenOf(f, "staff") == nil)
        #expect(try await f.harness.repository.token(serial: SerialNumber(rawValue: "SKTH20000001")!)?.contractID == other.id)
        try await f.harness.test { _ in }
    }

    @Test func modeChangeDeregistersEveryTokenOfTheContract() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH30000001", "SKTH30000002"])
        let corporate = f.harness.services.corporate
        _ = try await corporate.registerToken(
            serial: "SKTH30000001", code: Self.code(tokens["SKTH30000001"]!, f.harness), pin: Self.pin,
            for: [f.user("staff").id, f.user("keiri").id], by: f.user("admin"), at: f.harness.clock.now())
        _ = try await corporate.registerToken(
            serial: "SKTH30000002", code: Self.code(tokens["SKTH30000002"]!, f.harness), pin: Self.pin,
            for: [f.user("master").id], by: f.user("admin"), at: f.harness.clock.now())
        try await f.harness.test { api in
            let browser = Browser(client: api.client)
            try await Self.adminLogin(browser)
            try await browser.get("/corp/admin/contract/users")
            #expect(browser.screenID == "HKJ002")
            #expect(browser.text(of: "current-mode") == "全ての利用者が異なるトークンを使用する")
            try await browser.get("/corp/admin/otp-settings/mode")
            #expect(browser.text(of: "mode-warning") == "利用形態を変更する場合は、トークンの利用登録が解除されます。")
            try await browser.post("/corp/admin/otp-settings/mode", ["mode": "shared"])
            #expect(browser.screenID == "HTS002")
            // A wrong confirmation password changes nothing.
            try await browser.post("/corp/admin/otp-settings/mode/confirm", ["confirmationPassword": "wrong123"])
            #expect(browser.fieldError("confirmationPassword") == "確認パスワードが正しくありません。")
            #expect(try await f.harness.repository.contract(f.contract.id)?.usageMode == .individual)
            #expect(try await Self.tokenOf(f, "staff") != nil)
            try await browser.post("/corp/admin/otp-settings/mode/confirm", ["confirmationPassword": Self.confirmation])
            // Seed 004: the change goes straight on to 利用登録.
            #expect(browser.screenID == "HTS003")
            #expect(browser.flash == "利用形態を変更しました。トークンの利用登録はすべて解除されました。続けて、トークンの利用登録を行ってください。")
            #expect(try await f.harness.repository.contract(f.contract.id)?.usageMode == .shared)
            for login in ["master", "admin", "staff", "keiri"] {
                #expect(try await f.harness.repository.user(f.user(login).id)?.tokenID == nil, "\(login)")
            }
            let audit = try await f.harness.repository.auditRecords(matching: AuditFilter(action: "contract.usage_mode"), limit: 5)
            #expect(audit.first?.event.reason?.contains("released=3") == true)
            // Shared mode: one registration serves every user of the contract.
            try await Self.register(browser, f.harness, serial: "SKTH30000001", totp: tokens["SKTH30000001"]!, users: [])
            #expect(browser.screenID == "HTS004", "\(browser.page)")
            for login in ["master", "admin", "staff", "keiri"] {
                #expect(try await Self.tokenOf(f, login)?.serial.rawValue == "SKTH30000001", "\(login)")
            }
        }
    }

    @Test func sharedLockoutStopsEverySharerAndUnlockSelectsThemAll() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH40000001", "SKTH40000002"])
        let corporate = f.harness.services.corporate
        let shared = tokens["SKTH40000001"]!
        _ = try await corporate.registerToken(
            serial: "SKTH40000001", code: Self.code(shared, f.harness), pin: Self.pin,
            for: [f.user("master").id, f.user("staff").id, f.user("keiri").id], by: f.user("admin"),
            at: f.harness.clock.now())
        _ = try await corporate.registerToken(
            serial: "SKTH40000002", code: Self.code(tokens["SKTH40000002"]!, f.harness), pin: Self.pin,
            for: [f.user("admin").id], by: f.user("admin"), at: f.harness.clock.now())
        try await f.harness.test { api in
            // keiri types four wrong codes at login: the fourth warns, the fifth stops the token.
            let browser = Browser(client: api.client)
            try await browser.get("/corp/login")
            try await browser.post("/corp/login", ["loginId": "keiri", "password": Self.password])
            #expect(browser.screenID == "HLI003")
            let wrong = RepositoryContract.wrongCode(for: shared, near: shared.parameters.step(at: f.harness.clock.now()))
            for attempt in 1...5 {
                try await browser.post("/corp/login/otp", ["otp": wrong.text])
                if attempt == 4 {
                    #expect(browser.fieldError("otp")?.contains("あと1回誤入力すると") == true, "\(browser.page)")
                }
            }
            #expect(browser.pageError?.contains("停止") == true, "\(browser.page)")
            // All three sharers are stopped; the administrator's own token is not.
            for login in ["master", "staff", "keiri"] {
                #expect(try await Self.tokenOf(f, login)?.state == .locked, "\(login)")
            }
            #expect(try await Self.tokenOf(f, "admin")?.state == .active)
            let staff = Browser(client: api.client)
            try await Self.userLogin(staff, "staff", totp: shared, harness: f.harness)
            #expect(staff.pageError?.contains("停止") == true)
            // The administrator unlocks: the list shows the three, sharing one token.
            let admin = Browser(client: api.client)
            try await Self.adminLogin(admin, totp: tokens["SKTH40000002"]!, harness: f.harness)
            #expect(admin.screenID == "HKG001", "\(admin.page)")
            try await admin.get("/corp/admin/otp/unlock")
            #expect(admin.screenID == "HOM002")
            let tokenAttributes = Set(admin.page.matches(of: /data-token="(T[0-9a-f]+)"/).map { String($0.1) })
            #expect(tokenAttributes.count == 1)
            // A partial selection is refused by the server, and changes nothing.
            try await admin.post(
                "/corp/admin/otp/unlock",
                ["user_\(f.user("keiri").id.rawValue)": "on", "confirmationPassword": Self.confirmation])
            #expect(admin.fieldError("users") == "トークンを共有している利用者はすべて選択してください。")
            #expect(try await Self.tokenOf(f, "keiri")?.state == .locked)
            try await admin.post(
                "/corp/admin/otp/unlock",
                [
                    "user_\(f.user("keiri").id.rawValue)": "on", "user_\(f.user("staff").id.rawValue)": "on",
                    "user_\(f.user("master").id.rawValue)": "on", "confirmationPassword": Self.confirmation,
                ])
            #expect(admin.screenID == "HOM003", "\(admin.page)")
            for login in ["master", "staff", "keiri"] {
                #expect(try await Self.tokenOf(f, login)?.state == .active, "\(login)")
            }
        }
    }

    @Test func aRevokedTokenRefusesAFreshValidCode() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH50000001", "SKTH50000002"])
        let corporate = f.harness.services.corporate
        _ = try await corporate.registerToken(
            serial: "SKTH50000001", code: Self.code(tokens["SKTH50000001"]!, f.harness), pin: Self.pin,
            for: [f.user("staff").id], by: f.user("admin"), at: f.harness.clock.now())
        _ = try await corporate.registerToken(
            serial: "SKTH50000002", code: Self.code(tokens["SKTH50000002"]!, f.harness), pin: Self.pin,
            for: [f.user("admin").id], by: f.user("admin"), at: f.harness.clock.now())
        try await f.harness.test { api in
            let admin = Browser(client: api.client)
            try await Self.adminLogin(admin, totp: tokens["SKTH50000002"]!, harness: f.harness)
            try await admin.get("/corp/admin/otp/revoke")
            #expect(admin.screenID == "HOM004")
            try await admin.post(
                "/corp/admin/otp/revoke",
                [
                    "user": f.user("staff").id.rawValue, "confirmationPassword": Self.confirmation,
                    "otp": Self.code(tokens["SKTH50000002"]!, f.harness),
                ])
            #expect(admin.screenID == "HOM005", "\(admin.page)")
            #expect(try await Self.tokenOf(f, "staff")?.state == .revoked)
            // A fresh, valid code of the revoked token is refused, at login and by the service.
            let fresh = OTPCode(Self.code(tokens["SKTH50000001"]!, f.harness))!
            let result = try await f.harness.services.tokens.verify(
                fresh, for: f.user("staff").id, actor: "test", at: f.harness.clock.now())
            #expect(!result.isAccepted)
            // It cannot be registered again either.
            await #expect(throws: IchigoError.self) {
                _ = try await corporate.registerToken(
                    serial: "SKTH50000001", code: Self.code(tokens["SKTH50000001"]!, f.harness), pin: Self.pin,
                    for: [f.user("staff").id], by: f.user("admin"), at: f.harness.clock.now())
            }
        }
    }

    @Test func authorityChangesApplyAtTheNextLoginAndLimitsHold() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH60000001", "SKTH60000002"])
        let corporate = f.harness.services.corporate
        _ = try await corporate.registerToken(
            serial: "SKTH60000001", code: Self.code(tokens["SKTH60000001"]!, f.harness), pin: Self.pin,
            for: [f.user("admin").id], by: f.user("admin"), at: f.harness.clock.now())
        _ = try await corporate.registerToken(
            serial: "SKTH60000002", code: Self.code(tokens["SKTH60000002"]!, f.harness), pin: Self.pin,
            for: [f.user("keiri").id], by: f.user("admin"), at: f.harness.clock.now())
        try await f.harness.test { api in
            // staff logs in first, without authority.
            let staff = Browser(client: api.client)
            try await Self.userLogin(staff, "staff")
            #expect(staff.screenID == "HTP001", "\(staff.page)")
            try await staff.get("/corp/transfers/new")
            #expect(staff.pageError == "この操作を行う権限がありません。")
            // The administrator gives staff 振込振替 on account CA up to 100,000 yen, confirmed with OTP.
            let admin = Browser(client: api.client)
            try await Self.adminLogin(admin, totp: tokens["SKTH60000001"]!, harness: f.harness)
            try await admin.get("/corp/admin/users")
            try await admin.post("/corp/admin/users", ["user": f.user("staff").id.rawValue])
            #expect(admin.screenID == "HRK003")
            try await admin.post("/corp/admin/users/edit/basic", [:])
            #expect(admin.screenID == "HRK004")
            try await admin.post("/corp/admin/users/edit/authority", ["authority_transfer": "on"])
            #expect(admin.screenID == "HRK005")
            try await admin.post("/corp/admin/users/edit/accounts", ["use_CA": "on", "limit_CA": "１００"])
            #expect(admin.text(of: "limit-error") == "限度額は0円以上の半角数字で入力してください。", "full-width digits are refused")
            #expect(admin.screenID == "HRK005")
            try await admin.post("/corp/admin/users/edit/accounts", ["use_CA": "on", "limit_CA": "100000"])
            #expect(admin.screenID == "HRK006")
            try await admin.post("/corp/admin/users/edit/confirm", ["confirmationPassword": Self.confirmation, "otp": "000000"])
            #expect(admin.fieldError("otp") == "ワンタイムパスワードが正しくありません。")
            #expect(try await f.harness.repository.user(f.user("staff").id)?.permissions == .empty)
            try await admin.post(
                "/corp/admin/users/edit/confirm",
                ["confirmationPassword": Self.confirmation, "otp": Self.code(tokens["SKTH60000001"]!, f.harness)])
            #expect(admin.screenID == "HRK007", "\(admin.page)")
            #expect(admin.text(of: "relogin-note")?.contains("ログアウト") == true)
            // Not in staff's current login…
            try await staff.get("/corp/transfers/new")
            #expect(staff.pageError == "この操作を行う権限がありません。")
            // …but after logging in again.
            try await staff.post("/logout", [:])
            try await Self.userLogin(staff, "staff")
            try await staff.get("/corp/transfers/new")
            #expect(staff.screenID == "HFF001", "\(staff.page)")
            let transfer = [
                "account": "CA", "payeeBank": "9999", "payeeBranch": "001", "payeeAccount": "2000002",
                "payeeName": "イチゴシヨウジ", "amount": "100001",
            ]
            try await staff.post("/corp/transfers/new", transfer)
            #expect(staff.fieldError("amount") == "振込振替の限度額を超えています。")
            var ok = transfer
            ok["amount"] = "30000"
            try await staff.post("/corp/transfers/new", ok)
            #expect(staff.screenID == "HFF002")
            try await staff.post("/corp/transfers/confirm", ["confirmationPassword": Self.confirmation])
            #expect(staff.screenID == "HFF003", "\(staff.page)")
            let pending = try await f.harness.repository.corporateTransfers(of: f.contract.id, status: .pending, limit: 10)
            #expect(pending.count == 1 && pending[0].amount == 30_000)
            #expect(try await f.harness.repository.accounts(ofContract: f.contract.id).first { $0.id == "CA" }?.balance == 1_000_000)
        }
    }

    @Test func anApprovalPostedTwiceMovesMoneyOnce() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH70000001"])
        let corporate = f.harness.services.corporate
        let repository = f.harness.repository
        let now = f.harness.clock.now()
        try await repository.setPermissions(
            Permissions(authorities: [.transfer], accountLimits: ["CA": 1_000_000]), of: f.user("staff").id,
            audit: AuditEvent(at: now, actor: "test", action: "user.permissions", subject: "staff", outcome: "ok"))
        try await repository.setPermissions(
            Permissions(authorities: [.transferApproval], accountLimits: ["CA": 50_000]), of: f.user("keiri").id,
            audit: AuditEvent(at: now, actor: "test", action: "user.permissions", subject: "keiri", outcome: "ok"))
        _ = try await corporate.registerToken(
            serial: "SKTH70000001", code: Self.code(tokens["SKTH70000001"]!, f.harness), pin: Self.pin,
            for: [f.user("keiri").id], by: f.user("admin"), at: f.harness.clock.now())
        let staff = try await repository.user(f.user("staff").id)!
        for amount in [Int64(40_000), 60_000] {
            let transfer = try await corporate.validateTransfer(
                TransferInput(accountID: "CA", payee: Payee(bank: "9999", branch: "001", account: "2000002", name: "テスト"), amount: String(amount)),
                by: staff, grants: staff.permissions, at: now)
            try await corporate.createTransfer(
                transfer, by: staff, grants: staff.permissions, confirmationPassword: Self.confirmation, at: now)
        }
        let pending = try await repository.corporateTransfers(of: f.contract.id, status: .pending, limit: 10)
        let small = pending.first { $0.amount == 40_000 }!
        let large = pending.first { $0.amount == 60_000 }!
        try await f.harness.test { api in
            let keiri = Browser(client: api.client)
            try await Self.userLogin(keiri, "keiri", totp: tokens["SKTH70000001"]!, harness: f.harness)
            #expect(keiri.screenID == "HTP001", "\(keiri.page)")
            try await keiri.get("/corp/approvals")
            #expect(keiri.screenID == "HSN001")
            // Over the approver's limit: refused.
            try await keiri.get("/corp/approvals/\(large.id)")
            try await keiri.post(
                "/corp/approvals/\(large.id)",
                ["confirmationPassword": Self.confirmation, "otp": Self.code(tokens["SKTH70000001"]!, f.harness)])
            #expect(keiri.pageError == "振込振替の限度額を超えています。")
            // The same approval form posted twice (two valid codes): the money moves once.
            try await keiri.get("/corp/approvals/\(small.id)")
            let csrf = keiri.csrfToken
            try await keiri.post(
                "/corp/approvals/\(small.id)",
                ["confirmationPassword": Self.confirmation, "otp": Self.code(tokens["SKTH70000001"]!, f.harness)], csrf: csrf)
            #expect(keiri.screenID == "HSN003", "\(keiri.page)")
            try await keiri.post(
                "/corp/approvals/\(small.id)",
                ["confirmationPassword": Self.confirmation, "otp": Self.code(tokens["SKTH70000001"]!, f.harness)], csrf: csrf)
            #expect(keiri.pageError == "この振込振替データは承認待ちではありません。")
            let accounts = try await repository.accounts(ofContract: f.contract.id)
            #expect(accounts.first { $0.id == "CA" }?.balance == 960_000)
            #expect(accounts.first { $0.id == "CB" }?.balance == 540_000)
            #expect(try await repository.corporateTransfer(small.id)?.status == .approved)
            #expect(try await repository.corporateTransfer(large.id)?.status == .pending)
            // The creator may not approve their own data.
            await #expect(throws: IchigoError(.forbidden)) {
                try await corporate.approve(
                    large.id, by: staff, grants: staff.permissions, confirmationPassword: Self.confirmation,
                    code: "123456", at: f.harness.clock.now())
            }
        }
    }

    @Test func selfRegistrationIsShownOnlyToUsersWithOTPWorkAndNoToken() async throws {
        let f = try await Self.fixture()
        let tokens = try await Self.inventory(f.harness, ["SKTH80000001"])
        try await f.harness.test { api in
            // staff has no authority: straight to the top page.
            let staff = Browser(client: api.client)
            try await Self.userLogin(staff, "staff")
            #expect(staff.screenID == "HTP001")
            try await staff.get("/corp/otp/register")
            #expect(staff.screenID == "HTP001")
            // keiri may approve (an OTP transaction) and has no token: the registration page comes first.
            try await f.harness.repository.setPermissions(
                Permissions(authorities: [.transferApproval], accountLimits: ["CA": 10]), of: f.user("keiri").id,
                audit: AuditEvent(at: f.harness.clock.now(), actor: "test", action: "user.permissions", subject: "keiri", outcome: "ok"))
            let keiri = Browser(client: api.client)
            try await Self.userLogin(keiri, "keiri")
            #expect(keiri.screenID == "HOR001", "\(keiri.page)")
            let generator = tokens["SKTH80000001"]!
            let wrong = RepositoryContract.wrongCode(for: generator, near: generator.parameters.step(at: f.harness.clock.now()))
            try await keiri.post("/corp/otp/register", ["serial": "SKTH80000001", "otp": wrong.text])
            #expect(keiri.fieldError("otp") == "ワンタイムパスワードが正しくありません。")
            #expect(try await Self.tokenOf(f, "keiri") == nil)
            try await keiri.post(
                "/corp/otp/register", ["serial": "SKTH80000001", "otp": Self.code(tokens["SKTH80000001"]!, f.harness)])
            #expect(keiri.screenID == "HOR002", "\(keiri.page)")
            #expect(keiri.text(of: "registered-serial") == "SKTH80000001")
            let mail = try await f.harness.repository.pendingMails(limit: 100, at: .distantFuture).last {
                $0.recipient == "keiri@example.jp"
            }
            #expect(mail?.subject.contains("利用開始登録完了のご案内") == true)
            // Registered now: the page is not shown again, and the next login asks for the OTP.
            try await keiri.get("/corp/otp/register")
            #expect(keiri.screenID == "HTP001")
            try await keiri.post("/logout", [:])
            try await keiri.post("/corp/login", ["loginId": "keiri", "password": Self.password])
            #expect(keiri.screenID == "HLI003")
        }
    }

    /// Every screen of each audience refuses the others: a retail customer, a corporate user, an administrator
    /// and an operator each land on their own login page when they try another audience's screens.
    @Test func everyRouteOfEachGroupRefusesTheOtherAudiences() async throws {
        let f = try await Self.fixture()
        _ = try await f.harness.services.operators.createOperator(
            loginID: "op1", name: "窓口 一郎", password: "operator-pass-1", at: f.harness.clock.now())
        let groups: [(login: String, post: String, paths: [String])] = [
            ("/login", "/transfer", ["/top", "/transfer", "/transfer/confirm", "/otp", "/otp/issue", "/otp/issue/confirm", "/otp/start", "/otp/cancel"]),
            ("/corp/login", "/corp/transfers/new", ["/corp/top", "/corp/otp/register", "/corp/transfers/new", "/corp/transfers/confirm", "/corp/approvals", "/corp/approvals/K1"]),
            ("/corp/admin/login", "/corp/admin/users", [
                "/corp/admin", "/corp/admin/users-menu", "/corp/admin/users", "/corp/admin/users/edit/basic",
                "/corp/admin/users/edit/confirm", "/corp/admin/otp", "/corp/admin/otp/unlock", "/corp/admin/otp/revoke",
                "/corp/admin/contract", "/corp/admin/contract/users", "/corp/admin/otp-settings/mode",
                "/corp/admin/otp-settings/register", "/corp/admin/otp-settings/deregister",
            ]),
            ("/operator/login", "/operator/tokens/SKTH1234", ["/operator", "/operator/tokens", "/operator/tokens/SKTH1234", "/operator/users", "/operator/users/yamada", "/operator/audit"]),
        ]
        try await f.harness.test { api in
            var browsers: [String: Browser] = [:]
            let retail = Browser(client: api.client)
            try await retail.get("/login")
            try await retail.post("/login", ["loginId": "yamada", "password": Self.password])
            #expect(retail.screenID == "BTP001")
            browsers["/login"] = retail
            let user = Browser(client: api.client)
            try await Self.userLogin(user, "staff")
            #expect(user.screenID == "HTP001")
            browsers["/corp/login"] = user
            let admin = Browser(client: api.client)
            try await Self.adminLogin(admin)
            #expect(admin.screenID == "HKG001")
            browsers["/corp/admin/login"] = admin
            let op = Browser(client: api.client)
            try await op.get("/operator/login")
            try await op.post("/operator/login", ["loginId": "op1", "password": "operator-pass-1"])
            #expect(op.screenID == "OTP001", "\(op.page)")
            browsers["/operator/login"] = op
            // The retail login refuses corporate users, and the admin login refuses ordinary users.
            let probe = Browser(client: api.client)
            try await probe.get("/login")
            try await probe.post("/login", ["loginId": "staff", "password": Self.password])
            #expect(probe.screenID == "BLI001")
            try await probe.get("/corp/admin/login")
            try await probe.post("/corp/admin/login", ["loginId": "staff", "password": Self.password])
            #expect(probe.screenID == "HLI002")
            for (home, browser) in browsers {
                for group in groups where group.login != home {
                    for path in group.paths {
                        try await browser.get(path)
                        #expect(browser.path == group.login, "\(home) user reached \(path): \(browser.path)")
                    }
                    // A form post is refused the same way, and changes nothing.
                    try await browser.get(home)
                    try await browser.post(group.post, [:])
                    #expect(browser.path == group.login, "\(home) user posted to \(group.post)")
                }
                // Still logged in to their own screens.
                try await browser.get(groups.first { $0.login == home }!.paths[0])
                #expect(browser.path != home, "\(home) session lost")
            }
        }
    }
}
