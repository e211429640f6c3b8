import Ichigo

/// The error codes only the web layer raises: a request that is malformed, too large or of the wrong type, API
/// credentials and scopes, an expired session and a wrong CSRF token. The domain's codes are `IchigoError.Code`'s own.
extension IchigoError.Code {
    /// A request body that is not valid JSON of the expected shape.
    public static let malformedRequest = IchigoError.Code("request.malformed")
    /// A request body over the size limit.
    public static let requestTooLarge = IchigoError.Code("request.too_large")
    /// A request body that is not `application/json` where JSON is expected.
    public static let unsupportedMediaType = IchigoError.Code("request.unsupported_media_type")
    /// A JSON field the operation does not take (unknown, or not allowed here); `field` names it.
    public static let unknownField = IchigoError.Code("request.unknown_field")
    /// A URL path or header too long for the server.
    public static let requestHeaderTooLarge = IchigoError.Code("request.header_too_large")
    /// Missing or wrong API credentials.
    public static let unauthorized = IchigoError.Code("request.unauthorized")
    /// The session expired (5 minutes idle) or does not exist.
    public static let sessionExpired = IchigoError.Code("session.expired")
    /// The form's CSRF token is missing or wrong.
    public static let csrfFailed = IchigoError.Code("session.csrf")
    /// The API key is valid but lacks the scope this operation needs.
    public static let scopeMissing = IchigoError.Code("request.scope_missing")
}

/// The texts of the web layer's own codes, in Japanese and English; every other code's text is the domain's
/// (`Messages`).
public enum WebMessages {
    private static let table: [String: (ja: String, en: String)] = [
        "request.malformed": ("リクエストの形式が正しくありません。", "The request is not well-formed."),
        "request.too_large": ("リクエストが大きすぎます。", "The request is too large."),
        "request.unsupported_media_type": (
            "Content-Type は application/json を指定して下さい。", "The body must be sent as Content-Type: application/json."
        ),
        "request.unknown_field": (
            "この操作では指定できない項目が含まれています。", "The request contains a field this operation does not take."
        ),
        "request.header_too_large": ("URLまたはヘッダが長すぎます。", "The URL or a header is too long."),
        "request.unauthorized": ("認証情報が正しくありません。", "The credentials are not valid."),
        "session.expired": (
            "一定時間操作がなかったため、ログアウトしました。再度ログインしてください。",
            "You were logged out after a period of inactivity. Please log in again."
        ),
        "session.csrf": (
            "画面の操作が正しくありません。最初からやり直してください。",
            "The page was submitted out of sequence. Please start again."
        ),
        "request.scope_missing": (
            "このAPIキーにはこの操作の権限がありません。", "This API key is not allowed to do this operation."
        ),
    ]

    /// The message for `key` in `language`: the web layer's own, else the domain's.
    public static func text(_ key: String, in language: Language) -> String {
        guard let entry = table[key] else { return Messages.text(key, in: language) }
        return language == .ja ? entry.ja : entry.en
    }

    /// The message for an error code.
    public static func text(for code: IchigoError.Code, in language: Language) -> String {
        text(code.description, in: language)
    }

    /// The web layer's own keys, for tests that check both languages are complete.
    public static var keys: [String] { Array(table.keys) }
}
