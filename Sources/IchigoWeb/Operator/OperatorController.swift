import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore

/// The bank operator console: its own login (OLI001), inventory by serial, kind and state (OTK001–OTK002) with
/// unlock, revoke, return to inventory and assignment to a retail customer who applied at a branch; customer
/// search (OUS001–OUS002) with unlock of a stopped login; the audit trail (OAU001).
struct OperatorController: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer

    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        web.get("operator/login") { request, context in try await self.loginPage(request, context) }
        web.post("operator/login") { request, context in try await self.login(request, context) }
        let console = web.group("operator", context: OperatorContext.self)
        console.get(use: menu)
        console.get("tokens", use: tokens)
        console.get("tokens/:serial", use: token)
        console.post("tokens/:serial", use: tokenAction)
        console.get("users", use: users)
        console.get("users/:loginId", use: user)
        console.post("users/:loginId", use: userAction)
        console.get("audit", use: audit)
    }

    var actorPrefix: String { "operator:" }

    // MARK: OLI001

    func loginPage(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        let page = try context.session()
        if page.bankOperator != nil, page.data.audience == .bankOperator { return try await redirect("/operator", page) }
        return try await screen(
            "login", page, id: "OLI001", titleKey: "oli001.title", request: request,
            ["action": "/operator/login", "operator": true])
    }

    func login(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        var page = try context.session()
        let fields = try await form(request, page)
        let loginID = fields["loginId"] ?? ""
        do {
            let bankOperator = try await services.operators.authenticate(
                loginID: loginID, password: fields["password"] ?? "", at: services.clock.now())
            try await sessions.renew(&page, user: nil, stage: .authenticated, audience: .bankOperator)
            page.data.operatorID = bankOperator.id.rawValue
            page.bankOperator = bankOperator
            return try await redirect("/operator", page)
        } catch let error as IchigoError where error.code == .loginFailed || error.code == .loginLocked {
            page.data.pageError = error.code.description
            page.data.formValues = ["loginId": loginID]
            return try await redirect("/operator/login", page)
        }
    }

    // MARK: OTP001

    func menu(_ request: Request, context: OperatorContext) async throws -> Response {
        let counts = try await services.repository.tokenCounts()
        let language = context.page.language
        var rows: [[String: Any]] = []
        for kind in TokenKind.allCases {
            for state in TokenState.allCases {
                guard let count = counts[kind]?[state] else { continue }
                rows.append([
                    "kind": t("kind.\(kind.rawValue)", language), "state": t("state.\(state.rawValue)", language),
                    "count": count, "href": "/operator/tokens?kind=\(kind.rawValue)&state=\(state.rawValue)",
                ])
            }
        }
        return try await screen(
            "op_menu", context.page, id: "OTP001", titleKey: "op.menu", request: request, ["counts": rows])
    }

    // MARK: OTK001–OTK002 inventory

    /// A token's row: its contract by name (the contract ID on hover).
    func tokenRow(_ token: Token, _ language: Language, _ names: AuditNames) -> [String: Any] {
        [
            "serial": token.serial.rawValue, "kind": t("kind.\(token.kind.rawValue)", language),
            "state": t("state.\(token.state.rawValue)", language), "stateKey": token.state.rawValue,
            "owner": token.contractID.map(names.contractName) ?? t("op.inventory", language),
            "ownerID": token.contractID?.rawValue ?? "", "failures": token.failureCount,
            "updated": Self.dateTime(token.updatedAt),
        ]
    }

    /// The names of the contracts `tokens` belong to.
    func names(of tokens: [Token]) async throws -> AuditNames {
        try await AuditNames.lookUp(tokens.compactMap { $0.contractID?.rawValue }, in: services.repository)
    }

    func tokens(_ request: Request, context: OperatorContext) async throws -> Response {
        let query = request.uri.queryParameters
        let filter = TokenFilter(
            serialPrefix: query.get("serial").map { String($0) }.flatMap { $0.isEmpty ? nil : $0 },
            kind: query.get("kind").flatMap { TokenKind(rawValue: String($0)) },
            state: query.get("state").flatMap { TokenState(rawValue: String($0)) },
            unassignedOnly: query.get("unassigned") == "1")
        let found = try await services.repository.tokens(matching: filter, limit: 200, offset: 0)
        let language = context.page.language
        let names = try await names(of: found)
        return try await screen(
            "op_tokens", context.page, id: "OTK001", titleKey: "otk001.title", request: request,
            [
                "tokens": found.map { tokenRow($0, language, names) }, "hasTokens": !found.isEmpty,
                "serial": filter.serialPrefix ?? "",
                "kinds": TokenKind.allCases.map { ["key": $0.rawValue, "label": t("kind.\($0.rawValue)", language), "selected": $0 == filter.kind] },
                "states": TokenState.allCases.map { ["key": $0.rawValue, "label": t("state.\($0.rawValue)", language), "selected": $0 == filter.state] },
                "unassigned": filter.unassignedOnly,
            ])
    }

    func token(_ request: Request, context: OperatorContext) async throws -> Response {
        let serial = context.parameters.get("serial") ?? ""
        let token: Token
        do {
            token = try await services.operators.token(serial: serial)
        } catch let error as IchigoError where error.code == .tokenNotFound {
            return try await redirectWithError("/operator/tokens", context.page, .tokenNotFound)
        }
        let language = context.page.language
        let holders = try await services.repository.users(holding: token.id)
        let history = try await services.repository.auditRecords(
            matching: AuditFilter(party: token.serial.rawValue), limit: 20)
        let names = try await AuditNames.lookUp(
            history.flatMap { [$0.event.actor, $0.event.subject, $0.event.reason ?? ""] }
                + [token.contractID?.rawValue ?? ""],
            in: services.repository)
        let actions = OperatorTokenActions(for: token)
        return try await screen(
            "op_token", context.page, id: "OTK002", titleKey: "otk002.title", request: request,
            [
                "token": tokenRow(token, language, names),
                "holders": holders.map { ["loginId": $0.loginID.rawValue, "name": $0.name, "role": t("role.\($0.role.rawValue)", language)] },
                "hasHolders": !holders.isEmpty,
                "canUnlock": actions.unlock, "canRevoke": actions.revoke, "canReissue": actions.reissue,
                "canAssign": actions.assign,
                "records": history.map { auditRow($0, names, language) },
            ])
    }

    func tokenAction(_ request: Request, context: OperatorContext) async throws -> Response {
        let page = context.page
        let fields = try await form(request, page)
        let serial = context.parameters.get("serial") ?? ""
        let location = "/operator/tokens/\(serial)"
        let actor = actorPrefix + context.bankOperator.id.rawValue
        let now = services.clock.now()
        return try await handling(location, page, values: ["loginId": fields["loginId"] ?? ""]) {
            switch fields["action"] {
            case "unlock": _ = try await services.operators.apply(.unlock, serial: serial, actor: actor, at: now)
            case "revoke": _ = try await services.operators.apply(.revoke, serial: serial, actor: actor, at: now)
            case "reissue": _ = try await services.operators.apply(.reissue, serial: serial, actor: actor, at: now)
            case "assign":
                let loginID = fields["loginId"] ?? ""
                guard !loginID.isEmpty else { throw ValidationErrors(fields: ["loginId": .required]) }
                _ = try await services.operators.assignHardwareToken(
                    serial: serial, toCustomer: loginID, actor: actor, at: now)
            default: throw IchigoError(.invalidInput, field: "action")
            }
            return try await redirectWithFlash(location, page, "op.done.\(fields["action"] ?? "")")
        }
    }

    // MARK: OUS001–OUS002 customers

    func users(_ request: Request, context: OperatorContext) async throws -> Response {
        let prefix = request.uri.queryParameters.get("loginId").map { String($0) } ?? ""
        let found = prefix.isEmpty ? [] : try await services.repository.users(loginIDPrefix: prefix, limit: 100)
        let language = context.page.language
        return try await screen(
            "op_users", context.page, id: "OUS001", titleKey: "ous001.title", request: request,
            [
                "loginId": prefix, "searched": !prefix.isEmpty, "hasUsers": !found.isEmpty,
                "users": found.map {
                    ["loginId": $0.loginID.rawValue, "name": $0.name, "role": t("role.\($0.role.rawValue)", language), "locked": $0.loginLocked]
                },
            ])
    }

    func user(_ request: Request, context: OperatorContext) async throws -> Response {
        let loginID = context.parameters.get("loginId") ?? ""
        let user: User
        do {
            user = try await services.operators.user(loginID: loginID)
        } catch let error as IchigoError where error.code == .userNotFound {
            return try await redirectWithError("/operator/users", context.page, .userNotFound)
        }
        let language = context.page.language
        let token = try await user.tokenID.asyncFlatMap { try await services.repository.token($0) }
        let contract = try await services.repository.contract(user.contractID)
        let history = try await services.repository.auditRecords(matching: AuditFilter(party: user.id.rawValue), limit: 20)
        let names = try await AuditNames.lookUp(
            history.flatMap { [$0.event.actor, $0.event.subject, $0.event.reason ?? ""] }
                + [token?.contractID?.rawValue ?? ""],
            in: services.repository)
        let passkeys: [[String: Any]] = try await services.passkeys.passkeys(of: user.id).map { passkey in
            [
                "id": passkey.credentialID, "name": passkey.name,
                "model": AuthenticatorNames.name(of: passkey.aaguid) ?? passkey.aaguid,
                "kind": t(passkey.isSynced ? "pk.synced" : "pk.deviceBound", language),
                "registered": Self.dateTime(passkey.createdAt),
                "lastUsed": passkey.lastUsedAt.map(Self.dateTime) ?? t("pk.never", language),
                "suspect": passkey.cloneSuspected, "attestation": passkey.attestation,
            ]
        }
        return try await screen(
            "op_user", context.page, id: "OUS002", titleKey: "ous002.title", request: request,
            [
                "loginId": user.loginID.rawValue, "name": user.name, "role": t("role.\(user.role.rawValue)", language),
                "contract": contract?.name ?? "-", "email": user.email ?? "-", "loginLocked": user.loginLocked,
                "token": token.map { tokenRow($0, language, names) } ?? [:], "hasToken": token != nil,
                "retail": user.role == .customer,
                "canAssign": user.role == .customer && !(token?.state.occupiesUser ?? false),
                "records": history.map { auditRow($0, names, language) }, "passkeys": passkeys,
                "hasPasskeys": !passkeys.isEmpty,
            ])
    }

    func userAction(_ request: Request, context: OperatorContext) async throws -> Response {
        let page = context.page
        let fields = try await form(request, page)
        let loginID = context.parameters.get("loginId") ?? ""
        let location = "/operator/users/\(loginID)"
        let actor = actorPrefix + context.bankOperator.id.rawValue
        let now = services.clock.now()
        return try await handling(
            location, page, values: ["serial": fields["serial"] ?? ""],
            pageErrors: [IchigoError.Code.passkeyNotFound.description]
        ) {
            switch fields["action"] {
            case "unlock-login": _ = try await services.operators.unlockLogin(loginID: loginID, actor: actor, at: now)
            case "remove-passkey", "remove-passkeys":
                // A lost phone: the bank removes one passkey or all of them; the customer is mailed.
                let user = try await services.operators.user(loginID: loginID)
                let ids = fields["action"] == "remove-passkey" ? [fields["credentialID"] ?? ""] : nil
                try await services.passkeys.remove(ids, of: user, actor: actor, byBank: true, at: now)
            case "assign":
                let serial = fields["serial"] ?? ""
                guard !serial.isEmpty else { throw ValidationErrors(fields: ["serial": .required]) }
                _ = try await services.operators.assignHardwareToken(
                    serial: serial, toCustomer: loginID, actor: actor, at: now)
            default: throw IchigoError(.invalidInput, field: "action")
            }
            return try await redirectWithFlash(location, page, "op.done.\(fields["action"] ?? "")")
        }
    }

    // MARK: OAU001 audit trail

    /// An audit record as staff read it: people by login ID and name, contracts by name, tokens by serial, the
    /// action and outcome in words; each internal value stays on hover (`title`).
    func auditRow(_ record: AuditRecord, _ names: AuditNames, _ language: Language) -> [String: Any] {
        let formatter = DateFormatter()
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "yyyy/MM/dd HH:mm:ss"
        let event = record.event
        return [
            "seq": record.sequence, "at": formatter.string(from: event.at),
            "actor": actorName(event.actor, names, language), "actorID": event.actor,
            "action": AuditActions.label(event.action, language) ?? event.action, "actionKey": event.action,
            "subject": names.describe(event.subject), "subjectID": event.subject,
            "outcome": AuditActions.outcome(event.outcome, language), "outcomeKey": event.outcome,
            "reason": names.describe(event.reason ?? "", short: true), "reasonRaw": event.reason ?? "",
        ]
    }

    /// Who acted: a user or operator by login ID and name, an API key by its name, the system and the command line
    /// in words.
    func actorName(_ actor: String, _ names: AuditNames, _ language: Language) -> String {
        let ja = language == .ja
        switch actor {
        case "system": return ja ? "システム" : "System"
        case "cli": return ja ? "管理コマンド（ichigo）" : "Command line (ichigo)"
        case "demo": return ja ? "デモデータ" : "Demo data"
        default:
            if actor.hasPrefix("api:") { return "API（\(actor.dropFirst(4))）" }
            return names.describe(actor)
        }
    }

    func audit(_ request: Request, context: OperatorContext) async throws -> Response {
        let query = request.uri.queryParameters
        func text(_ key: String) -> String { query.get(key).map { String($0) }?.trimmingCharacters(in: .whitespaces) ?? "" }
        let parser = DateFormatter()
        parser.timeZone = Calendar.japan.timeZone
        parser.dateFormat = "yyyy-MM-dd"
        var party = text("party")
        // A login ID or serial typed by the operator is looked up to the ID the trail records.
        if let loginID = LoginID(rawValue: party), let user = try await services.repository.user(loginID: loginID) {
            party = user.id.rawValue
        } else if let serial = SerialNumber(rawValue: party) {
            party = serial.rawValue
        }
        let filter = AuditFilter(
            party: party.isEmpty ? nil : party, action: text("action").isEmpty ? nil : text("action"),
            from: parser.date(from: text("from")), until: parser.date(from: text("until")).map { $0 + 86_400 })
        let records = try await services.repository.auditRecords(matching: filter, limit: 200)
        let names = try await AuditNames.lookUp(records, in: services.repository)
        let language = context.page.language
        // 操作: the actions in words, in a list; an action given by its internal name (a link, the CLI's words)
        // is offered too.
        var actions = AuditActions.all.map { (key: $0.action, label: language == .ja ? $0.ja : $0.en) }
        if !text("action").isEmpty, AuditActions.label(text("action"), language) == nil {
            actions.append((key: text("action"), label: text("action")))
        }
        return try await screen(
            "op_audit", context.page, id: "OAU001", titleKey: "oau001.title", request: request,
            [
                "records": records.map { auditRow($0, names, language) }, "hasRecords": !records.isEmpty,
                "party": text("party"), "from": text("from"), "until": text("until"),
                "actions": actions.map { ["key": $0.key, "label": $0.label, "selected": $0.key == text("action")] },
            ])
    }
}
