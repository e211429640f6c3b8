import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import NIOCore
import OTP

/// The retail internet-banking screens: login (with OTP), top page, transfers, and the one-time-password
/// screens of the seeds — BOP001, BOT001–003, BOK001–002, BOS001–002 — in Japanese and English.
struct RetailController: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer

    init(services: IchigoServices, sessions: SessionManager, renderer: Renderer) {
        self.services = services
        self.sessions = sessions
        self.renderer = renderer
    }

    /// Public routes (login, language, assets) on `web`; the customer's screens on a group whose context
    /// cannot be built without a retail login.
    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        web.get("/") { _, context in try await self.root(context) }
        web.get("static/ichigo.css") { _, _ in Self.asset(StaticAssets.css, type: "text/css; charset=utf-8") }
        web.get("static/ichigo.js") { _, _ in Self.asset(StaticAssets.js, type: "text/javascript; charset=utf-8") }
        web.get("lang") { request, context in try await self.switchLanguage(request, context) }
        LoginController(
            services: services, sessions: sessions, renderer: renderer, audience: .retail, loginScreen: "BLI001",
            otpScreen: "BLI002", titleKey: "login.title"
        ).addRoutes(to: web)
        web.post("logout") { request, context in try await LoginController.logout(self, request, context) }
        let retail = web.group(context: RetailContext.self)
        retail.get("top", use: top)
        retail.get("transfer", use: transferPage)
        retail.post("transfer", use: transferInput)
        retail.get("transfer/confirm", use: transferConfirmPage)
        retail.post("transfer/confirm", use: transferConfirm)
        retail.post("transfer/confirm/passkey", use: transferPasskey)
        retail.get("transfer/done", use: transferDone)
        retail.get("otp", use: bop001)
        retail.get("otp/issue", use: bot001)
        retail.post("otp/issue", use: bot001Submit)
        retail.get("otp/issue/confirm", use: bot002)
        retail.post("otp/issue/confirm", use: bot002Submit)
        retail.get("otp/issue/done", use: bot003)
        retail.get("otp/start", use: bok001)
        retail.post("otp/start", use: bok001Submit)
        retail.get("otp/start/done") { request, context in
            try await self.doneScreen(request, context, "BOK002", "bok002", steps: "bok", step: 2)
        }
        retail.get("otp/cancel", use: bos001)
        retail.post("otp/cancel", use: bos001Submit)
        retail.get("otp/cancel/done") { request, context in
            try await self.doneScreen(request, context, "BOS002", "bos002", steps: "bos", step: 2)
        }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(
            status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=3600"],
            body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Entry, language, login

    func root(_ context: IchigoRequestContext) async throws -> Response {
        let page = try context.session()
        let home: String
        switch page.session.stage == .authenticated ? page.data.audience : nil {
        case .retail?: home = "/top"
        case .corporateUser?: home = "/corp/top"
        case .corporateAdmin?: home = "/corp/admin"
        case .bankOperator?: home = "/operator"
        case nil: home = "/login"
        }
        return try await redirect(home, page)
    }

    func switchLanguage(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        var page = try context.session()
        if let to = request.uri.queryParameters.get("to"), let language = Language(rawValue: to) {
            page.session.language = language
        }
        var back = request.uri.queryParameters.get("back") ?? "/"
        if !back.hasPrefix("/") || back.hasPrefix("//") || back.contains("\\") { back = "/" }
        return try await redirect(back, page)
    }

    // MARK: Top page and transfers

    func accountRows(_ user: User, selected: String? = nil) async throws -> [[String: Any]] {
        try await services.repository.accounts(of: user.id).map {
            [
                "id": $0.id.rawValue, "name": $0.name, "branch": $0.branch, "number": $0.number,
                "balance": Self.yen($0.balance), "selected": $0.id.rawValue == selected,
            ]
        }
    }

    func top(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let (status, _, _) = try await services.retail.overview(of: user.id)
        let formatter = DateFormatter()
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "yyyy/MM/dd HH:mm"
        let transfers: [[String: Any]] = try await services.repository.transfers(of: user.id, limit: 5).map {
            ["date": formatter.string(from: $0.createdAt), "payee": $0.payee.name, "amount": Self.yen($0.amount)]
        }
        return try await screen(
            "top", page, id: "BTP001", titleKey: "top.title", request: request,
            [
                "accounts": try await accountRows(user), "statusText": t("status.\(status.rawValue)", page.language),
                "transfers": transfers, "hasTransfers": !transfers.isEmpty,
                "revokedNotice": try await revokedNotice(for: user, .retail, page.language) ?? "",
            ])
    }

    func transferPage(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let selected = page.data.formValues?["account"] ?? page.data.transferDraft?.accountID.rawValue
        return try await screen(
            "transfer", page, id: "BFK001", titleKey: "transfer.title", request: request,
            ["accounts": try await accountRows(user, selected: selected)])
    }

    func transferInput(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        let checked: (from: Account, payee: Payee, amount: Int64)
        do {
            checked = try await services.retail.validateTransfer(
                from: AccountID(rawValue: fields["account"] ?? ""), bank: fields["payeeBank"] ?? "", branch: fields["payeeBranch"] ?? "",
                account: fields["payeeAccount"] ?? "", name: fields["payeeName"] ?? "", amount: fields["amount"] ?? "",
                of: user.id)
        } catch let errors as ValidationErrors {
            let values = ["payeeBank", "payeeBranch", "payeeAccount", "payeeName", "amount", "account"].reduce(
                into: [String: String]()
            ) { $0[$1] = (fields[$1] ?? "").trimmingCharacters(in: .whitespaces) }
            return try await redirectWithErrors("/transfer", page, errors: errors.fields, values: values)
        }
        let (account, payee) = (checked.from, checked.payee)
        page.data.transferDraft = SessionData.TransferDraft(
            id: .retail(), accountID: account.id, from: "\(account.name) \(account.branch)-\(account.number)",
            payee: payee,
            amount: checked.amount)
        return try await redirect("/transfer/confirm", page)
    }

    func draftContext(_ draft: SessionData.TransferDraft) -> [String: Any] {
        [
            "from": draft.from ?? "", "payeeBank": draft.payee.bank, "payeeBranch": draft.payee.branch,
            "payeeAccount": draft.payee.account, "payeeName": draft.payee.name, "amount": Self.yen(draft.amount),
        ]
    }

    func transferConfirmPage(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        guard let draft = page.data.transferDraft else { return try await redirect("/transfer", page) }
        var extra: [String: Any] = [
            "draft": draftContext(draft), "needsOTP": try await services.credentials.loginNeedsOTP(user),
        ]
        // パスキーで承認: a challenge bound to this pending transfer as the session holds it (payee bank, branch,
        // account, name, amount and its ID), beside the confirmation password and OTP.
        let pending = Self.transfer(from: draft, at: services.clock.now())
        let subject = ApprovalSubject.transfer(pending)
        if let options = try await services.passkeys.approvalOptions(
            for: user, subject: subject, binding: page.passkeyBinding, at: services.clock.now())
        {
            extra["passkey"] = [
                "action": "/transfer/confirm/passkey", "options": try passkeyOptionsJSON(options),
                "fingerprint": subject.fingerprint,
            ]
        }
        // 取引認証: the challenge of the pending transfer as the session holds it; its ID goes with the form so that a
        // transfer replaced meanwhile (another window) is refused rather than signed blind.
        if try await services.retail.needsSignature(user) {
            extra["transferID"] = draft.id
            let transaction = SignedTransaction(payeeAccount: draft.payee.account, amount: draft.amount)
            do {
                if let prompt = try await services.retail.signingPrompt(for: transaction, by: user) {
                    extra["signing"] = Self.signingContext(prompt)
                }
            } catch let error as IchigoError where error.code == .signingUnsupported {
                extra["signing"] = ["payeeAccount": draft.payee.account, "amount": String(draft.amount), "amountText": Self.yen(draft.amount)]
                var shown = page
                shown.data.pageError = error.code.description
                return try await screen(
                    "transfer_confirm", shown, id: "BFK002", titleKey: "transferConfirm.title", request: request, extra)
            }
        }
        return try await screen(
            "transfer_confirm", page, id: "BFK002", titleKey: "transferConfirm.title", request: request, extra)
    }

    /// What the signing part of a confirmation page shows (f_sign.mustache).
    static func signingContext(_ prompt: SigningPrompt) -> [String: Any] {
        [
            "payeeAccount": prompt.transaction.payeeAccount, "amount": String(prompt.transaction.amount),
            "amountText": yen(prompt.transaction.amount), "challenge": prompt.challenge, "suite": prompt.suite.text,
        ]
    }

    /// The pending transfer the session holds, as the domain's `Transfer`.
    static func transfer(from draft: SessionData.TransferDraft, at now: Date) -> Transfer {
        Transfer(
            id: draft.id, accountID: draft.accountID, payee: draft.payee, amount: draft.amount, createdAt: now)
    }

    /// BFK002 パスキーで承認: the assertion must answer a challenge made for the transfer the session holds now; a
    /// transfer replaced meanwhile (another tab) makes it worthless and nothing moves.
    func transferPasskey(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        guard let draft = page.data.transferDraft else { return try await redirect("/transfer", page) }
        do {
            guard let credential = postedCredential(fields, as: PasskeyAssertionJSON.self) else {
                throw IchigoError(.passkeyFailed)
            }
            try await services.passkeys.transfer(
                Self.transfer(from: draft, at: services.clock.now()), by: user, approval: credential,
                binding: page.passkeyBinding, at: services.clock.now())
        } catch let error as IchigoError where error.code == .insufficientFunds || error.code == .transferDuplicate {
            page.data.transferDraft = nil
            return try await redirectWithError("/transfer", page, error.code)
        } catch let error as IchigoError
            where [.passkeyFailed, .passkeyTransactionChanged, .loginLocked].contains(error.code)
        {
            return try await redirectWithError("/transfer/confirm", page, error.code)
        }
        page.data.transferDraft = nil
        page.data.transferDone = draft
        return try await redirect("/transfer/done", page)
    }

    func transferConfirm(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        guard let draft = page.data.transferDraft else { return try await redirect("/transfer", page) }
        let transfer = Transfer(
            id: draft.id, accountID: draft.accountID, payee: draft.payee, amount: draft.amount,
            createdAt: services.clock.now())
        do {
            let signing = try await services.retail.needsSignature(user)
            try await services.retail.transfer(
                transfer, by: user, confirmationPassword: fields["confirmationPassword"] ?? "",
                code: (signing ? fields["signature"] : fields["otp"]) ?? "", shownTransferID: fields["transferID"].map(TransferID.init(rawValue:)),
                at: services.clock.now())
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/transfer/confirm", page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors("/transfer/confirm", page, errors: [error.field!: error.code])
        } catch let error as IchigoError where error.code == .insufficientFunds || error.code == .transferDuplicate {
            page.data.transferDraft = nil
            return try await redirectWithError("/transfer", page, error.code)
        } catch let error as IchigoError
            where [.tokenLocked, .tokenNotActive, .transferChanged, .signingUnsupported].contains(error.code)
        {
            return try await redirectWithError("/transfer/confirm", page, error.code)
        }
        page.data.transferDraft = nil
        page.data.transferDone = draft
        return try await redirect("/transfer/done", page)
    }

    func transferDone(_ request: Request, context: RetailContext) async throws -> Response {
        let page = context.page
        guard let done = page.data.transferDone else { return try await redirect("/top", page) }
        return try await screen(
            "transfer_done", page, id: "BFK003", titleKey: "transferDone.title", request: request,
            ["draft": draftContext(done)])
    }

    // MARK: BOP001

    func bop001(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
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
                "revokedNotice": try await revokedNotice(for: user, .retail, page.language) ?? "",
                "statusText": t("status.\(status.rawValue)", page.language),
                "tokenKind": live ? t("kind.\(token!.kind.rawValue)", page.language) : "",
                "serviceID": live ? (provisioning?.serviceID ?? "-") : "-",
                "appUserID": live ? (provisioning?.appUserID ?? "-") : "-",
                "serial": live && token?.state != .awaitingAppSetup ? token!.serial.rawValue : "",
                "awaitingApp": token?.state == .awaitingAppSetup,
                "notes": Strings.notes(page.language),
                "canIssue": canIssue,
                "canStart": token?.state == .issued,
                "canCancel": RetailService.mayCancelUse(token),
                "issueBlocked": issueBlocked ?? "",
            ])
    }

    // MARK: BOT001–BOT003

    func bot001(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        do {
            try await services.retail.checkMayIssue(user, at: services.clock.now())
        } catch let error as IchigoError {
            return try await redirectWithError("/otp", page, error.code)
        }
        // 戻る from BOT002: the pending application's address is shown again; its mail password stays valid.
        var extra: [String: Any] = [:]
        if let pending = try await pendingApplication(page) {
            extra["revising"] = true
            if page.data.formValues == nil {
                extra["values"] = ["phoneEmail": pending.phoneEmail, "phoneEmailConfirmation": pending.phoneEmail]
            }
        }
        return try await screen(
            "bot001", page, id: "BOT001", titleKey: "bot001.title", request: request, steps: "bot", step: 1, extra)
    }

    func bot001Submit(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        let values = ["phoneEmail": fields["phoneEmail"] ?? "", "phoneEmailConfirmation": fields["phoneEmailConfirmation"] ?? ""]
        do {
            let application = try await services.retail.startIssuance(
                for: user, phoneEmail: values["phoneEmail"]!, phoneEmailConfirmation: values["phoneEmailConfirmation"]!,
                activationPassword: fields["activationPassword"] ?? "",
                activationPasswordConfirmation: fields["activationPasswordConfirmation"] ?? "",
                revising: try await pendingApplication(page)?.id, resend: fields["resend"] == "1",
                at: services.clock.now())
            page.data.applicationID = application.id.rawValue
            return try await redirect("/otp/issue/confirm", page)
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors("/otp/issue", page, errors: errors.fields, values: values)
        } catch let error as IchigoError where [.tokenAlreadyAssigned, .hardwareTokenInUse, .reissueNextDay, .noRegisteredEmail].contains(error.code) {
            return try await redirectWithError("/otp", page, error.code)
        }
    }

    func pendingApplication(_ page: WebPage) async throws -> IssuanceApplication? {
        guard let id = page.data.applicationID, let user = page.user else { return nil }
        return try await services.retail.pendingApplication(ApplicationID(rawValue: id), of: user.id)
    }

    func bot002(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
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

    func bot002Submit(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
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

    func bot003(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
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

    func bok001(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        guard try await services.retail.awaitsStartOfUse(user.id) else {
            return try await redirectWithError("/otp", page, .illegalTransition)
        }
        return try await screen(
            "bok001", page, id: "BOK001", titleKey: "bok001.title", request: request, steps: "bok", step: 1)
    }

    func bok001Submit(_ request: Request, context: RetailContext) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        let now = services.clock.now()
        if fields["action"] == "abort" {
            try await services.retail.abortStartOfUse(by: user, at: now)
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

    func doneScreen(
        _ request: Request, _ context: RetailContext, _ id: String, _ key: String, steps: String, step: Int
    ) async throws -> Response {
        let page = context.page
        let next = Strings.table["\(key).next"] != nil ? t("\(key).next", page.language) : ""
        return try await screen(
            "done", page, id: id, titleKey: "\(key).title", request: request, steps: steps, step: step,
            [
                "lead": t("\(key).lead", page.language), "next": next, "buttonURL": key == "bos002" ? "/top" : "/otp",
                "buttonLabel": t(key == "bos002" ? "top" : "toBOP", page.language),
            ])
    }

    // MARK: BOS001–BOS002

    func bos001(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let token = try await services.retail.overview(of: user.id).token
        guard RetailService.mayCancelUse(token) else {
            return try await redirectWithError("/otp", page, .illegalTransition)
        }
        return try await screen(
            "bos001", page, id: "BOS001", titleKey: "bos001.title", request: request, steps: "bos", step: 1)
    }

    func bos001Submit(_ request: Request, context: RetailContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let fields = try await form(request, page)
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
        } catch let error as IchigoError
            where error.code == .noToken || error.code == .concurrentUpdate || error.code == .illegalTransition
        {
            return try await redirectWithError("/otp", page, error.code)
        }
        return try await redirect("/otp/cancel/done", page)
    }
}
