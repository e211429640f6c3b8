import Foundation
import Hummingbird
import Ichigo
import WebAuthn

/// Where one audience's passkey screens live and what they are called.
struct PasskeyPlace: Sendable {
    let audience: Audience
    /// `/passkeys`, `/corp/passkeys`, `/corp/admin/passkeys`.
    let base: String
    /// The audience's top page.
    let home: String
    /// Screen IDs: list, step-up, create.
    let screens: (list: String, stepUp: String, create: String)

    static let retail = PasskeyPlace(
        audience: .retail, base: "/passkeys", home: "/top", screens: ("BPK001", "BPK002", "BPK003"))
    static let corporateUser = PasskeyPlace(
        audience: .corporateUser, base: "/corp/passkeys", home: "/corp/top", screens: ("HPK001", "HPK002", "HPK003"))
    static let corporateAdmin = PasskeyPlace(
        audience: .corporateAdmin, base: "/corp/admin/passkeys", home: "/corp/admin",
        screens: ("HPK001", "HPK002", "HPK003"))
}

/// The session binding of a passkey challenge: the hash of the session ID (a challenge made for one browser session
/// is refused in every other).
extension WebPage {
    var passkeyBinding: String { "session:" + session.idHash }
}

/// Options as the page embeds them: JSON with `<`, `>` and `&` escaped, so no text in it can close the script element.
func passkeyOptionsJSON(_ value: some Encodable) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = .sortedKeys
    let text = String(decoding: try encoder.encode(value), as: UTF8.self)
    return text.replacingOccurrences(of: "<", with: "\\u003c").replacingOccurrences(of: ">", with: "\\u003e")
        .replacingOccurrences(of: "&", with: "\\u0026")
}

/// The credential a passkey form posted (the browser's answer as JSON), or `nil` if it is not that shape.
func postedCredential<T: Decodable>(_ fields: [String: String], as type: T.Type) -> T? {
    guard let text = fields["credential"], !text.isEmpty, text.utf8.count <= 32 * 1024 else { return nil }
    return try? JSONDecoder().decode(T.self, from: Data(text.utf8))
}

/// パスキーの管理 for one audience: the list (BPK001/HPK001), the step-up (BPK002/HPK002: confirmation password and
/// OTP, or a mail notification password), registration (BPK003/HPK003), rename and removal.
struct PasskeyScreens<Context: AuthenticatedWebContext>: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer
    let place: PasskeyPlace

    /// A step-up is good for this long: the registration must follow.
    static var stepUpLifetime: TimeInterval { 300 }

    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        let group = web.group(context: Context.self)
        let base = place.base
        group.get(RouterPath(stringLiteral: base)) { request, context in try await self.list(request, context) }
        group.get(RouterPath(stringLiteral: base + "/register")) { request, context in try await self.stepUpPage(request, context) }
        group.post(RouterPath(stringLiteral: base + "/register")) { request, context in try await self.stepUp(request, context) }
        group.post(RouterPath(stringLiteral: base + "/register/mail")) { request, context in try await self.sendMail(request, context) }
        group.get(RouterPath(stringLiteral: base + "/register/device")) { request, context in try await self.createPage(request, context) }
        group.post(RouterPath(stringLiteral: base + "/register/finish")) { request, context in try await self.finish(request, context) }
        group.post(RouterPath(stringLiteral: base + "/rename")) { request, context in try await self.rename(request, context) }
        group.post(RouterPath(stringLiteral: base + "/delete")) { request, context in try await self.delete(request, context) }
    }

    func list(_ request: Request, _ context: Context) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let language = page.language
        let passkeys = try await services.passkeys.passkeys(of: user.id)
        let rows: [[String: Any]] = passkeys.map { passkey in
            [
                "id": passkey.credentialID, "name": passkey.name,
                "model": AuthenticatorNames.name(of: passkey.aaguid) ?? t("pk.unknownModel", language),
                "kind": t(passkey.isSynced ? "pk.synced" : "pk.deviceBound", language),
                "registered": Self.dateTime(passkey.createdAt),
                "lastUsed": passkey.lastUsedAt.map(Self.dateTime) ?? t("pk.never", language),
                "suspect": passkey.cloneSuspected,
            ]
        }
        return try await screen(
            "passkeys", page, id: place.screens.list, titleKey: "pk.title", request: request,
            [
                "base": place.base, "home": place.home, "passkeys": rows, "hasPasskeys": !rows.isEmpty,
                "count": String(rows.count), "canRegister": rows.count < services.passkeys.policy.maxPerUser,
                "policyRequired": services.passkeys.policy.login == .requiredOnceRegistered,
            ])
    }

    func stepUpPage(_ request: Request, _ context: Context) async throws -> Response {
        let (page, user) = (context.page, context.user)
        guard try await services.passkeys.mayRegisterAnother(user.id) else {
            return try await redirectWithError(place.base, page, .passkeyLimit)
        }
        let useOTP = try await services.passkeys.stepUpUsesOTP(user)
        let mailSent = page.data.passkeyMail.map { services.clock.now() < $0.expiresAt } ?? false
        return try await screen(
            "passkey_stepup", page, id: place.screens.stepUp, titleKey: "pk.stepUp.title", request: request,
            steps: "pk", step: 1,
            ["base": place.base, "useOTP": useOTP, "mailSent": mailSent, "showForm": useOTP || mailSent])
    }

    func sendMail(_ request: Request, _ context: Context) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        _ = try await form(request, loaded)
        var page = loaded
        do {
            page.data.passkeyMail = try await services.passkeys.sendStepUpMailPassword(to: user, at: services.clock.now())
        } catch let error as IchigoError where error.code == .noRegisteredEmail {
            return try await redirectWithError(place.base + "/register", page, error.code)
        }
        return try await redirect(place.base + "/register", page)
    }

    func stepUp(_ request: Request, _ context: Context) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        var mail = page.data.passkeyMail
        let now = services.clock.now()
        do {
            try await services.passkeys.stepUp(
                user, confirmationPassword: fields["confirmationPassword"] ?? "", otp: fields["otp"] ?? "",
                mailPassword: fields["mailPassword"] ?? "", mailChallenge: &mail, at: now)
        } catch {
            page.data.passkeyMail = mail
            return try await handling(
                place.base + "/register", page,
                pageErrors: [IchigoError.Code.mailPasswordExpired.description, IchigoError.Code.noRegisteredEmail.description]
            ) { throw error }
        }
        page.data.passkeyMail = nil
        page.data.passkeyStepUpAt = now
        return try await redirect(place.base + "/register/device", page)
    }

    /// Whether the session passed the step-up within its lifetime.
    func steppedUp(_ page: WebPage) -> Bool {
        guard let at = page.data.passkeyStepUpAt else { return false }
        let age = services.clock.now().timeIntervalSince(at)
        return age >= 0 && age < Self.stepUpLifetime
    }

    func createPage(_ request: Request, _ context: Context) async throws -> Response {
        let (page, user) = (context.page, context.user)
        guard steppedUp(page) else { return try await redirect(place.base + "/register", page) }
        let options: PasskeyCreationOptions
        do {
            options = try await services.passkeys.registrationOptions(
                for: user, binding: page.passkeyBinding, at: services.clock.now())
        } catch let error as IchigoError where error.code == .passkeyLimit {
            return try await redirectWithError(place.base, page, error.code)
        }
        return try await screen(
            "passkey_create", page, id: place.screens.create, titleKey: "pk.create.title", request: request,
            steps: "pk", step: 2, ["base": place.base, "options": try passkeyOptionsJSON(options)])
    }

    func finish(_ request: Request, _ context: Context) async throws -> Response {
        let (loaded, user) = (context.page, context.user)
        let fields = try await form(request, loaded)
        var page = loaded
        guard steppedUp(page) else { return try await redirect(place.base + "/register", page) }
        let name = fields["name"] ?? ""
        guard let credential = postedCredential(fields, as: PasskeyRegistrationJSON.self) else {
            page.data.pageError = IchigoError.Code.passkeyFailed.description
            page.data.formValues = ["name": name]
            return try await redirect(place.base + "/register/device", page)
        }
        do {
            try await services.passkeys.register(
                credential, name: name, for: user, binding: page.passkeyBinding, at: services.clock.now())
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors(
                place.base + "/register/device", page, errors: [error.field!: error.code], values: ["name": name])
        } catch let error as IchigoError
            where [.passkeyFailed, .passkeyTaken].contains(error.code)
        {
            page.data.pageError = error.code.description
            page.data.formValues = ["name": name]
            return try await redirect(place.base + "/register/device", page)
        } catch let error as IchigoError where error.code == .passkeyLimit {
            page.data.passkeyStepUpAt = nil
            return try await redirectWithError(place.base, page, error.code)
        }
        page.data.passkeyStepUpAt = nil
        return try await redirectWithFlash(place.base, page, "pk.done.registered")
    }

    func rename(_ request: Request, _ context: Context) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let fields = try await form(request, page)
        return try await handling(place.base, page, pageErrors: [IchigoError.Code.passkeyNotFound.description]) {
            try await services.passkeys.rename(
                fields["credentialID"] ?? "", to: fields["name"] ?? "", by: user, at: services.clock.now())
            return try await redirectWithFlash(place.base, page, "pk.done.renamed")
        }
    }

    func delete(_ request: Request, _ context: Context) async throws -> Response {
        let (page, user) = (context.page, context.user)
        let fields = try await form(request, page)
        return try await handling(place.base, page, pageErrors: [IchigoError.Code.passkeyNotFound.description]) {
            try await services.passkeys.remove(fields["credentialID"] ?? "", by: user, at: services.clock.now())
            return try await redirectWithFlash(place.base, page, "pk.done.removed")
        }
    }
}
