import Foundation

/// The languages Ichigo speaks to users: Japanese first, English second.
public enum Language: String, Sendable, Hashable, CaseIterable, Codable {
    case ja
    case en

    /// Picks a language from an `Accept-Language` header value; Japanese unless English comes first.
    public init(acceptLanguage: String?) {
        guard let header = acceptLanguage?.lowercased() else {
            self = .ja
            return
        }
        for part in header.split(separator: ",") {
            let tag = part.split(separator: ";").first.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
            if tag.hasPrefix("ja") {
                self = .ja
                return
            }
            if tag.hasPrefix("en") {
                self = .en
                return
            }
        }
        self = .ja
    }
}

/// User-facing messages for each error code, in Japanese and English (the Keycloak `messages_ja` idea).
public enum Messages {
    private static let table: [String: (ja: String, en: String)] = [
        "request.invalid_input": ("入力内容に誤りがあります。", "The input is not valid."),
        "request.malformed": ("リクエストの形式が正しくありません。", "The request is not well-formed."),
        "request.too_large": ("リクエストが大きすぎます。", "The request is too large."),
        "request.unauthorized": ("認証情報が正しくありません。", "The credentials are not valid."),
        "request.not_found": ("指定されたページは存在しません。", "Not found."),
        "user.not_found": ("利用者が見つかりません。", "User not found."),
        "user.login_id_taken": ("このログインIDは既に使われています。", "This login ID is already in use."),
        "contract.not_found": ("ご契約先が見つかりません。", "Contract not found."),
        "token.not_found": ("トークンが見つかりません。", "Token not found."),
        "token.serial_taken": ("このシリアル番号は既に登録されています。", "This serial number is already registered."),
        "token.already_assigned": (
            "既にトークンが登録されています。", "The user already has a token in use or being issued."
        ),
        "token.none": ("トークンが登録されていません。", "No token is registered."),
        "token.illegal_transition": (
            "現在の登録状況ではこの操作はできません。", "This operation is not allowed in the token's current state."
        ),
        "otp.invalid": ("ワンタイムパスワードが正しくありません。", "The one-time password is not correct."),
        "otp.locked": (
            "ワンタイムパスワードの誤入力が規定回数を超えたため、ワンタイムパスワードが必要なお取引を停止しています。",
            "Too many wrong one-time passwords: transactions that need one are stopped for this token."
        ),
        "otp.not_active": (
            "ワンタイムパスワードは利用中ではありません。", "The one-time password token is not in use."
        ),
        "storage.corrupt": ("システムエラーが発生しました。", "A system error occurred."),
        "storage.concurrent_update": (
            "他の操作と重なりました。もう一度お試しください。", "Another operation interfered. Please try again."
        ),
        "internal": ("システムエラーが発生しました。しばらくしてから再度お試しください。", "A system error occurred. Please try again later."),
    ]

    /// The message for `key` in `language`; a generic text for an unknown key.
    public static func text(_ key: String, in language: Language) -> String {
        guard let entry = table[key] ?? table["internal"] else { return key }
        return language == .ja ? entry.ja : entry.en
    }

    /// The message for an error code.
    public static func text(for code: IchigoError.Code, in language: Language) -> String {
        text(code.description, in: language)
    }

    /// Every key, for tests that check both languages are complete.
    public static var keys: [String] { Array(table.keys) }
}
