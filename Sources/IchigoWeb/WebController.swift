import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import NIOCore
import OTP

/// The retail internet-banking screens: login (with OTP), top page, transfers, and the one-time-password
/// screens of the seeds — BOP001, BOT001–003, BOK001–002, BOS001–002 — in Japanese and English.
struct WebController<Context: RequestContext>: Sendable {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer

    init(services: IchigoServices, renderer: Renderer) {
        self.services = services
        self.sessions = SessionManager(services: services)
        self.renderer = renderer
    }

    func addRoutes(to router: Router<Context>) {
        router.get("/") { request, _ in try await self.root(request) }
        router.get("static/ichigo.css") { _, _ in Self.asset(StaticAssets.css, type: "text/css; charset=utf-8") }
        router.get("static/ichigo.js") { _, _ in Self.asset(StaticAssets.js, type: "text/javascript; charset=utf-8") }
        router.get("lang") { request, _ in try await self.switchLanguage(request) }
        router.get("login") { request, _ in try await self.loginPage(request) }
        router.post("login") { request, _ in try await self.login(request) }
        router.get("login/otp") { request, _ in try await self.loginOTPPage(request) }
        router.post("login/otp") { request, _ in try await self.loginOTP(request) }
        router.post("logout") { request, _ in try await self.logout(request) }
        router.get("top") { request, _ in try await self.top(request) }
        router.get("transfer") { request, _ in try await self.transferPage(request) }
        router.post("transfer") { request, _ in try await self.transferInput(request) }
        router.get("transfer/confirm") { request, _ in try await self.transferConfirmPage(request) }
        router.post("transfer/confirm") { request, _ in try await self.transferConfirm(request) }
        router.get("transfer/done") { request, _ in try await self.transferDone(request) }
        router.get("otp") { request, _ in try await self.bop001(request) }
        router.get("otp/issue") { request, _ in try await self.bot001(request) }
        router.post("otp/issue") { request, _ in try await self.bot001Submit(request) }
        router.get("otp/issue/confirm") { request, _ in try await self.bot002(request) }
        router.post("otp/issue/confirm") { request, _ in try await self.bot002Submit(request) }
        router.get("otp/issue/done") { request, _ in try await self.bot003(request) }
        router.get("otp/start") { request, _ in try await self.bok001(request) }
        router.post("otp/start") { request, _ in try await self.bok001Submit(request) }
        router.get("otp/start/done") { request, _ in try await self.doneScreen(request, "BOK002", "bok002", steps: "bok", step: 2) }
        router.get("otp/cancel") { request, _ in try await self.bos001(request) }
        router.post("otp/cancel") { request, _ in try await self.bos001Submit(request) }
        router.get("otp/cancel/done") { request, _ in try await self.doneScreen(request, "BOS002", "bos002", steps: "bos", step: 2) }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Responses

    func t(_ key: String, _ language: Language) -> String {
        if let entry = Strings.table[key] { return language == .ja ? entry.ja : entry.en }
        return Messages.text(key, in: language)
    }

    /// Renders a screen with the common context (strings, CSRF token, language switch, step bar, errors).
    func screen(
        _ template: String, _ page: WebPage, id: String, titleKey: String, request: Request,
        steps: String? = nil, step: Int = 0, _ extra: [String: Any] = [:], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var page = page
        let language = page.language
        var context: [String: Any] = [
            "t": Strings.dictionary(for: language), "lang": language.rawValue, "csrf": page.session.csrfToken,
            "screenID": id, "title": t(titleKey, language), "loggedIn": page.isAuthenticated,
            "userName": page.user?.name ?? "",
            "langSwitchURL": "/lang?to=\(language == .ja ? "en" : "ja")&back=\(request.uri.path)",
        ]
        if let steps {
            let count = steps == "bot" ? 3 : 2
            context["hasSteps"] = true
            context["steps"] = (1...count).map { ["label": t("steps.\(steps).\($0)", language), "current": $0 == step] }
        }
        // One-shot values from a failed POST.
        if let errors = page.data.formErrors, !errors.isEmpty {
            context["errors"] = errors.mapValues { t($0, language) }
            context["hasFieldErrors"] = true
        }
        context["values"] = page.data.formValues ?? [:]
        if let error = page.data.pageError { context["pageError"] = t(error, language) }
        if let flash = page.session.flash { context["flash"] = t(flash, language) }
        // An empty string is "present" to Mustache; leave it out so `{{#key}}` sections stay closed.
        for (key, value) in extra where (value as? String)?.isEmpty != true { context[key] = value }
        page.data.formErrors = nil
        page.data.formValues = nil
        page.data.pageError = nil
        page.session.flash = nil
        try await sessions.save(page)
        var response = Response(
            status: status,
            headers: [
                .contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                .contentSecurityPolicy: "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
                HTTPField.Name("X-Frame-Options")!: "DENY", HTTPField.Name("Referrer-Policy")!: "same-origin",
                HTTPField.Name("X-Content-Type-Options")!: "nosniff",
            ],
            body: .init(byteBuffer: ByteBuffer(string: renderer.render(template, context))))
        response.setCookie(sessions.cookie(for: page))
        return response
    }

    /// 303 See Other to `location`, saving the session first (post-redirect-get).
    func redirect(_ location: String, _ page: WebPage) async throws -> Response {
        try await sessions.save(page)
        var response = Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
        response.setCookie(sessions.cookie(for: page))
        return response
    }

    /// Back to `location` with field errors and the values to keep (never passwords).
    func redirectWithErrors(
        _ location: String, _ page: WebPage, errors: [String: IchigoError.Code], values: [String: String] = [:]
    ) async throws -> Response {
        var page = page
        page.data.formErrors = errors.mapValues(\.description)
        page.data.formValues = values
        return try await redirect(location, page)
    }

    func redirectWithError(_ location: String, _ page: WebPage, _ code: IchigoError.Code) async throws -> Response {
        var page = page
        page.data.pageError = code.description
        return try await redirect(location, page)
    }

    /// Loads the session and requires a logged-in user; otherwise answers with a redirect to the login page.
    func authenticated(_ request: Request) async throws -> (WebPage, User)? {
        let page = try await sessions.load(request)
        guard page.isAuthenticated, let user = page.user else { return nil }
        return (page, user)
    }

    func toLogin(_ request: Request) async throws -> Response {
        try await redirect("/login", try await sessions.load(request))
    }

    /// Loads the session, requires login, checks the CSRF token and parses the form.
    func authenticatedPost(_ request: Request) async throws -> (WebPage, User, [String: String])? {
        let fields = try await request.formFields()
        guard let (page, user) = try await authenticated(request) else { return nil }
        try checkCSRF(fields, page)
        return (page, user, fields)
    }

    func checkCSRF(_ fields: [String: String], _ page: WebPage) throws {
        guard let token = fields["_csrf"], constantTimeEqual(token, page.session.csrfToken) else {
            throw IchigoError(.csrfFailed)
        }
    }

    // MARK: Entry, language, login

    func root(_ request: Request) async throws -> Response {
        let page = try await sessions.load(request)
        return try await redirect(page.isAuthenticated ? "/top" : "/login", page)
    }

    func switchLanguage(_ request: Request) async throws -> Response {
        var page = try await sessions.load(request)
        if let to = request.uri.queryParameters.get("to"), let language = Language(rawValue: to) {
            page.session.language = language
        }
        var back = request.uri.queryParameters.get("back") ?? "/"
        if !back.hasPrefix("/") || back.hasPrefix("//") || back.contains("\\") { back = "/" }
        return try await redirect(back, page)
    }

    func loginPage(_ request: Request) async throws -> Response {
        let page = try await sessions.load(request)
        if page.isAuthenticated { return try await redirect("/top", page) }
        return try await screen("login", page, id: "BLI001", titleKey: "login.title", request: request)
    }

    func login(_ request: Request) async throws -> Response {
        let fields = try await request.formFields()
        var page = try await sessions.load(request)
        try checkCSRF(fields, page)
        let loginID = fields["loginId"] ?? ""
        let now = services.clock.now()
        let user: User
        do {
            user = try await services.retail.authenticate(loginID: loginID, password: fields["password"] ?? "", at: now)
        } catch let error as IchigoError where error.code == .loginFailed || error.code == .loginLocked {
            page.data.pageError = error.code.description
            page.data.formValues = ["loginId": loginID]
            return try await redirect("/login", page)
        }
        if try await services.retail.loginNeedsOTP(user) {
            try await sessions.renew(&page, user: user, stage: .awaitingOTP)
            return try await redirect("/login/otp", page)
        }
        try await sessions.renew(&page, user: user, stage: .authenticated)
        return try await redirect("/top", page)
    }

    func loginOTPPage(_ request: Request) async throws -> Response {
        let page = try await sessions.load(request)
        guard page.session.stage == .awaitingOTP, page.user != nil else { return try await toLogin(request) }
        return try await screen("login_otp", page, id: "BLI002", titleKey: "otpLogin.title", request: request)
    }

    func loginOTP(_ request: Request) async throws -> Response {
        let fields = try await request.formFields()
        var page = try await sessions.load(request)
        guard page.session.stage == .awaitingOTP, let user = page.user else { return try await toLogin(request) }
        try checkCSRF(fields, page)
        do {
            try await services.retail.verifyOTP(fields["otp"] ?? "", for: user, at: services.clock.now())
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/login/otp", page, errors: errors.fields)
        } catch let error as IchigoError where error.field == "otp" {
            return try await redirectWithErrors("/login/otp", page, errors: ["otp": error.code])
        }
        try await sessions.renew(&page, user: user, stage: .authenticated)
        return try await redirect("/top", page)
    }

    func logout(_ request: Request) async throws -> Response {
        let fields = try await request.formFields()
        let page = try await sessions.load(request)
        try checkCSRF(fields, page)
        if let user = page.user {
            try await services.repository.append(
                AuditEvent(at: services.clock.now(), actor: "user:\(user.id.rawValue)", action: "logout", subject: user.id.rawValue, outcome: "ok"))
        }
        try await sessions.destroy(page)
        var fresh = try await sessions.load(Request(head: .init(method: .get, scheme: nil, authority: nil, path: "/"), body: .init(buffer: ByteBuffer())))
        fresh.session.language = page.language
        fresh.session.flash = "login.bye"
        return try await redirect("/login", fresh)
    }

    // MARK: Top page and transfers

    static func yen(_ amount: Int64) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: amount)) ?? String(amount)
    }

    func accountRows(_ user: User, selected: String? = nil) async throws -> [[String: Any]] {
        try await services.repository.accounts(of: user.id).map {
            [
                "id": $0.id, "name": $0.name, "branch": $0.branch, "number": $0.number, "balance": Self.yen($0.balance),
                "selected": $0.id == selected,
            ]
        }
    }

    func top(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        let (status, _, _) = try await services.retail.overview(of: user.id)
        let formatter = DateFormatter()
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "yyyy/MM/dd HH:mm"
        let transfers: [[String: Any]] = try await services.repository.transfers(of: user.id, limit: 5).map {
            ["date": formatter.string(from: $0.createdAt), "payee": $0.payeeName, "amount": Self.yen($0.amount)]
        }
        return try await screen(
            "top", page, id: "BTP001", titleKey: "top.title", request: request,
            [
                "accounts": try await accountRows(user), "statusText": t("status.\(status.rawValue)", page.language),
                "transfers": transfers, "hasTransfers": !transfers.isEmpty,
            ])
    }

    func transferPage(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        let selected = page.data.formValues?["account"] ?? page.data.transferDraft?.accountID
        return try await screen(
            "transfer", page, id: "BFK001", titleKey: "transfer.title", request: request,
            ["accounts": try await accountRows(user, selected: selected)])
    }

    func transferInput(_ request: Request) async throws -> Response {
        guard let (loaded, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        var page = loaded
        let accounts = try await services.repository.accounts(of: user.id)
        var errors: [String: IchigoError.Code] = [:]
        func digits(_ key: String, _ count: ClosedRange<Int>) -> String {
            let value = (fields[key] ?? "").trimmingCharacters(in: .whitespaces)
            if value.isEmpty {
                errors[key] = .required
            } else if !count.contains(value.count) || !value.allSatisfy({ $0.isASCII && $0.isNumber }) {
                errors[key] = .invalidInput
            }
            return value
        }
        let account = accounts.first { $0.id == fields["account"] }
        if account == nil { errors["account"] = .required }
        let bank = digits("payeeBank", 4...4)
        let branch = digits("payeeBranch", 3...3)
        let number = digits("payeeAccount", 7...7)
        let name = (fields["payeeName"] ?? "").trimmingCharacters(in: .whitespaces)
        if name.isEmpty { errors["payeeName"] = .required } else if name.count > 60 { errors["payeeName"] = .invalidInput }
        let amountText = fields["amount"] ?? ""
        let amount = Int64(amountText)
        if amountText.isEmpty {
            errors["amount"] = .required
        } else if amount == nil || amount! < 1 || amount! > 9_999_999_999 || !amountText.allSatisfy({ $0.isASCII && $0.isNumber }) {
            errors["amount"] = .invalidAmount
        }
        let values = ["payeeBank": bank, "payeeBranch": branch, "payeeAccount": number, "payeeName": name, "amount": amountText, "account": fields["account"] ?? ""]
        guard errors.isEmpty, let account, let amount else {
            return try await redirectWithErrors("/transfer", page, errors: errors, values: values)
        }
        page.data.transferDraft = SessionData.TransferDraft(
            id: Transfer.newID(), accountID: account.id, from: "\(account.name) \(account.branch)-\(account.number)",
            payeeBank: bank, payeeBranch: branch, payeeAccount: number, payeeName: name, amount: amount)
        return try await redirect("/transfer/confirm", page)
    }

    func draftContext(_ draft: SessionData.TransferDraft) -> [String: Any] {
        [
            "from": draft.from, "payeeBank": draft.payeeBank, "payeeBranch": draft.payeeBranch,
            "payeeAccount": draft.payeeAccount, "payeeName": draft.payeeName, "amount": Self.yen(draft.amount),
        ]
    }

    func transferConfirmPage(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        guard let draft = page.data.transferDraft else { return try await redirect("/transfer", page) }
        return try await screen(
            "transfer_confirm", page, id: "BFK002", titleKey: "transferConfirm.title", request: request,
            ["draft": draftContext(draft), "needsOTP": try await services.retail.loginNeedsOTP(user)])
    }

    func transferConfirm(_ request: Request) async throws -> Response {
        guard let (loaded, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        var page = loaded
        guard let draft = page.data.transferDraft else { return try await redirect("/transfer", page) }
        let transfer = Transfer(
            id: draft.id, accountID: draft.accountID, payeeBank: draft.payeeBank, payeeBranch: draft.payeeBranch,
            payeeAccount: draft.payeeAccount, payeeName: draft.payeeName, amount: draft.amount,
            createdAt: services.clock.now())
        do {
            try await services.retail.transfer(
                transfer, by: user, confirmationPassword: fields["confirmationPassword"] ?? "", code: fields["otp"] ?? "",
                at: services.clock.now())
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/transfer/confirm", page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors("/transfer/confirm", page, errors: [error.field!: error.code])
        } catch let error as IchigoError where error.code == .insufficientFunds || error.code == .transferDuplicate {
            page.data.transferDraft = nil
            return try await redirectWithError("/transfer", page, error.code)
        } catch let error as IchigoError where error.code == .tokenLocked || error.code == .tokenNotActive {
            return try await redirectWithError("/transfer/confirm", page, error.code)
        }
        page.data.transferDraft = nil
        page.data.transferDone = draft
        return try await redirect("/transfer/done", page)
    }

    func transferDone(_ request: Request) async throws -> Response {
        guard let (page, _) = try await authenticated(request) else { return try await toLogin(request) }
        guard let done = page.data.transferDone else { return try await redirect("/top", page) }
        return try await screen(
            "transfer_done", page, id: "BFK003", titleKey: "transferDone.title", request: request,
            ["draft": draftContext(done)])
    }

    // MARK: BOP001

    func bop001(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        let now = services.clock.now()
        let (status, token, provisioning) = try await services.retail.overview(of: user.id)
        var issueBlocked: String? = nil
        var canIssue = false
        if status == .unregistered {
            do {
                try await services.retail.checkMayIssue(user, at: now)
                canIssue = true
            } catch let error as IchigoError {
                issueBlocked = t(error.code.description, page.language)
            }
        } else if token?.kind == .hardware, token?.state.occupiesUser == true {
            issueBlocked = t(IchigoError.Code.hardwareTokenInUse.description, page.language)
        }
        let live = token.map { $0.state.occupiesUser } ?? false
        return try await screen(
            "bop001", page, id: "BOP001", titleKey: "bop001.title", request: request,
            [
                "statusText": t("status.\(status.rawValue)", page.language),
                "tokenKind": live ? t("kind.\(token!.kind.rawValue)", page.language) : "",
                "serviceID": live ? (provisioning?.serviceID ?? "-") : "-",
                "appUserID": live ? (provisioning?.appUserID ?? "-") : "-",
                "serial": live && token?.state != .awaitingAppSetup ? token!.serial.rawValue : "",
                "awaitingApp": token?.state == .awaitingAppSetup,
                "notes": Strings.notes(page.language),
                "canIssue": canIssue,
                "canStart": token?.state == .issued,
                "canCancel": token?.kind == .software && (token?.state == .active),
                "issueBlocked": issueBlocked ?? "",
            ])
    }

    // MARK: BOT001–BOT003

    func bot001(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        do {
            try await services.retail.checkMayIssue(user, at: services.clock.now())
        } catch let error as IchigoError {
            return try await redirectWithError("/otp", page, error.code)
        }
        return try await screen(
            "bot001", page, id: "BOT001", titleKey: "bot001.title", request: request, steps: "bot", step: 1)
    }

    func bot001Submit(_ request: Request) async throws -> Response {
        guard let (loaded, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        var page = loaded
        let values = ["phoneEmail": fields["phoneEmail"] ?? "", "phoneEmailConfirmation": fields["phoneEmailConfirmation"] ?? ""]
        do {
            let application = try await services.retail.startIssuance(
                for: user, phoneEmail: values["phoneEmail"]!, phoneEmailConfirmation: values["phoneEmailConfirmation"]!,
                activationPassword: fields["activationPassword"] ?? "",
                activationPasswordConfirmation: fields["activationPasswordConfirmation"] ?? "", at: services.clock.now())
            page.data.applicationID = application.id.rawValue
            return try await redirect("/otp/issue/confirm", page)
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/otp/issue", page, errors: errors.fields, values: values)
        } catch let error as IchigoError where [.tokenAlreadyAssigned, .hardwareTokenInUse, .reissueNextDay, .noRegisteredEmail].contains(error.code) {
            return try await redirectWithError("/otp", page, error.code)
        }
    }

    func pendingApplication(_ page: WebPage) async throws -> IssuanceApplication? {
        guard let id = page.data.applicationID,
            let application = try await services.repository.application(ApplicationID(rawValue: id)),
            application.status == .pending, application.userID == page.user?.id
        else { return nil }
        return application
    }

    func bot002(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        guard let application = try await pendingApplication(page) else { return try await redirect("/otp", page) }
        let formatter = DateFormatter()
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "yyyy/MM/dd HH:mm:ss"
        return try await screen(
            "bot002", page, id: "BOT002", titleKey: "bot002.title", request: request, steps: "bot", step: 2,
            [
                "phoneEmail": application.phoneEmail, "sentAt": formatter.string(from: application.createdAt),
                "registeredEmail": user.email ?? "",
            ])
    }

    func bot002Submit(_ request: Request) async throws -> Response {
        guard let (loaded, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        var page = loaded
        guard let id = page.data.applicationID.map(ApplicationID.init(rawValue:)) else {
            return try await redirect("/otp", page)
        }
        let now = services.clock.now()
        if fields["action"] == "abort" {
            try await services.retail.cancelIssuance(id, by: user, at: now)
            page.data.applicationID = nil
            page.session.flash = "flash.aborted"
            return try await redirect("/otp", page)
        }
        do {
            let (application, provisioning) = try await services.retail.confirmIssuance(
                id, by: user, confirmationPassword: fields["confirmationPassword"] ?? "",
                mailPassword: fields["mailPassword"] ?? "", at: now)
            page.data.applicationID = nil
            page.data.issued = .init(
                phoneEmail: application.phoneEmail, serviceID: provisioning.serviceID, appUserID: provisioning.appUserID,
                qrPending: services.retail.policy.allowAuthenticatorApps)
            return try await redirect("/otp/issue/done", page)
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/otp/issue/confirm", page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors("/otp/issue/confirm", page, errors: [error.field!: error.code])
        } catch let error as IchigoError
            where [.applicationVoid, .applicationClosed, .applicationNotFound, .mailPasswordExpired, .tokenAlreadyAssigned, .reissueNextDay, .hardwareTokenInUse]
            .contains(error.code)
        {
            page.data.applicationID = nil
            return try await redirectWithError("/otp", page, error.code)
        }
    }

    func bot003(_ request: Request) async throws -> Response {
        guard let (loaded, user) = try await authenticated(request) else { return try await toLogin(request) }
        var page = loaded
        guard var issued = page.data.issued else { return try await redirect("/otp", page) }
        var qr = ""
        if issued.qrPending == true {
            // Shown once: the seed is delivered now, and this page never shows it again.
            issued.qrPending = false
            page.data.issued = issued
            let uri = try await services.retail.provisionForAuthenticatorApp(
                appUserID: issued.appUserID, account: user.loginID.rawValue, by: user, at: services.clock.now())
            qr = try QRCode(uri.uri).svg()
        }
        return try await screen(
            "bot003", page, id: "BOT003", titleKey: "bot003.title", request: request, steps: "bot", step: 3,
            [
                "phoneEmail": issued.phoneEmail, "serviceID": issued.serviceID, "appUserID": issued.appUserID,
                "qr": qr, "hasQR": !qr.isEmpty, "authenticatorApps": services.retail.policy.allowAuthenticatorApps,
            ])
    }

    // MARK: BOK001–BOK002

    func bok001(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        guard try await services.retail.overview(of: user.id).token?.state == .issued else {
            return try await redirectWithError("/otp", page, .illegalTransition)
        }
        return try await screen(
            "bok001", page, id: "BOK001", titleKey: "bok001.title", request: request, steps: "bok", step: 1)
    }

    func bok001Submit(_ request: Request) async throws -> Response {
        guard let (loaded, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        var page = loaded
        let now = services.clock.now()
        if fields["action"] == "abort" {
            if let token = try await services.retail.overview(of: user.id).token, token.state == .issued {
                try await services.tokens.apply(.cancel, to: token, actor: "user:\(user.id.rawValue)", at: now)
            }
            page.session.flash = "flash.aborted"
            return try await redirect("/otp", page)
        }
        do {
            try await services.retail.startUse(by: user, code: fields["otp"] ?? "", at: now)
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/otp/start", page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            if error.code == .tokenLocked || error.code == .tokenNotActive { return try await redirectWithError("/otp", page, error.code) }
            return try await redirectWithErrors("/otp/start", page, errors: [error.field!: error.code])
        }
        return try await redirect("/otp/start/done", page)
    }

    func doneScreen(_ request: Request, _ id: String, _ key: String, steps: String, step: Int) async throws -> Response {
        guard let (page, _) = try await authenticated(request) else { return try await toLogin(request) }
        let next = Strings.table["\(key).next"] != nil ? t("\(key).next", page.language) : ""
        return try await screen(
            "done", page, id: id, titleKey: "\(key).title", request: request, steps: steps, step: step,
            [
                "lead": t("\(key).lead", page.language), "next": next, "buttonURL": key == "bos002" ? "/top" : "/otp",
                "buttonLabel": t(key == "bos002" ? "top" : "toBOP", page.language),
            ])
    }

    // MARK: BOS001–BOS002

    func bos001(_ request: Request) async throws -> Response {
        guard let (page, user) = try await authenticated(request) else { return try await toLogin(request) }
        let token = try await services.retail.overview(of: user.id).token
        guard token?.state == .active, token?.kind == .software else {
            return try await redirectWithError("/otp", page, .illegalTransition)
        }
        return try await screen(
            "bos001", page, id: "BOS001", titleKey: "bos001.title", request: request, steps: "bos", step: 1)
    }

    func bos001Submit(_ request: Request) async throws -> Response {
        guard let (page, user, fields) = try await authenticatedPost(request) else { return try await toLogin(request) }
        if fields["action"] == "abort" { return try await redirect("/otp", page) }
        do {
            try await services.retail.cancelUse(
                by: user, confirmationPassword: fields["confirmationPassword"] ?? "", code: fields["otp"] ?? "",
                at: services.clock.now())
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/otp/cancel", page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            if error.code == .tokenLocked { return try await redirectWithError("/otp", page, error.code) }
            return try await redirectWithErrors("/otp/cancel", page, errors: [error.field!: error.code])
        } catch let error as IchigoError where error.code == .noToken || error.code == .concurrentUpdate {
            return try await redirectWithError("/otp", page, error.code)
        }
        return try await redirect("/otp/cancel/done", page)
    }
}
