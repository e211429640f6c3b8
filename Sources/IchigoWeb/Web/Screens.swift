import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import NIOCore

/// What every controller of HTML screens shares: rendering a screen with the common frame (screen ID, title,
/// step bar, errors, language switch, the audience's menu), post-redirect-get, and CSRF checks.
protocol ScreenController: Sendable {
    var services: IchigoServices { get }
    var sessions: SessionManager { get }
    var renderer: Renderer { get }
}

extension ScreenController {
    func t(_ key: String, _ language: Language) -> String {
        if let entry = Strings.table[key] { return language == .ja ? entry.ja : entry.en }
        return WebMessages.text(key, in: language)
    }

    /// A message for `audience`'s screens: the corporate screens use seed 002's words where they differ from the
    /// retail seeds' (確認パスワード, not 確認用パスワード), kept as `corp.<key>`.
    func message(_ key: String, for audience: Audience?, _ language: Language) -> String {
        if audience == .corporateUser || audience == .corporateAdmin, Strings.table["corp.\(key)"] != nil {
            return t("corp.\(key)", language)
        }
        return t(key, language)
    }

    /// Renders a screen with the common context (strings, CSRF token, language switch, step bar, errors).
    ///
    /// - Parameters:
    ///   - steps: the key of a step bar (`steps.<key>.1`, `.2`, … in `Strings`), and `step` the current one.
    func screen(
        _ template: String, _ page: WebPage, id: String, titleKey: String, request: Request,
        steps: String? = nil, step: Int = 0, _ extra: [String: Any] = [:], status: HTTPResponse.Status = .ok
    ) async throws -> Response {
        var page = page
        let language = page.language
        let audience = page.session.stage == .authenticated ? page.data.audience : nil
        var context: [String: Any] = [
            "t": Strings.dictionary(for: language), "lang": language.rawValue, "csrf": page.session.csrfToken,
            "screenID": id, "title": t(titleKey, language), "loggedIn": audience != nil,
            "userName": page.user?.name ?? page.bankOperator?.name ?? "",
            "langSwitchURL": "/lang?to=\(language == .ja ? "en" : "ja")&back=\(request.uri.path)",
        ]
        switch audience {
        case .retail?: context["navRetail"] = true
        case .corporateUser?:
            // The menu offers what the user may do; the screens behind it refuse the rest all the same.
            context["navCorporate"] = true
            let grants = (page.data.grants ?? .empty).intersection(page.user?.permissions ?? .empty)
            context["navTransfer"] = grants.authorities.contains(.transfer)
            context["navApprovals"] = grants.authorities.contains(.transferApproval)
        case .corporateAdmin?: context["navAdmin"] = true
        case .bankOperator?: context["navOperator"] = true
        case nil: break
        }
        if let steps {
            let count = (1...9).prefix { Strings.table["steps.\(steps).\($0)"] != nil }.count
            context["hasSteps"] = true
            context["steps"] = (1...max(count, 1)).map {
                ["label": t("steps.\(steps).\($0)", language), "current": $0 == step]
            }
        }
        // One-shot values from a failed POST.
        if let errors = page.data.formErrors, !errors.isEmpty {
            context["errors"] = errors.mapValues { message($0, for: page.data.audience, language) }
            context["hasFieldErrors"] = true
        }
        context["values"] = page.data.formValues ?? [:]
        if let error = page.data.pageError { context["pageError"] = message(error, for: page.data.audience, language) }
        if let flash = page.session.flash { context["flash"] = t(flash, language) }
        // Between the password and the OTP with a stopped token: no code can get through, so the page says what
        // happened and whom to ask instead of offering the code field again.
        if page.session.stage == .awaitingOTP, let tokenID = page.user?.tokenID,
            try await services.repository.token(tokenID)?.state == .locked
        {
            context["otpStopped"] = true
            context["bankContact"] = services.bankContact
            if context["pageError"] == nil {
                context["pageError"] = t(page.data.audience == .retail ? "otp.locked" : "corp.stopped", language)
            }
        }
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

    /// Back to `location` with a one-line message at the top of the page.
    func redirectWithFlash(_ location: String, _ page: WebPage, _ key: String) async throws -> Response {
        var page = page
        page.session.flash = key
        return try await redirect(location, page)
    }

    func checkCSRF(_ fields: [String: String], _ page: WebPage) throws {
        guard let token = fields["_csrf"], constantTimeEqual(token, page.session.csrfToken) else {
            throw IchigoError(.csrfFailed)
        }
    }

    /// Parses a form and checks its CSRF token against the session.
    func form(_ request: Request, _ page: WebPage) async throws -> [String: String] {
        let fields = try await request.formFields()
        try checkCSRF(fields, page)
        return fields
    }

    /// Runs a form action; field errors and the listed page errors go back to `location` (keeping `values`).
    func handling(
        _ location: String, _ page: WebPage, values: [String: String] = [:],
        pageErrors: Set<String> = [], _ body: () async throws -> Response
    ) async throws -> Response {
        do {
            return try await body()
        } catch let errors as ValidationErrors {
            return try await redirectWithErrors(location, page, errors: errors.fields, values: values)
        } catch let error as IchigoError where error.field != nil {
            return try await redirectWithErrors(location, page, errors: [error.field!: error.code], values: values)
        } catch let error as IchigoError where pageErrors.contains(error.code.description) || Self.pageLevel.contains(error.code) {
            return try await redirectWithError(location, page, error.code)
        }
    }

    /// Errors shown at the top of the form they came from.
    static var pageLevel: Set<IchigoError.Code> {
        [
            .tokenLocked, .tokenRequired, .tokenNotActive, .forbidden, .overLimit, .transferNotPending, .selfApproval,
            .insufficientFunds, .noToken, .illegalTransition, .concurrentUpdate, .tokenAlreadyAssigned,
            .tokenNotRegistrable, .userNotFound, .tokenNotFound, .loginIDTaken, .invalidInput,
        ]
    }

    static func yen(_ amount: Int64) -> String {
        let formatter = NumberFormatter()
        formatter.numberStyle = .decimal
        formatter.groupingSeparator = ","
        formatter.usesGroupingSeparator = true
        return formatter.string(from: NSNumber(value: amount)) ?? String(amount)
    }

    static func dateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "yyyy/MM/dd HH:mm"
        return formatter.string(from: date)
    }
}

extension Dictionary where Key == String, Value == String {
    /// The suffixes of the checked checkboxes named `<prefix><suffix>` (e.g. `user_U12…`).
    func checked(prefix: String) -> [String] {
        keys.filter { $0.hasPrefix(prefix) && !(self[$0] ?? "").isEmpty }.map { String($0.dropFirst(prefix.count)) }
            .sorted()
    }
}
