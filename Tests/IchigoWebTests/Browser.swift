import Foundation
import HTTPTypes
import HummingbirdTesting
import NIOCore
import Testing

/// A minimal browser over the in-process test client: keeps the session cookie, follows 303 redirects,
/// reads the CSRF token, screen ID, errors and flash from each page.
final class Browser: @unchecked Sendable {
    let client: any TestClientProtocol
    var cookie: String?
    var language: String?
    private(set) var page = ""
    private(set) var path = ""
    private(set) var status: HTTPResponse.Status = .ok

    init(client: any TestClientProtocol) { self.client = client }

    @discardableResult
    func get(_ uri: String) async throws -> Browser {
        try await send(uri, method: .get, body: nil)
    }

    /// Posts a form from the current page, adding its CSRF token unless `csrf` is given.
    @discardableResult
    func post(_ uri: String, _ fields: [String: String], csrf: String? = nil) async throws -> Browser {
        var all = fields
        all["_csrf"] = csrf ?? csrfToken ?? ""
        let body = all.map { "\(Self.encode($0.key))=\(Self.encode($0.value))" }.joined(separator: "&")
        return try await send(uri, method: .post, body: body)
    }

    static func encode(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? text
    }

    private func send(_ uri: String, method: HTTPRequest.Method, body: String?) async throws -> Browser {
        var headers: HTTPFields = [:]
        if let cookie { headers[.cookie] = cookie }
        if let language { headers[.acceptLanguage] = language }
        if body != nil { headers[.contentType] = "application/x-www-form-urlencoded" }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
        if let setCookie = response.headers[.setCookie], let pair = setCookie.split(separator: ";").first {
            cookie = String(pair)
        }
        status = response.status
        path = uri
        if response.status == .seeOther, let location = response.headers[.location] {
            return try await send(location, method: .get, body: nil)
        }
        page = String(buffer: response.body)
        return self
    }

    func first(_ pattern: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
            let match = regex.firstMatch(in: page, range: NSRange(page.startIndex..., in: page)),
            match.numberOfRanges > 1, let range = Range(match.range(at: 1), in: page)
        else { return nil }
        return String(page[range])
    }

    var csrfToken: String? { first(#"name="_csrf" value="([^"]*)""#) }
    var screenID: String? { first(#"id="screen-id">([A-Z0-9]+)<"#) }
    var title: String? { first(#"<h1 id="title">([^<]*)<"#) }
    var pageError: String? { first(#"id="page-error"[^>]*>([^<]*)<"#) }
    var flash: String? { first(#"id="flash">([^<]*)<"#) }
    func fieldError(_ field: String) -> String? { first(#"id="\#(field)-error">([^<]*)<"#) }
    func text(of id: String) -> String? { first(#"id="\#(id)"[^>]*>([^<]*)<"#) }
    func value(of id: String) -> String? { first(#"id="\#(id)" name="[^"]*" value="([^"]*)""#) }
    func has(_ text: String) -> Bool { page.contains(text) }
}
