import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import NIOCore

/// An error answer for the JSON API: `{"error":{"code":…,"message":…,"field":…}}`.
struct APIErrorBody: Codable {
    struct Detail: Codable {
        var code: String
        var message: String
        var field: String?
        /// For a wrong activation password: how many tries remain before the issuance is void.
        var triesLeft: Int?
    }
    var error: Detail
}

/// Maps every error to one JSON answer: Ichigo's codes to statuses and messages in the caller's language;
/// anything unexpected to a 500 with a generic text, logged in full.
struct ErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    let logger: Logger
    /// Whether session cookies carry `Secure`.
    var secureCookies = false
    /// The router's routes: a path asked with a method it has no route for is 405 with `Allow`, not 404.
    var routes: RouteTable? = nil
    /// `Retry-After` on a 503 (the database unavailable or the disk full): seconds.
    var retryAfter = "5"

    /// Whether the answer for `path` is a page (the screens) rather than JSON.
    static func isHTML(_ path: String) -> Bool {
        !(path.hasPrefix("/api/") || path.hasPrefix("/app/")
            || ["/health", "/ready", "/metrics", "/openapi.json"].contains(path))
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let language = Language(acceptLanguage: request.headers[.acceptLanguage])
        let path = request.uri.path
        let html = Self.isHTML(path)
        do {
            return try await next(request, context)
        } catch let redirect as WebRedirect {
            // A screen of another audience, or no login: to the right login page, keeping the session cookie.
            var response = Response(
                status: .seeOther, headers: [.location: redirect.location, .cacheControl: "no-store"])
            response.setCookie(SessionManager.cookie(for: redirect.page, secure: secureCookies))
            return response
        } catch let error as IchigoError {
            if error.code == .corruptData { logger.error("corrupt data", metadata: ["error": "\(error)"]) }
            if error.code == .serviceUnavailable {
                // Logged at warning and without a stack: the database is down or slow, which its own alerts report.
                logger.warning(
                    "database unavailable: answered 503, nothing of the request was committed",
                    metadata: ["error": "\(error.detail ?? "")", "http.path": "\(path)"])
            }
            let status = Self.status(for: error.code)
            var response: Response
            if html {
                response = Self.htmlResponse(
                    status: status, message: WebMessages.text(for: error.code, in: language), language: language)
            } else {
                let triesLeft = error.triesLeft
                response = Self.response(
                    status: status, code: error.code.description,
                    message: WebMessages.text(for: error.code, in: language), field: error.field, triesLeft: triesLeft)
            }
            if status == .serviceUnavailable { response.headers[.retryAfter] = retryAfter }
            return response
        } catch let error as HTTPError {
            if error.status == .notFound, let allowed = allowedMethods(for: request) {
                var response =
                    html
                    ? Self.htmlResponse(
                        status: .methodNotAllowed, message: Self.methodNotAllowedText(in: language),
                        language: language)
                    : Self.methodNotAllowed(in: language)
                response.headers[.allow] = allowed.map(\.rawValue).joined(separator: ", ")
                return response
            }
            let code: IchigoError.Code =
                switch error.status {
                case .notFound: .notFound
                case .contentTooLarge: .requestTooLarge
                case .unauthorized: .unauthorized
                default: .malformedRequest
                }
            if html {
                return Self.htmlResponse(status: error.status.code >= 500 ? .internalServerError : error.status,
                                         message: WebMessages.text(for: code, in: language), language: language)
            }
            if error.status == .methodNotAllowed { return Self.methodNotAllowed(in: language) }
            return Self.response(
                status: error.status.code >= 500 ? .internalServerError : error.status,
                code: code.description, message: WebMessages.text(for: code, in: language), field: nil)
        } catch {
            logger.error(
                "unexpected error",
                metadata: ["error": "\(String(reflecting: error))", "http.path": "\(request.uri.path)"])
            return Self.response(
                status: .internalServerError, code: "internal", message: WebMessages.text("internal", in: language),
                field: nil)
        }
    }

    /// The methods with a route for the request's path, when there are some and its own method is not one of them.
    private func allowedMethods(for request: Request) -> [HTTPRequest.Method]? {
        guard let methods = routes?.methods(for: request.uri.path), !methods.isEmpty, !methods.contains(request.method)
        else { return nil }
        return methods
    }

    static func methodNotAllowedText(in language: Language) -> String {
        language == .ja ? "このメソッドは使えません。" : "Method not allowed."
    }

    static func methodNotAllowed(in language: Language) -> Response {
        response(
            status: .methodNotAllowed, code: "request.method_not_allowed", message: methodNotAllowedText(in: language),
            field: nil)
    }

    static func status(for code: IchigoError.Code) -> HTTPResponse.Status {
        switch code {
        case .invalidInput, .malformedRequest, .unknownField: .badRequest
        case .requestTooLarge: .contentTooLarge
        case .unsupportedMediaType: .unsupportedMediaType
        case .unauthorized: .unauthorized
        case .notFound, .userNotFound, .contractNotFound, .tokenNotFound: .notFound
        case .loginIDTaken, .serialTaken, .tokenAlreadyAssigned, .illegalTransition, .concurrentUpdate, .noToken,
            .tokenNotActive, .tokenNotRegistrable:
            .conflict
        case .otpInvalid, .otpLastTry, .tokenLocked, .csrfFailed, .loginLocked, .forbidden, .scopeMissing, .loginLastTry,
            .confirmationLastTry:
            .forbidden
        case .apiKeyNameTaken, .accountNumberTaken, .loginNotLocked: .conflict
        case .consentRequired, .required: .badRequest
        case .provisioningNotFound: .notFound
        case .provisioningExpired, .provisioningVoid: .gone
        case .wrongActivationPassword: .forbidden
        case .signatureInvalid, .signatureLastTry: .forbidden
        case .signingUnsupported, .transferChanged, .challengeUsed: .conflict
        case .challengeNotFound: .notFound
        case .challengeExpired: .gone
        case .invalidSignatureFormat: .badRequest
        case .passkeyFailed, .passkeyRequired: .forbidden
        case .passkeyTaken, .passkeyLimit, .passkeyTransactionChanged: .conflict
        case .passkeyNotFound: .notFound
        case .passkeyNameInvalid, .invalidBankCode, .invalidBranchCode, .invalidAccountNumber, .invalidAmount: .badRequest
        case .serviceUnavailable, .storageFull: .serviceUnavailable
        default: .internalServerError
        }
    }

    static func response(
        status: HTTPResponse.Status, code: String, message: String, field: String?, triesLeft: Int? = nil
    ) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(
                byteBuffer: ByteBuffer(
                    bytes: jsonBody(code: code, message: message, field: field, triesLeft: triesLeft))))
    }

    /// The bytes of an error answer. Sorted keys: the same error is the same bytes every time (an unknown user
    /// and a wrong code must be indistinguishable, down to the byte).
    static func jsonBody(code: String, message: String, field: String?, triesLeft: Int? = nil) -> [UInt8] {
        let body = APIErrorBody(error: .init(code: code, message: message, field: field, triesLeft: triesLeft))
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Array((try? encoder.encode(body)) ?? Data("{}".utf8))
    }
}

/// Requires `Authorization: Bearer <api key>` on the JSON API: a key `ichigo apikey create` made (or the
/// adopted `data/api.key`), not revoked. Puts the key in the context, so routes check its scope
/// (`ScopeMiddleware`) and the audit trail names it (`api:<name>`).
struct APIKeyMiddleware<Context: APIRequestContext>: RouterMiddleware {
    let keys: APIKeyService
    let clock: any IchigoClock
    /// Where refused calls are audited (nil: not audited, e.g. `/metrics` scrapes).
    var audit: (any IchigoRepository)? = nil

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let header = request.headers[.authorization] ?? ""
        // The scheme is case-insensitive (RFC 9110 §11.1); one or more spaces before the key.
        let parts = header.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer",
            let key = try await keys.authenticate(
                secret: String(parts[1].trimmingHeaderSpace()), at: clock.now())
        else {
            throw IchigoError(.unauthorized)
        }
        var context = context
        context.apiKey = key
        context.logger[metadataKey: "api.key"] = .string(key.name)
        RequestLog.notes?.apiKeyName = key.name
        guard let audit else { return try await next(request, context) }
        do {
            return try await next(request, context)
        } catch let error as IchigoError
            where !error.code.description.hasPrefix("otp.") && error.code != .serviceUnavailable
            && error.code != .storageFull
        {
            // (A database that cannot store the request cannot store its refusal either.)
            // Every call is in the audit trail with its key: changes and reads by their handlers, refused
            // codes by the token service, and every other refusal (unknown user, conflict, bad input) here.
            try? await audit.append(
                AuditEvent(
                    at: clock.now(), actor: context.actor, action: "api.call",
                    subject: "\(request.method) \(request.uri.path)", outcome: "refused",
                    reason: error.code.description + (error.field.map { " field=\($0)" } ?? "")))
            throw error
        } catch let error as HTTPError {
            try? await audit.append(
                AuditEvent(
                    at: clock.now(), actor: context.actor, action: "api.call",
                    subject: "\(request.method) \(request.uri.path)", outcome: "refused",
                    reason: "http \(error.status.code)"))
            throw error
        }
    }
}

/// Lets a request through only if its API key has `scope` (or `admin`): 403 `request.scope_missing` otherwise
/// (audited by `APIKeyMiddleware` with the key's name: a key used beyond its purpose is worth a look).
struct ScopeMiddleware<Context: APIRequestContext>: RouterMiddleware {
    let scope: APIScope

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        guard let key = context.apiKey else { throw IchigoError(.unauthorized) }
        guard key.allows(scope) else { throw IchigoError(.scopeMissing, detail: scope.rawValue) }
        return try await next(request, context)
    }
}

/// A JSON request body and the fields it may carry: any other field is refused (400 `request.unknown_field`),
/// so a field sent to the wrong operation (a role to the retail customer endpoint) never passes silently.
protocol JSONRequestBody: Decodable {
    static var fields: Set<String> { get }
    /// The body from its top-level string members, for a body of strings only (no `JSONDecoder` on a hot path);
    /// `nil`: decode it with `JSONDecoder`, which also words every error.
    static func fromStrings(_ strings: [String: String]) -> Self?
}

extension JSONRequestBody {
    static func fromStrings(_ strings: [String: String]) -> Self? { nil }
}

extension Request {
    /// Decodes a JSON body of at most the context's upload size, turning every failure into a clear 4xx:
    /// 415 unless the body is declared `application/json` (a cross-site form or `text/plain` "simple request"
    /// never reaches a handler), 400 for non-standard JSON (trailing commas, duplicate keys, comments), unknown
    /// fields and wrong types, 413 over the size limit.
    func decodeJSON<T: JSONRequestBody>(as type: T.Type, context: some RequestContext) async throws -> T {
        let mediaType = headers[.contentType]?.split(separator: ";").first?.trimmingHeaderSpace().lowercased()
        guard mediaType == "application/json" else { throw IchigoError(.unsupportedMediaType) }
        let buffer: ByteBuffer
        do {
            buffer = try await body.collect(upTo: context.maxUploadSize)
        } catch is NIOTooManyBytesError {
            throw IchigoError(.requestTooLarge)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            throw IchigoError(.requestTooLarge)
        } catch {
            // A body cut short or a malformed chunk: not JSON at all.
            throw IchigoError(.malformedRequest, detail: "the body could not be read")
        }
        let bytes = Array(buffer.readableBytesView)
        let object: StrictJSON.Object?
        do {
            object = try StrictJSON.check(bytes)
        } catch {
            throw IchigoError(.malformedRequest, detail: "\(error.reason) at byte \(error.offset)")
        }
        guard let object else { throw IchigoError(.malformedRequest, detail: "the body must be a JSON object") }
        if let unknown = object.keys.first(where: { !T.fields.contains($0) }) {
            throw IchigoError(.unknownField, field: unknown)
        }
        if let body = T.fromStrings(object.strings) { return body }
        do {
            return try JSONDecoder().decode(T.self, from: Data(bytes))
        } catch let DecodingError.keyNotFound(key, _) {
            throw IchigoError(.malformedRequest, field: key.stringValue, detail: "missing")
        } catch let DecodingError.typeMismatch(_, context) {
            throw IchigoError(.malformedRequest, field: context.codingPath.last?.stringValue, detail: "wrong type")
        } catch let DecodingError.valueNotFound(_, context) {
            throw IchigoError(.malformedRequest, field: context.codingPath.last?.stringValue, detail: "null")
        } catch let error as IchigoError {
            throw error
        } catch {
            throw IchigoError(.malformedRequest)
        }
    }
}

extension ErrorMiddleware {
    /// A plain error page for the HTML screens.
    static func htmlResponse(status: HTTPResponse.Status, message: String, language: Language) -> Response {
        let escaped = message.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        let back = language == .ja ? "ログイン画面へ" : "To the login page"
        let html = """
            <!DOCTYPE html><html lang="\(language.rawValue)"><head><meta charset="utf-8"><title>Ichigo</title>
            <link rel="stylesheet" href="/static/ichigo.css"></head><body><main>
            <h1 id="title">\(language == .ja ? "エラー" : "Error")</h1><p class="error" id="page-error">\(escaped)</p>
            <p><a class="button" href="/login">\(back)</a></p></main></body></html>
            """
        return Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// Gives every request an ID: the caller's `X-Request-ID` if it is a plain token (1–64 of `A-Z a-z 0-9 . _ -`),
/// else Hummingbird's own. Echoed in the answer's `X-Request-ID`, attached to every log line written while the
/// request is served (`RequestLog`), and one access line per request: method, path (never the query or the
/// body), status and milliseconds.
struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    static var headerName: HTTPField.Name { HTTPField.Name("X-Request-ID")! }
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let id = request.headers[Self.headerName].flatMap { Self.isAcceptable($0) ? $0 : nil } ?? context.id
        let started = ContinuousClock.now
        let notes = RequestLog.Notes()
        return try await RequestLog.$requestID.withValue(id) { try await RequestLog.$notes.withValue(notes) {
            var response: Response
            do {
                response = try await next(request, context)
            } catch {
                logger.info("request", metadata: ["http.method": "\(request.method.rawValue)", "http.path": "\(request.uri.path)", "http.status": "error"])
                throw error
            }
            response.headers[Self.headerName] = id
            // The request line is logged at info: below that level, build nothing (this runs for every request).
            guard logger.logLevel <= .info else { return response }
            let elapsed = ContinuousClock.now - started
            let millis = Double(elapsed.components.seconds) * 1000 + Double(elapsed.components.attoseconds) / 1e15
            var metadata: Logger.Metadata = [
                "http.method": "\(request.method.rawValue)", "http.path": "\(request.uri.path)",
                "http.status": "\(response.status.code)", "duration_ms": "\(String(format: "%.2f", millis))",
            ]
            if let name = notes.apiKeyName { metadata["api.key"] = .string(name) }
            logger.info("request", metadata: metadata)
            return response
        } }
    }

    static func isAcceptable(_ id: String) -> Bool {
        (1...64).contains(id.utf8.count)
            && id.utf8.allSatisfy {
                ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x2E
                    || $0 == 0x5F || $0 == 0x2D
            }
    }
}

extension Substring {
    /// Without the spaces and tabs around it (a header value's optional white space, RFC 9110 §5.6.3). Foundation's
    /// `trimmingCharacters(in:)` bridges through `NSString`, which cost two of these per API request.
    func trimmingHeaderSpace() -> Substring {
        let isSpace: (Character) -> Bool = { $0 == " " || $0 == "\t" }
        guard let first = firstIndex(where: { !isSpace($0) }), let last = lastIndex(where: { !isSpace($0) }) else {
            return self[endIndex...]
        }
        return self[first...last]
    }
}
