import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore

/// The master user's and administrators' screens (管理者ログイン): 管理業務 → 利用者管理 (利用者情報の管理 with permissions
/// and limits, ワンタイムパスワードの管理 with 利用停止解除 and トークンの失効), and ご契約先管理情報変更 → 利用者情報登録／変更 →
/// ワンタイムパスワードの設定 (usage mode, 利用登録, 利用登録解除) — seeds 002 and 004.
struct CorporateAdminController: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer

    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        let admin = web.group("corp/admin", context: CorporateAdminContext.self)
        admin.get(use: hkg001)
        admin.get("users-menu", use: hrk001)
        admin.get("users", use: hrk002)
        admin.post("users", use: hrk002Select)
        admin.get("users/edit/basic", use: hrk003)
        admin.post("users/edit/basic", use: hrk003Next)
        admin.get("users/edit/authority", use: hrk004)
        admin.post("users/edit/authority", use: hrk004Next)
        admin.get("users/edit/accounts", use: hrk005)
        admin.post("users/edit/accounts", use: hrk005Next)
        admin.get("users/edit/confirm", use: hrk006)
        admin.post("users/edit/confirm", use: hrk006Execute)
        admin.post("users/edit/confirm/passkey", use: hrk006Passkey)
        admin.get("users/edit/done", use: hrk007)
        admin.get("otp", use: hom001)
        admin.get("otp/unlock", use: hom002)
        admin.post("otp/unlock", use: hom002Unlock)
        admin.get("otp/unlock/done", use: hom003)
        admin.get("otp/revoke", use: hom004)
        admin.post("otp/revoke", use: hom004Revoke)
        admin.get("otp/revoke/done", use: hom005)
        admin.get("contract", use: hkj001)
        admin.get("contract/users", use: hkj002)
        admin.get("otp-settings/mode", use: hts001)
        admin.post("otp-settings/mode", use: hts001Next)
        admin.get("otp-settings/mode/confirm", use: hts002)
        admin.post("otp-settings/mode/confirm", use: hts002Execute)
        admin.get("otp-settings/register", use: hts003)
        admin.post("otp-settings/register", use: hts003Register)
        admin.get("otp-settings/register/done", use: hts004)
        admin.get("otp-settings/deregister", use: hts005)
        admin.post("otp-settings/deregister", use: hts005Execute)
    }

    // MARK: Common pieces

    func menu(
        _ request: Request, _ context: CorporateAdminContext, id: String, titleKey: String, lead: String,
        items: [(href: String, id: String, key: String)], notice: String? = nil
    ) async throws -> Response {
        let language = context.page.language
        return try await screen(
            "corp_menu", context.page, id: id, titleKey: titleKey, request: request,
            [
                "lead": t(lead, language),
                "items": items.map { ["href": $0.href, "id": $0.id, "label": t($0.key, language), "desc": t($0.key + "Desc", language)] },
                "revokedNotice": notice ?? "",
            ])
    }

    func done(
        _ request: Request, _ context: CorporateAdminContext, id: String, key: String, steps: String? = nil, step: Int = 0,
        lines: [String] = [], serial: String? = nil, button: (String, String) = ("/corp/admin", "corp.toAdminTop")
    ) async throws -> Response {
        let language = context.page.language
        let next = Strings.table["\(key).next"] != nil ? t("\(key).next", language) : ""
        return try await screen(
            "corp_done", context.page, id: id, titleKey: "\(key).title", request: request, steps: steps, step: step,
            [
                "lead": t("\(key).lead", language), "next": next, "lines": lines, "hasLines": !lines.isEmpty,
                "serial": serial ?? "", "buttonURL": button.0, "buttonLabel": t(button.1, language),
            ])
    }

    /// Rows for the user tables: login ID, name, role, token serial and its state.
    func memberRows(_ members: [UserWithToken], _ language: Language, selected: Set<String> = []) -> [[String: Any]] {
        members.map { member in
            let token = member.liveToken
            return [
                "id": member.user.id.rawValue, "loginId": member.user.loginID.rawValue, "name": member.user.name,
                "role": t("role.\(member.user.role.rawValue)", language), "serial": token?.serial.rawValue ?? "-",
                "tokenId": token?.id.rawValue ?? "", "kind": token.map { t("kind.\($0.kind.rawValue)", language) } ?? "-",
                "status": t("status.\(RegistrationStatus(token: member.token).rawValue)", language),
                "checked": selected.contains(member.user.id.rawValue),
            ]
        }
    }

    // MARK: HKG001, HRK001, HOM001, HKJ001 menus

    func hkg001(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await menu(
            request, context, id: "HKG001", titleKey: "hkg001.title", lead: "hkg001.lead",
            items: [
                ("/corp/admin/users-menu", "menu-users", "hrk001.title"),
                ("/corp/admin/contract", "menu-contract", "hkj001.title"),
            ], notice: try await revokedNotice(for: context.user, .corporateAdmin, context.page.language))
    }

    func hrk001(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await menu(
            request, context, id: "HRK001", titleKey: "hrk001.title", lead: "hrk001.lead",
            items: [
                ("/corp/admin/users", "menu-user-info", "hrk002.menu"),
                ("/corp/admin/otp", "menu-otp", "hom001.title"),
            ])
    }

    func hom001(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await menu(
            request, context, id: "HOM001", titleKey: "hom001.title", lead: "hom001.lead",
            items: [
                ("/corp/admin/otp/unlock", "menu-unlock", "hom001.unlock"),
                ("/corp/admin/otp/revoke", "menu-revoke", "hom001.revoke"),
            ])
    }

    func hkj001(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await menu(
            request, context, id: "HKJ001", titleKey: "hkj001.title", lead: "hkj001.lead",
            items: [("/corp/admin/contract/users", "menu-user-registration", "hkj002.title")])
    }

    // MARK: HRK002–HRK007 利用者情報の管理 (permissions)

    func hrk002(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let members = try await services.corporate.members(of: context.user.contractID)
        return try await screen(
            "corp_users", context.page, id: "HRK002", titleKey: "hrk002.title", request: request,
            ["users": memberRows(members, context.page.language)])
    }

    func hrk002Select(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard let id = fields["user"], !id.isEmpty else {
            return try await redirectWithErrors("/corp/admin/users", page, errors: ["user": .nothingSelected])
        }
        return try await handling("/corp/admin/users", page) {
            let target = try await services.corporate.member(UserID(rawValue: id), of: context.user)
            page.data.permissionDraft = .init(
                userID: target.id.rawValue, authorities: target.permissions.authorities.map(\.rawValue).sorted(),
                limits: target.permissions.accountLimits)
            return try await redirect("/corp/admin/users/edit/basic", page)
        }
    }

    /// The user being changed and the draft, or a redirect back to the list.
    func draft(_ context: CorporateAdminContext) async throws -> (User, SessionData.PermissionDraft)? {
        guard let draft = context.page.data.permissionDraft,
            let target = try? await services.corporate.member(UserID(rawValue: draft.userID), of: context.user)
        else { return nil }
        return (target, draft)
    }

    func hrk003(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let (target, _) = try await draft(context) else { return try await redirect("/corp/admin/users", context.page) }
        return try await screen(
            "corp_user_basic", context.page, id: "HRK003", titleKey: "hrk003.title", request: request, steps: "hrk",
            step: 1,
            [
                "loginId": target.loginID.rawValue, "name": target.name, "email": target.email ?? "-",
                "role": t("role.\(target.role.rawValue)", context.page.language),
                "self": target.id == context.user.id,
            ])
    }

    func hrk003Next(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        _ = try await form(request, context.page)
        return try await redirect("/corp/admin/users/edit/authority", context.page)
    }

    func hrk004(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let (target, draft) = try await draft(context) else { return try await redirect("/corp/admin/users", context.page) }
        let language = context.page.language
        return try await screen(
            "corp_user_authority", context.page, id: "HRK004", titleKey: "hrk004.title", request: request, steps: "hrk",
            step: 2,
            [
                "name": target.name,
                "authorities": Authority.allCases.map {
                    ["key": $0.rawValue, "label": t("authority.\($0.rawValue)", language), "checked": draft.authorities.contains($0.rawValue)]
                },
            ])
    }

    func hrk004Next(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard var draft = page.data.permissionDraft else { return try await redirect("/corp/admin/users", page) }
        draft.authorities = fields.checked(prefix: "authority_").filter { Authority(rawValue: $0) != nil }
        page.data.permissionDraft = draft
        return try await redirect("/corp/admin/users/edit/accounts", page)
    }

    func hrk005(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let (target, draft) = try await draft(context) else { return try await redirect("/corp/admin/users", context.page) }
        let values = context.page.data.formValues ?? [:]
        let accounts = try await services.repository.accounts(ofContract: context.user.contractID)
        return try await screen(
            "corp_user_accounts", context.page, id: "HRK005", titleKey: "hrk005.title", request: request, steps: "hrk",
            step: 3,
            [
                "name": target.name,
                "accounts": accounts.map { account in
                    [
                        "id": account.id.rawValue, "label": "\(account.name) \(account.branch)-\(account.number)",
                        "checked": values.isEmpty ? draft.limits[account.id.rawValue] != nil : values["use_\(account.id)"] == "on",
                        "limit": values["limit_\(account.id)"] ?? draft.limits[account.id.rawValue].map { String($0) } ?? "",
                    ] as [String: Any]
                },
            ])
    }

    func hrk005Next(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard var draft = page.data.permissionDraft else { return try await redirect("/corp/admin/users", page) }
        let accounts = try await services.repository.accounts(ofContract: context.user.contractID)
        var typed: [String: String] = [:]
        var values: [String: String] = [:]
        for account in accounts {
            let text = (fields["limit_\(account.id)"] ?? "").trimmingCharacters(in: .whitespaces)
            values["limit_\(account.id)"] = text
            guard fields["use_\(account.id)"] == "on" else { continue }
            values["use_\(account.id)"] = "on"
            typed[account.id.rawValue] = text
        }
        let (limits, accountErrors) = CorporateService.parseLimits(typed)
        let errors = Dictionary(uniqueKeysWithValues: accountErrors.map { ("limit_\($0.key)", $0.value) })
        if !errors.isEmpty {
            return try await redirectWithErrors("/corp/admin/users/edit/accounts", page, errors: errors, values: values)
        }
        draft.limits = limits
        page.data.permissionDraft = draft
        return try await redirect("/corp/admin/users/edit/confirm", page)
    }

    func summary(_ target: User, _ draft: SessionData.PermissionDraft, _ language: Language) async throws -> [String: Any] {
        let accounts = try await services.repository.accounts(ofContract: target.contractID)
        return [
            "loginId": target.loginID.rawValue, "name": target.name,
            "authorities": Authority.allCases.map {
                ["label": t("authority.\($0.rawValue)", language), "on": draft.authorities.contains($0.rawValue)]
            },
            "accounts": accounts.compactMap { account -> [String: Any]? in
                guard let limit = draft.limits[account.id.rawValue] else { return nil }
                return ["label": "\(account.name) \(account.branch)-\(account.number)", "limit": Self.yen(limit)]
            },
        ]
    }

    static func permissions(_ draft: SessionData.PermissionDraft) -> Permissions {
        Permissions(authorities: Set(draft.authorities.compactMap(Authority.init(rawValue:))), accountLimits: draft.limits)
    }

    func hrk006(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let (target, draft) = try await draft(context) else { return try await redirect("/corp/admin/users", context.page) }
        var extra: [String: Any] = ["summary": try await summary(target, draft, context.page.language)]
        // パスキーで承認: a challenge bound to this user and exactly these authorities and limits.
        let subject = ApprovalSubject.permissions(of: target.id, Self.permissions(draft))
        if let options = try await services.passkeys.approvalOptions(
            for: context.user, subject: subject, binding: context.page.passkeyBinding, at: services.clock.now())
        {
            extra["passkey"] = [
                "action": "/corp/admin/users/edit/confirm/passkey", "options": try passkeyOptionsJSON(options),
                "fingerprint": subject.fingerprint, "permissions": true,
            ]
        }
        return try await screen(
            "corp_user_confirm", context.page, id: "HRK006", titleKey: "hrk006.title", request: request, steps: "hrk",
            step: 4, extra)
    }

    func hrk006Execute(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let fields = try await form(request, context.page)
        return try await hrk006Execute(
            context,
            proof: .codes(confirmationPassword: fields["confirmationPassword"] ?? "", code: fields["otp"] ?? ""))
    }

    /// HRK006 パスキーで承認.
    func hrk006Passkey(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let fields = try await form(request, context.page)
        guard let credential = postedCredential(fields, as: PasskeyAssertionJSON.self) else {
            return try await redirectWithError("/corp/admin/users/edit/confirm", context.page, .passkeyFailed)
        }
        return try await hrk006Execute(
            context, proof: .passkey(credential, binding: context.page.passkeyBinding, service: services.passkeys))
    }

    func hrk006Execute(_ context: CorporateAdminContext, proof: ApprovalProof) async throws -> Response {
        var page = context.page
        guard let (target, draft) = try await draft(context) else { return try await redirect("/corp/admin/users", page) }
        return try await handling(
            "/corp/admin/users/edit/confirm", page,
            pageErrors: [IchigoError.Code.passkeyFailed.description, IchigoError.Code.passkeyTransactionChanged.description]
        ) {
            try await services.corporate.updatePermissions(
                of: target.id, to: Self.permissions(draft), by: context.user, proof: proof, at: services.clock.now())
            page.data.resultLines = [target.loginID.rawValue]
            return try await redirect("/corp/admin/users/edit/done", page)
        }
    }

    func hrk007(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let (target, draft) = try await draft(context), context.page.data.resultLines != nil else {
            return try await redirect("/corp/admin/users", context.page)
        }
        let language = context.page.language
        return try await screen(
            "corp_user_done", context.page, id: "HRK007", titleKey: "hrk007.title", request: request, steps: "hrk",
            step: 5, ["summary": try await summary(target, draft, language)])
    }

    // MARK: HOM002–HOM003 利用停止解除

    func hom002(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let stopped = try await services.corporate.stoppedMembers(of: context.user)
        return try await screen(
            "corp_unlock", context.page, id: "HOM002", titleKey: "hom002.title", request: request, steps: "hom", step: 1,
            ["users": memberRows(stopped, context.page.language), "hasUsers": !stopped.isEmpty])
    }

    func hom002Unlock(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        let chosen = fields.checked(prefix: "user_").map(UserID.init(rawValue:))
        return try await handling("/corp/admin/otp/unlock", page) {
            let tokens = try await services.corporate.unlock(
                chosen, by: context.user, confirmationPassword: fields["confirmationPassword"] ?? "",
                at: services.clock.now())
            page.data.resultLines = tokens.map(\.serial.rawValue)
            return try await redirect("/corp/admin/otp/unlock/done", page)
        }
    }

    func hom003(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await done(
            request, context, id: "HOM003", key: "hom003", steps: "hom", step: 2,
            lines: context.page.data.resultLines ?? [], button: ("/corp/admin/otp", "hom001.title"))
    }

    // MARK: HOM004–HOM005 トークンの失効

    func hom004(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let members = try await services.corporate.members(of: context.user.contractID).filter { $0.liveToken != nil }
        return try await screen(
            "corp_revoke", context.page, id: "HOM004", titleKey: "hom004.title", request: request, steps: "hom-revoke",
            step: 1,
            [
                "users": memberRows(members, context.page.language), "hasUsers": !members.isEmpty,
                "needsOTP": try await services.corporate.hasToken(context.user),
            ])
    }

    func hom004Revoke(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard let id = fields["user"], !id.isEmpty else {
            return try await redirectWithErrors("/corp/admin/otp/revoke", page, errors: ["user": .nothingSelected])
        }
        return try await handling("/corp/admin/otp/revoke", page) {
            let token = try await services.corporate.revoke(
                tokenOf: UserID(rawValue: id), by: context.user,
                confirmationPassword: fields["confirmationPassword"] ?? "", code: fields["otp"] ?? "",
                at: services.clock.now())
            page.data.resultLines = [token.serial.rawValue]
            return try await redirect("/corp/admin/otp/revoke/done", page)
        }
    }

    func hom005(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        try await done(
            request, context, id: "HOM005", key: "hom005", steps: "hom-revoke", step: 2,
            lines: context.page.data.resultLines ?? [], button: ("/corp/admin/otp", "hom001.title"))
    }

    // MARK: HKJ002 利用者情報登録／変更 with ワンタイムパスワードの設定

    func hkj002(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let contract = try await services.corporate.contract(of: context.user)
        let members = try await services.corporate.members(of: contract.id)
        let language = context.page.language
        return try await screen(
            "corp_settings", context.page, id: "HKJ002", titleKey: "hkj002.title", request: request,
            [
                "contractName": contract.name, "users": memberRows(members, language),
                "mode": t("mode.\(contract.usageMode.rawValue)", language),
                "hasRegistrations": members.contains { $0.liveToken != nil },
            ])
    }

    // MARK: HTS001–HTS002 利用形態の変更

    func hts001(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let contract = try await services.corporate.contract(of: context.user)
        let language = context.page.language
        return try await screen(
            "corp_mode", context.page, id: "HTS001", titleKey: "hts001.title", request: request, steps: "hts", step: 1,
            [
                "modes": [TokenUsageMode.individual, .shared].map {
                    ["key": $0.rawValue, "label": t("mode.\($0.rawValue)", language), "checked": $0 != contract.usageMode]
                },
                "current": t("mode.\(contract.usageMode.rawValue)", language),
            ])
    }

    func hts001Next(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard let mode = fields["mode"].flatMap(TokenUsageMode.init(rawValue:)) else {
            return try await redirectWithErrors("/corp/admin/otp-settings/mode", page, errors: ["mode": .nothingSelected])
        }
        let contract = try await services.corporate.contract(of: context.user)
        guard mode != contract.usageMode else {
            return try await redirectWithFlash("/corp/admin/contract/users", page, "hts.unchanged")
        }
        page.data.modeDraft = mode.rawValue
        return try await redirect("/corp/admin/otp-settings/mode/confirm", page)
    }

    func hts002(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let mode = context.page.data.modeDraft.flatMap(TokenUsageMode.init(rawValue:)) else {
            return try await redirect("/corp/admin/otp-settings/mode", context.page)
        }
        let contract = try await services.corporate.contract(of: context.user)
        let members = try await services.corporate.members(of: contract.id).filter { $0.user.tokenID != nil }
        let language = context.page.language
        return try await screen(
            "corp_mode_confirm", context.page, id: "HTS002", titleKey: "hts002.title", request: request, steps: "hts",
            step: 2,
            [
                "from": t("mode.\(contract.usageMode.rawValue)", language), "to": t("mode.\(mode.rawValue)", language),
                "users": memberRows(members, language), "hasUsers": !members.isEmpty,
            ])
    }

    func hts002Execute(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        guard let mode = page.data.modeDraft.flatMap(TokenUsageMode.init(rawValue:)) else {
            return try await redirect("/corp/admin/otp-settings/mode", page)
        }
        return try await handling("/corp/admin/otp-settings/mode/confirm", page) {
            _ = try await services.corporate.changeUsageMode(
                to: mode, by: context.user, confirmationPassword: fields["confirmationPassword"] ?? "",
                at: services.clock.now())
            page.data.modeDraft = nil
            // Seed 004: after 次へ the administrator goes straight on to registering the tokens (利用登録).
            page.session.flash = "hts.changedRegister"
            return try await redirect("/corp/admin/otp-settings/register", page)
        }
    }

    // MARK: HTS003–HTS004 利用登録

    func hts003(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let contract = try await services.corporate.contract(of: context.user)
        let members = try await services.corporate.members(of: contract.id)
        let selected = Set((context.page.data.formValues ?? [:]).keys.filter { $0.hasPrefix("user_") }.map { String($0.dropFirst(5)) })
        return try await screen(
            "corp_register_token", context.page, id: "HTS003", titleKey: "hts003.title", request: request,
            steps: "hts-register", step: 1,
            [
                "users": memberRows(members, context.page.language, selected: selected),
                "individual": contract.usageMode == .individual,
                "mode": t("mode.\(contract.usageMode.rawValue)", context.page.language),
                "current": members.compactMap { $0.liveToken?.serial.rawValue }.uniqued().joined(separator: ", "),
            ])
    }

    func hts003Register(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        let chosen = fields.checked(prefix: "user_")
        var values = ["serial": fields["serial"] ?? ""]
        for id in chosen { values["user_\(id)"] = "on" }
        return try await handling("/corp/admin/otp-settings/register", page, values: values) {
            let token = try await services.corporate.registerToken(
                serial: fields["serial"] ?? "", code: fields["otp"] ?? "", pin: fields["pin"] ?? "",
                for: chosen.map(UserID.init(rawValue:)), by: context.user, at: services.clock.now())
            page.data.registeredSerial = token.serial.rawValue
            let holders = try await services.repository.users(holding: token.id)
            page.data.resultLines = holders.map { "\($0.loginID.rawValue) \($0.name)" }
            return try await redirect("/corp/admin/otp-settings/register/done", page)
        }
    }

    func hts004(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        guard let serial = context.page.data.registeredSerial else {
            return try await redirect("/corp/admin/contract/users", context.page)
        }
        return try await done(
            request, context, id: "HTS004", key: "hts004", steps: "hts-register", step: 2,
            lines: context.page.data.resultLines ?? [], serial: serial,
            button: ("/corp/admin/contract/users", "hkj002.title"))
    }

    // MARK: HTS005 利用登録解除

    func hts005(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        let members = try await services.corporate.members(of: context.user.contractID).filter { $0.user.tokenID != nil }
        return try await screen(
            "corp_deregister", context.page, id: "HTS005", titleKey: "hts005.title", request: request,
            ["users": memberRows(members, context.page.language), "hasUsers": !members.isEmpty])
    }

    func hts005Execute(_ request: Request, context: CorporateAdminContext) async throws -> Response {
        var page = context.page
        let fields = try await form(request, page)
        return try await handling("/corp/admin/otp-settings/deregister", page) {
            try await services.corporate.deregister(
                fields.checked(prefix: "user_").map(UserID.init(rawValue:)), by: context.user,
                confirmationPassword: fields["confirmationPassword"] ?? "", at: services.clock.now())
            page.session.flash = "hts.deregistered"
            return try await redirect("/corp/admin/contract/users", page)
        }
    }
}

extension Array where Element: Hashable {
    /// The elements in order, each once.
    func uniqued() -> [Element] {
        var seen = Set<Element>()
        return filter { seen.insert($0).inserted }
    }
}
