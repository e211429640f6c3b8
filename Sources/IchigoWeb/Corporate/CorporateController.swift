import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore

/// The corporate user's screens (法人): login (HLI001/HLI003), the top page (HTP001), self-registration of a token at
/// first use (HOR001–HOR002, seed 002 §1), transfer data (HFF001–HFF003) and its approval (HSN001–HSN003, seed 002 §3).
struct CorporateController: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer

    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        LoginController(
            services: services, sessions: sessions, renderer: renderer, audience: .corporateUser, loginScreen: "HLI001",
            otpScreen: "HLI003", titleKey: "corp.userLoginTitle"
        ).addRoutes(to: web)
        LoginController(
            services: services, sessions: sessions, renderer: renderer, audience: .corporateAdmin,
            loginScreen: "HLI002", otpScreen: "HLI003", titleKey: "corp.adminLoginTitle"
        ).addRoutes(to: web)
        let corp = web.group("corp", context: CorporateContext.self)
        corp.get("top", use: top)
        corp.get("otp/register", use: registerPage)
        corp.post("otp/register", use: register)
        corp.get("otp/register/done", use: registerDone)
        corp.get("transfers/new", use: transferPage)
        corp.post("transfers/new", use: transferInput)
        corp.get("transfers/confirm", use: transferConfirmPage)
        corp.post("transfers/confirm", use: transferConfirm)
        corp.get("transfers/done", use: transferDone)
        corp.get("approvals", use: approvals)
        corp.get("approvals/done", use: approvalDone)
        corp.get("approvals/:id", use: approvalPage)
        corp.post("approvals/:id", use: approve)
        corp.post("approvals/:id/passkey", use: approveWithPasskey)
    }

    // MARK: HTP001

    /// What the screens say about the user's token: 利用中, 停止中 (with whom to contact), or none.
    func tokenStatus(_ user: User, _ language: Language) async throws -> [String: Any] {
        let token = try await user.tokenID.asyncFlatMap { try await services.repository.token($0) }
        let status = RegistrationStatus(token: token)
        var result: [String: Any] = ["statusText": t("status.\(status.rawValue)", language)]
        if token?.state.occupiesUser == true { result["serial"] = token!.serial.rawValue }
        if status == .stopped { result["stopped"] = true }
        return result
    }

    func top(_ request: Request, context: CorporateContext) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let accounts = try await services.repository.accounts(ofContract: user.contractID)
            .filter { context.grants.limit(for: $0.id) != nil }
        let pending = try await services.repository.corporateTransfers(of: user.contractID, status: .pending, limit: 100)
        return try await screen(
            "corp_top", page, id: "HTP001", titleKey: "top.title", request: request,
            try await tokenStatus(user, page.language).merging([
                "accounts": accounts.map {
                    [
                        "name": $0.name, "branch": $0.branch, "number": $0.number, "balance": Self.yen($0.balance),
                        "limit": Self.yen(context.grants.limit(for: $0.id) ?? 0),
                    ]
                },
                "hasAccounts": !accounts.isEmpty,
                "canTransfer": context.grants.authorities.contains(.transfer),
                "canApprove": context.grants.authorities.contains(.transferApproval),
                "seesApprovals": !context.grants.authorities.isDisjoint(with: [.transfer, .transferApproval]),
                "pendingCount": pending.count,
                "needsRegistration": try await services.corporate.needsSelfRegistration(user),
                "revokedNotice": try await revokedNotice(for: user, .corporateUser, page.language) ?? "",
            ]) { $1 })
    }

    // MARK: HOR001–HOR002 self-registration

    func registerPage(_ request: Request, context: CorporateContext) async throws -> Response {
        guard try await services.corporate.needsSelfRegistration(context.user) else {
            return try await redirect("/corp/top", context.page)
        }
        return try await screen(
            "corp_register", context.page, id: "HOR001", titleKey: "hor001.title", request: request, steps: "hor",
            step: 1,
            [
                "revokedNotice": try await revokedNotice(
                    for: context.user, .corporateUser, selfRegistration: true, context.page.language) ?? ""
            ])
    }

    func register(_ request: Request, context: CorporateContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        let serial = fields["serial"] ?? ""
        return try await handling("/corp/otp/register", page, values: ["serial": serial]) {
            let token = try await services.corporate.selfRegister(
                serial: serial, code: fields["otp"] ?? "", by: context.user, at: services.clock.now())
            page.data.registeredSerial = token.serial.rawValue
            return try await redirect("/corp/otp/register/done", page)
        }
    }

    func registerDone(_ request: Request, context: CorporateContext) async throws -> Response {
        guard let serial = context.page.data.registeredSerial else { return try await redirect("/corp/top", context.page) }
        return try await screen(
            "corp_done", context.page, id: "HOR002", titleKey: "hor002.title", request: request, steps: "hor", step: 2,
            [
                "lead": t("hor002.lead", context.page.language), "serial": serial,
                "next": t("hor002.next", context.page.language), "buttonURL": "/corp/top",
                "buttonLabel": t("top", context.page.language),
            ])
    }

    // MARK: HFF001–HFF003 transfer data

    func accountChoices(_ context: CorporateContext, selected: String?) async throws -> [[String: Any]] {
        try await services.repository.accounts(ofContract: context.user.contractID).compactMap { account in
            guard let limit = context.grants.limit(for: account.id) else { return nil }
            return [
                "id": account.id.rawValue, "label": "\(account.name) \(account.branch)-\(account.number)",
                "limit": Self.yen(limit), "selected": account.id.rawValue == selected,
            ]
        }
    }

    func transferPage(_ request: Request, context: CorporateContext) async throws -> Response {
        guard context.grants.authorities.contains(.transfer) else {
            return try await redirectWithError("/corp/top", context.page, .forbidden)
        }
        let selected = context.page.data.formValues?["account"] ?? context.page.data.corporateDraft?.accountID.rawValue
        return try await screen(
            "corp_transfer", context.page, id: "HFF001", titleKey: "hff001.title", request: request, steps: "hff",
            step: 1, ["accounts": try await accountChoices(context, selected: selected)])
    }

    func transferInput(_ request: Request, context: CorporateContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        func typed(_ name: String) -> String { (fields[name] ?? "").trimmingCharacters(in: .whitespaces) }
        let input = TransferInput(
            accountID: AccountID(rawValue: fields["account"] ?? ""),
            payee: Payee(
                bank: typed("payeeBank"), branch: typed("payeeBranch"), account: typed("payeeAccount"),
                name: typed("payeeName")),
            amount: fields["amount"] ?? "")
        let values = [
            "account": input.accountID.rawValue, "payeeBank": input.payee.bank, "payeeBranch": input.payee.branch,
            "payeeAccount": input.payee.account, "payeeName": input.payee.name, "amount": input.amount,
        ]
        return try await handling("/corp/transfers/new", page, values: values) {
            let transfer = try await services.corporate.validateTransfer(
                input, by: context.user, grants: context.grants, at: services.clock.now())
            page.data.corporateDraft = .init(
                id: transfer.id, accountID: transfer.accountID, payee: transfer.payee,
                amount: transfer.amount)
            return try await redirect("/corp/transfers/confirm", page)
        }
    }

    func draftContext(_ draft: SessionData.TransferDraft, contract: ContractID) async throws -> [String: Any] {
        let account = try await services.repository.accounts(ofContract: contract).first { $0.id == draft.accountID }
        return [
            "from": account.map { "\($0.name) \($0.branch)-\($0.number)" } ?? draft.accountID,
            "payeeBank": draft.payee.bank, "payeeBranch": draft.payee.branch, "payeeAccount": draft.payee.account,
            "payeeName": draft.payee.name, "amount": Self.yen(draft.amount), "id": draft.id,
        ]
    }

    func transferConfirmPage(_ request: Request, context: CorporateContext) async throws -> Response {
        guard let draft = context.page.data.corporateDraft else {
            return try await redirect("/corp/transfers/new", context.page)
        }
        return try await screen(
            "corp_transfer_confirm", context.page, id: "HFF002", titleKey: "hff002.title", request: request,
            steps: "hff", step: 2, ["draft": try await draftContext(draft, contract: context.user.contractID)])
    }

    func transferConfirm(_ request: Request, context: CorporateContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard let draft = page.data.corporateDraft else { return try await redirect("/corp/transfers/new", page) }
        let now = services.clock.now()
        let transfer = CorporateTransfer(
            id: draft.id, contractID: context.user.contractID, accountID: draft.accountID, payee: draft.payee,
            amount: draft.amount, createdBy: context.user.id, createdAt: now)
        return try await handling("/corp/transfers/confirm", page) {
            do {
                try await services.corporate.createTransfer(
                    transfer, by: context.user, grants: context.grants,
                    confirmationPassword: fields["confirmationPassword"] ?? "", at: now)
            } catch let error as IchigoError where error.code == .transferDuplicate {
                // Posted twice: it was stored once; show the result.
            }
            page.data.corporateDraft = nil
            page.data.corporateDone = draft
            return try await redirect("/corp/transfers/done", page)
        }
    }

    func transferDone(_ request: Request, context: CorporateContext) async throws -> Response {
        guard let done = context.page.data.corporateDone else { return try await redirect("/corp/top", context.page) }
        return try await screen(
            "corp_transfer_done", context.page, id: "HFF003", titleKey: "hff003.title", request: request, steps: "hff",
            step: 3, ["draft": try await draftContext(done, contract: context.user.contractID)])
    }

    // MARK: HSN001–HSN003 approval

    func approvals(_ request: Request, context: CorporateContext) async throws -> Response {
        let users = Dictionary(
            try await services.repository.users(of: context.user.contractID).map { ($0.id, $0.name) }) { a, _ in a }
        let pending = try await services.repository.corporateTransfers(
            of: context.user.contractID, status: .pending, limit: 200)
        let approved = try await services.repository.corporateTransfers(
            of: context.user.contractID, status: .approved, limit: 10)
        func row(_ transfer: CorporateTransfer) -> [String: Any] {
            [
                "id": transfer.id, "date": Self.dateTime(transfer.createdAt), "payee": transfer.payee.name,
                "payeeAccount": "\(transfer.payee.bank)-\(transfer.payee.branch)-\(transfer.payee.account)",
                "amount": Self.yen(transfer.amount), "creator": users[transfer.createdBy] ?? "-",
                "approver": transfer.approvedBy.flatMap { users[$0] } ?? "-",
            ]
        }
        return try await screen(
            "corp_approvals", context.page, id: "HSN001", titleKey: "hsn001.title", request: request,
            [
                "pending": pending.map(row), "hasPending": !pending.isEmpty, "approved": approved.map(row),
                "hasApproved": !approved.isEmpty,
                "canApprove": context.grants.authorities.contains(.transferApproval),
            ])
    }

    func approvalPage(_ request: Request, context: CorporateContext) async throws -> Response {
        let id = TransferID(rawValue: context.parameters.get("id") ?? "")
        let transfer: CorporateTransfer
        do {
            transfer = try await services.corporate.transferAwaitingApproval(id, by: context.user, grants: context.grants)
        } catch let error as IchigoError where error.code == .forbidden || error.code == .transferNotPending {
            return try await redirectWithError("/corp/approvals", context.page, error.code)
        }
        let draft = SessionData.TransferDraft(
            id: transfer.id, accountID: transfer.accountID, payee: transfer.payee,
            amount: transfer.amount)
        let creator = try await services.repository.user(transfer.createdBy)
        var page = context.page
        var extra: [String: Any] = [
            "draft": try await draftContext(draft, contract: context.user.contractID),
            "creator": creator?.name ?? "-", "createdAt": Self.dateTime(transfer.createdAt),
            "needsOTP": try await services.corporate.hasToken(context.user),
        ]
        // 取引認証: the challenge of the transfer data as stored, which is what the approval executes.
        do {
            if let prompt = try await services.corporate.signingPrompt(for: transfer, by: context.user) {
                extra["signing"] = RetailController.signingContext(prompt)
            }
        } catch let error as IchigoError where error.code == .signingUnsupported {
            page.data.pageError = error.code.description
        }
        // パスキーで承認: a challenge bound to this transfer data as stored, for this approver's own passkeys.
        let subject = ApprovalSubject.corporateTransfer(transfer)
        if let options = try await services.passkeys.approvalOptions(
            for: context.user, subject: subject, binding: page.passkeyBinding, at: services.clock.now())
        {
            extra["passkey"] = [
                "action": "/corp/approvals/\(transfer.id)/passkey", "options": try passkeyOptionsJSON(options),
                "fingerprint": subject.fingerprint,
            ]
        }
        return try await screen(
            "corp_approve", page, id: "HSN002", titleKey: "hsn002.title", request: request, steps: "hsn", step: 1,
            try await tokenStatus(context.user, context.page.language).merging(extra) { $1 })
    }

    func approve(_ request: Request, context: CorporateContext) async throws -> Response {
        let fields = try await form(request, context.page)
        return try await approve(
            context,
            proof: .codes(
                confirmationPassword: fields["confirmationPassword"] ?? "",
                code: (services.signing.isRequired ? fields["signature"] : fields["otp"]) ?? ""))
    }

    /// HSN002 パスキーで承認.
    func approveWithPasskey(_ request: Request, context: CorporateContext) async throws -> Response {
        let fields = try await form(request, context.page)
        guard let credential = postedCredential(fields, as: PasskeyAssertionJSON.self) else {
            let id = TransferID(rawValue: context.parameters.get("id") ?? "")
            return try await redirectWithError("/corp/approvals/\(id)", context.page, .passkeyFailed)
        }
        return try await approve(
            context, proof: .passkey(credential, binding: context.page.passkeyBinding, service: services.passkeys))
    }

    func approve(_ context: CorporateContext, proof: ApprovalProof) async throws -> Response {
        var page = context.page
        let id = TransferID(rawValue: context.parameters.get("id") ?? "")
        let location = "/corp/approvals/\(id)"
        do {
            try await services.corporate.approve(
                id, by: context.user, grants: context.grants, proof: proof, at: services.clock.now())
        } catch let error as IchigoError where error.code == .transferNotPending {
            // Approved meanwhile (or posted twice): nothing moved twice.
            return try await redirectWithError("/corp/approvals", page, .transferNotPending)
        } catch let error as IchigoError
            where [.tokenLocked, .tokenRequired, .signingUnsupported, .passkeyFailed, .passkeyTransactionChanged,
                .loginLocked].contains(error.code)
        {
            return try await redirectWithError(location, page, error.code)
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors(location, page, errors: errors.fields)
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors(location, page, errors: [error.field!: error.code])
        } catch let error as IchigoError
            where [.forbidden, .overLimit, .selfApproval, .insufficientFunds].contains(error.code)
        {
            return try await redirectWithError("/corp/approvals", page, error.code)
        }
        if let transfer = try await services.repository.corporateTransfer(id) {
            page.data.corporateDone = .init(
                id: transfer.id, accountID: transfer.accountID, payee: transfer.payee,
                amount: transfer.amount)
        }
        return try await redirect("/corp/approvals/done", page)
    }

    func approvalDone(_ request: Request, context: CorporateContext) async throws -> Response {
        guard let done = context.page.data.corporateDone else { return try await redirect("/corp/approvals", context.page) }
        return try await screen(
            "corp_transfer_done", context.page, id: "HSN003", titleKey: "hsn003.title", request: request, steps: "hsn",
            step: 2,
            ["draft": try await draftContext(done, contract: context.user.contractID), "approved": true])
    }
}
