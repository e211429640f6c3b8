import Foundation
import Hummingbird
import Ichigo
import NIOCore

/// A login page and its OTP page for one audience (retail, corporate users, corporate administrators): login ID
/// and password, then the OTP when the user's token is in use or stopped. Each audience's page admits only its
/// own users; a new session ID is issued at each step.
struct LoginController: ScreenController {
    let services: IchigoServices
    let sessions: SessionManager
    let renderer: Renderer
    let audience: Audience
    let loginScreen: String
    let otpScreen: String
    let titleKey: String

    var loginAudience: LoginAudience {
        switch audience {
        case .retail, .bankOperator: .retail
        case .corporateUser: .corporateUser
        case .corporateAdmin: .corporateAdmin
        }
    }

    var loginPath: String { audience.loginPath }
    var otpPath: String { loginPath + "/otp" }

    func addRoutes(to web: RouterGroup<IchigoRequestContext>) {
        web.get(RouterPath(stringLiteral: loginPath)) { request, context in try await self.loginPage(request, context) }
        web.post(RouterPath(stringLiteral: loginPath)) { request, context in try await self.login(request, context) }
        web.get(RouterPath(stringLiteral: otpPath)) { request, context in try await self.otpPage(request, context) }
        web.post(RouterPath(stringLiteral: otpPath)) { request, context in try await self.otp(request, context) }
        web.post(RouterPath(stringLiteral: passkeyPath)) { request, context in try await self.passkey(request, context) }
    }

    var passkeyPath: String { loginPath + "/passkey" }

    /// Where a user of this audience lands after logging in.
    func home(for user: User) async throws -> String {
        switch audience {
        case .retail, .bankOperator: return "/top"
        case .corporateAdmin: return "/corp/admin"
        case .corporateUser:
            // Seed 002 §1: a user with OTP work and no token is asked to register one first.
            return try await services.corporate.needsSelfRegistration(user) ? "/corp/otp/register" : "/corp/top"
        }
    }

    func loginPage(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        let page = try context.session()
        if page.isAuthenticated, page.data.audience == audience, let user = page.user {
            return try await redirect(try await home(for: user), page)
        }
        // パスキーでログイン: a challenge for this session, usable once, by the button or the browser's autofill.
        let options = try await services.passkeys.loginOptions(
            for: loginAudience, binding: page.passkeyBinding, at: services.clock.now())
        return try await screen(
            "login", page, id: loginScreen, titleKey: titleKey, request: request,
            [
                "action": loginPath, "corporate": audience != .retail, "admin": audience == .corporateAdmin,
                "passkey": ["action": passkeyPath, "options": try passkeyOptionsJSON(options)],
            ])
    }

    /// パスキーでログイン: the assertion stands for the login password and the OTP. A refusal goes back to the login
    /// page with one message (the audit trail says why); the password login stays there.
    func passkey(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        var page = try context.session()
        let fields = try await form(request, page)
        let user: User
        do {
            guard let credential = postedCredential(fields, as: PasskeyAssertionJSON.self) else {
                throw IchigoError(.passkeyFailed)
            }
            (user, _) = try await services.passkeys.login(
                credential, as: loginAudience, binding: page.passkeyBinding, at: services.clock.now())
        } catch let error as IchigoError where error.code == .passkeyFailed || error.code == .loginLocked {
            page.data.pageError = error.code.description
            return try await redirect(loginPath, page)
        }
        return try await complete(&page, user: user)
    }

    func login(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        var page = try context.session()
        let fields = try await form(request, page)
        let loginID = fields["loginId"] ?? ""
        let now = services.clock.now()
        let user: User
        do {
            user = try await services.credentials.authenticate(
                loginID: loginID, password: fields["password"] ?? "", as: loginAudience, at: now)
        } catch let error as IchigoError
            where error.code == .loginFailed || error.code == .loginLocked || error.code == .loginLastTry
        {
            page.data.pageError = error.code.description
            page.data.formValues = ["loginId": loginID]
            return try await redirect(loginPath, page)
        }
        // Bank policy `passkey.login = required-once-registered`: a customer with a passkey signs in with it only, so
        // a phished password and code are worthless.
        do {
            try await services.passkeys.requirePasswordLoginAllowed(user, at: now)
        } catch let error as IchigoError where error.code == .passkeyRequired {
            page.data.pageError = IchigoError.Code.passkeyRequired.description
            page.data.formValues = ["loginId": loginID]
            return try await redirect(loginPath, page)
        }
        if try await services.credentials.loginNeedsOTP(user) {
            try await sessions.renew(&page, user: user, stage: .awaitingOTP, audience: audience)
            return try await redirect(otpPath, page)
        }
        return try await complete(&page, user: user)
    }

    /// Ends the login: a new session ID, and a corporate user's permissions as of now.
    func complete(_ page: inout WebPage, user: User) async throws -> Response {
        try await sessions.renew(&page, user: user, stage: .authenticated, audience: audience)
        if audience == .corporateUser { page.data.grants = user.permissions }
        return try await redirect(try await home(for: user), page)
    }

    func otpPage(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        let page = try context.session()
        guard page.session.stage == .awaitingOTP, page.user != nil, page.data.audience == audience else {
            return try await redirect(loginPath, page)
        }
        return try await screen(
            "login_otp", page, id: otpScreen, titleKey: "otpLogin.title", request: request,
            ["action": otpPath, "corporate": audience != .retail])
    }

    func otp(_ request: Request, _ context: IchigoRequestContext) async throws -> Response {
        var page = try context.session()
        guard page.session.stage == .awaitingOTP, let user = page.user, page.data.audience == audience else {
            return try await redirect(loginPath, page)
        }
        let fields = try await form(request, page)
        do {
            try await services.credentials.verifyOTP(fields["otp"] ?? "", for: user, at: services.clock.now())
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors(otpPath, page, errors: errors.fields)
        } catch let error as IchigoError where error.field == "otp" {
            if error.code == .tokenLocked {
                // Stopped: a corporate user is told that every sharer is stopped and whom to ask.
                page.data.pageError = audience == .retail ? error.code.description : "corp.stopped"
                return try await redirect(otpPath, page)
            }
            return try await redirectWithErrors(otpPath, page, errors: ["otp": error.code])
        }
        return try await complete(&page, user: user)
    }

    /// ログアウト for every audience: ends the session and shows that audience's login page.
    static func logout(_ controller: some ScreenController, _ request: Request, _ context: IchigoRequestContext)
        async throws -> Response
    {
        let page = try context.session()
        _ = try await controller.form(request, page)
        let services = controller.services
        let now = services.clock.now()
        if let user = page.user {
            try await services.credentials.recordLogout(of: user, at: now)
        } else if let bankOperator = page.bankOperator {
            try await services.operators.recordLogout(of: bankOperator, at: now)
        }
        let destination = (page.data.audience ?? .retail).loginPath
        try await controller.sessions.destroy(page)
        var fresh = try await controller.sessions.start(language: page.language, at: now)
        fresh.session.flash = "login.bye"
        return try await controller.redirect(destination, fresh)
    }
}
