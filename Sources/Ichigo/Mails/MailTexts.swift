import Foundation

/// The mails Ichigo sends to customers and staff, one key each (the keys of `MailTexts`).
public enum MailKey: String, Sendable, Hashable, CaseIterable {
    /// BOT001: the メール通知パスワード for a token issuance, to the registered address.
    case issuanceMailPassword = "retail.issuance_mail_password"
    /// BOT002 → BOT003: service ID and user ID for the app, to the smartphone address.
    case tokenIssued = "retail.token_issued"
    /// BOK001 → BOK002: the retail customer's token is in use.
    case useStarted = "retail.use_started"
    /// HTS003 / HOR001: a corporate user's token is registered.
    case corporateRegistered = "corporate.registered"
    /// A mail notification password for the identity check before registering a passkey.
    case passkeyStepUpPassword = "passkey.stepup_password"
    /// A passkey was registered.
    case passkeyRegistered = "passkey.registered"
    /// One or more passkeys were removed, by the customer or by the bank.
    case passkeyRemoved = "passkey.removed"
    /// The user's token locked after too many wrong codes.
    case tokenLocked = "lock.token"
    /// To a contract's master user and administrators: one of the contract's tokens locked.
    case tokenLockedAdmin = "lock.token_admin"
    /// The user's login stopped after too many wrong passwords.
    case loginLocked = "lock.login"
    /// To a contract's master user and administrators: one of the contract's users' login stopped.
    case loginLockedAdmin = "lock.login_admin"
}

/// The texts of the mails customers and staff get, in Japanese and English, keyed like the screens' `Messages`.
///
/// Each mail (`MailKey`) has a subject and a body in each language. A text names what varies in it with
/// placeholders in braces — `{name}`, `{bank}`, `{dateTime}` — which `fill(_:with:)` replaces with the values a
/// `Mail` gives for that language; a placeholder with no value is left as it is (the tests check none is).
/// The Japanese texts are the seeds' wording; the mails go out in Japanese unless told otherwise.
public enum MailTexts {
    /// One mail's texts in one language.
    public struct Text: Sendable, Hashable {
        public var subject: String
        public var body: String
    }

    // Line breaks are the mails' own: each body is one multi-line literal, left edge at the closing quotes.
    static let mails: [MailKey: (ja: Text, en: Text)] = [
        .issuanceMailPassword: (
            Text(
                subject: "【{bank}】メール通知パスワードのお知らせ",
                body: """
                    {name} 様

                    ワンタイムパスワードのトークン発行のお申込みを受け付けました。
                    トークン発行（ソフトウェアトークン発行情報入力内容確認）画面で、次のメール通知パスワードを入力してください。

                    メール通知パスワード: {code}
                    有効期限: 送信から{minutes}分間

                    送信日時: {dateTime}

                    このメールにお心当たりのない場合は、お手数ですが当行までご連絡ください。
                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your mail notification password",
                body: """
                    Dear {name},

                    We have received your application for a one-time password token.
                    On the token issuance screen (confirmation of your software token application), enter the following mail notification password.

                    Mail notification password: {code}
                    Valid for: {minutes} minutes from the time this mail was sent

                    Sent: {dateTime}

                    If you did not make this application, please contact us.
                    {bank}
                    """)
        ),
        .tokenIssued: (
            Text(
                subject: "【{bank}】ワンタイムパスワード トークン発行のご案内",
                body: """
                    ワンタイムパスワード（ソフトウェアトークン）を発行しました。
                    下記のダウンロードURLからワンタイムパスワードアプリをダウンロードし、初期設定を行ってください。

                    ダウンロードURL: {url}
                    サービスID: {serviceID}
                    ユーザID: {appUserID}

                    初期設定には、サービスID・ユーザID と、トークン発行申請時にご登録いただいた利用開始パスワードが必要です。
                    （利用開始パスワードはこのメールには記載しておりません。）

                    送信日時: {dateTime}
                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your one-time password token has been issued",
                body: """
                    Your one-time password token (software token) has been issued.
                    Please download the one-time password app from the download URL below and set it up.

                    Download URL: {url}
                    Service ID: {serviceID}
                    User ID: {appUserID}

                    To set up the app, you need the service ID and user ID above and the activation password you chose when you applied for the token.
                    (For your security, the activation password is not included in this mail.)

                    Sent: {dateTime}
                    {bank}
                    """)
        ),
        .useStarted: (
            Text(
                subject: "【{bank}】利用開始登録完了のご案内",
                body: """
                    {name} 様

                    ワンタイムパスワードの利用開始登録を受け付けました。
                    次回のログインから、ログインID・ログインパスワードに加えてワンタイムパスワードの入力が必要になります。

                    送信日時: {dateTime}
                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your one-time password is now in use",
                body: """
                    Dear {name},

                    We have registered the start of use of your one-time password.
                    From your next login, you will need to enter a one-time password in addition to your login ID and login password.

                    Sent: {dateTime}
                    {bank}
                    """)
        ),
        .corporateRegistered: (
            Text(
                subject: "【{bank}】利用開始登録完了のご案内",
                body: """
                    {name} 様

                    ワンタイムパスワードの利用開始登録を受け付けました。
                    登録されたトークンのシリアル番号: {serial}
                    次回のログインから、ログインID・ログインパスワードに加えてワンタイムパスワードの入力が必要になります。

                    このメールにお心当たりのない場合は、お手数ですがご契約先の管理者または当行までご連絡ください。

                    送信日時: {dateTime}
                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your one-time password is now in use",
                body: """
                    Dear {name},

                    We have registered a one-time password token for you.
                    Serial number of the registered token: {serial}
                    From your next login, you will need to enter a one-time password in addition to your login ID and login password.

                    If you do not recognise this registration, please contact your company's administrator or us.

                    Sent: {dateTime}
                    {bank}
                    """)
        ),
        .passkeyStepUpPassword: (
            Text(
                subject: "【{bank}】メール通知パスワードのお知らせ（パスキー登録）",
                body: """
                    {name} 様

                    パスキーの登録のお手続きを受け付けました。
                    パスキーの登録（本人確認）画面で、次のメール通知パスワードを入力してください。

                    メール通知パスワード: {code}
                    有効期限: 送信から{minutes}分間

                    送信日時: {dateTime}

                    このメールにお心当たりのない場合は、第三者があなたのパスワードを使っている可能性があります。至急、当行までご連絡ください。
                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your mail notification password (passkey registration)",
                body: """
                    Dear {name},

                    We have received your request to register a passkey.
                    On the passkey registration (identity check) screen, enter the following mail notification password.

                    Mail notification password: {code}
                    Valid for: {minutes} minutes from the time this mail was sent

                    Sent: {dateTime}

                    If you did not make this request, someone else may be using your password. Please contact us immediately.
                    {bank}
                    """)
        ),
        .passkeyRegistered: (
            Text(
                subject: "【{bank}】パスキー登録のお知らせ",
                body: """
                    {name} 様

                    インターネットバンキングにパスキー「{passkey}」{model}が登録されました。
                    次回から、このパスキーでログインやお取引の承認ができます。

                    登録日時: {dateTime}

                    お心当たりのない場合は、第三者が登録した可能性があります。至急、下記までご連絡ください。
                    {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] A passkey has been registered",
                body: """
                    Dear {name},

                    The passkey “{passkey}”{model} has been registered for your internet banking.
                    From now on, you can use this passkey to log in and to approve transactions.

                    Registered: {dateTime}

                    If you do not recognise this, someone else may have registered it. Please contact us immediately:
                    {contact}

                    {bank}
                    """)
        ),
        .passkeyRemoved: (
            Text(
                subject: "【{bank}】パスキー削除のお知らせ",
                body: """
                    {name} 様

                    {who}インターネットバンキングのパスキー{passkeys}を削除しました。

                    削除日時: {dateTime}

                    お心当たりのない場合は、至急、下記までご連絡ください。
                    {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] A passkey has been removed",
                body: """
                    Dear {name},

                    {who} removed {passkeys} from your internet banking.

                    Removed: {dateTime}

                    If you do not recognise this, please contact us immediately:
                    {contact}

                    {bank}
                    """)
        ),
        .tokenLocked: (
            Text(
                subject: "【{bank}】ワンタイムパスワードのご利用を停止しました",
                body: """
                    {name} 様

                    ワンタイムパスワードの誤入力が{threshold}回続いたため、ワンタイムパスワードのご利用を停止しました。
                    ワンタイムパスワードが必要なお取引（お振込、承認など）は、現在ご利用いただけません。
                    {unlock}

                    トークンのシリアル番号: {serial}
                    停止日時: {dateTime}

                    ご自身の操作でない場合は、第三者がログインしようとしたおそれがあります。至急、下記までご連絡ください。
                    お問い合わせ先: {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your one-time password has been stopped",
                body: """
                    Dear {name},

                    A wrong one-time password was entered {threshold} times in a row, so we have stopped the use of your one-time password.
                    Transactions that need a one-time password (transfers, approvals and so on) are not available for now.
                    {unlock}

                    Token serial number: {serial}
                    Stopped at: {dateTime}

                    If this was not you, someone else may have tried to log in. Please contact us immediately.
                    Contact: {contact}

                    {bank}
                    """)
        ),
        .tokenLockedAdmin: (
            Text(
                subject: "【{bank}】ご契約先のワンタイムパスワードが利用停止になりました",
                body: """
                    {name} 様（管理者）

                    ご契約先のワンタイムパスワード（トークン {serial}）の誤入力が{threshold}回続いたため、ご利用を停止しました。
                    このトークンをご利用のユーザ: {holders}
                    停止日時: {dateTime}

                    ワンタイムパスワードが必要なお取引は、このトークンでは現在ご利用いただけません。
                    ご本人の操作であることをご確認のうえ、管理者メニューの「利用停止解除」から再開できます。
                    お心当たりがない場合は、至急、下記までご連絡ください。
                    お問い合わせ先: {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] A one-time password token of your company has been stopped",
                body: """
                    Dear {name} (administrator),

                    A wrong one-time password was entered {threshold} times in a row for one of your company's tokens (token {serial}), so we have stopped its use.
                    Users of this token: {holders}
                    Stopped at: {dateTime}

                    Transactions that need a one-time password cannot be carried out with this token for now.
                    Once you have confirmed that the users themselves made these entries, you can lift the stop with “Lift a one-time password stop” in the administrator menu.
                    If you do not recognise this, please contact us immediately.
                    Contact: {contact}

                    {bank}
                    """)
        ),
        .loginLocked: (
            Text(
                subject: "【{bank}】インターネットバンキングのご利用を停止しました",
                body: """
                    {name} 様

                    パスワードの誤入力が{threshold}回続いたため、インターネットバンキングのご利用を停止しました。
                    停止日時: {dateTime}

                    ご利用の再開には、当行での手続きが必要です。下記までご連絡ください。
                    ご自身の操作でない場合は、第三者がログインしようとしたおそれがあります。
                    お問い合わせ先: {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] Your internet banking access has been stopped",
                body: """
                    Dear {name},

                    A wrong password was entered {threshold} times in a row, so we have stopped your access to internet banking.
                    Stopped at: {dateTime}

                    To use internet banking again, you need to complete a procedure with us. Please contact us using the details below.
                    If this was not you, someone else may have tried to log in.
                    Contact: {contact}

                    {bank}
                    """)
        ),
        .loginLockedAdmin: (
            Text(
                subject: "【{bank}】ご契約先ユーザのご利用が停止されました",
                body: """
                    {name} 様（管理者）

                    ご契約先のユーザ {user}（ログインID: {loginID}）は、パスワードの誤入力が{threshold}回続いたため、
                    インターネットバンキングのご利用を停止しました。
                    停止日時: {dateTime}

                    ご利用の再開には、当行での手続きが必要です。お心当たりがない場合は、至急、下記までご連絡ください。
                    お問い合わせ先: {contact}

                    {bank}
                    """),
            Text(
                subject: "[{bank}] Internet banking access of one of your company's users has been stopped",
                body: """
                    Dear {name} (administrator),

                    A wrong password was entered {threshold} times in a row for your company's user {user} (login ID: {loginID}),
                    so we have stopped their access to internet banking.
                    Stopped at: {dateTime}

                    Their access can only be restored through a procedure with us. If you do not recognise this, please contact us immediately.
                    Contact: {contact}

                    {bank}
                    """)
        ),
    ]

    /// The parts of a mail that depend on the case (who removed a passkey, how a stop is lifted, how a list is
    /// written), in both languages; a `Mail` puts them into its values.
    static let phrases: [String: (ja: String, en: String)] = [
        // tokenLocked {unlock}
        "unlock.retail": (
            "ご利用の再開（利用停止解除）には、当行での手続きが必要です。",
            "To lift the stop and use it again, you need to complete a procedure with us."
        ),
        "unlock.corporate": (
            "ご利用の再開（利用停止解除）は、ご契約先のマスターユーザまたは管理者ユーザが管理者メニューから行えます。",
            "Your company's master user or an administrator can lift the stop from the administrator menu."
        ),
        // passkeyRegistered {model}: the authenticator's product name, when known.
        "passkey.model": ("（{model}）", " ({model})"),
        // passkeyRemoved {who} and {passkeys}
        "passkeyRemoved.byBank": ("当行にて", "We have"),
        "passkeyRemoved.byCustomer": ("", "You have"),
        "passkeyRemoved.one": ("{list}", "the passkey {list}"),
        "passkeyRemoved.many": ("{list}", "the passkeys {list}"),
        "passkey.quoted": ("「{passkey}」", "“{passkey}”"),
        // Lists of names ({holders}, {passkeys})
        "list.separator": ("、", ", "),
        "list.none": ("なし", "none"),
    ]

    /// The texts of mail `key` in `language`.
    public static func text(_ key: MailKey, in language: Language) -> Text {
        // Every key has an entry (a test checks); the fallback only keeps this function total.
        guard let entry = mails[key] else { return Text(subject: key.rawValue, body: key.rawValue) }
        return language == .ja ? entry.ja : entry.en
    }

    /// Every mail key in the table, for tests that check both languages are complete.
    public static var keys: [MailKey] { Array(mails.keys) }

    /// The phrase `key` in `language`, with `values` filled in.
    static func phrase(_ key: String, in language: Language, _ values: [String: String] = [:]) -> String {
        guard let entry = phrases[key] else { return key }
        return fill(language == .ja ? entry.ja : entry.en, with: values)
    }

    /// Names joined as a list in `language` (「、」 in Japanese), or "none".
    static func list(_ names: [String], in language: Language) -> String {
        guard !names.isEmpty else { return phrase("list.none", in: language) }
        return names.joined(separator: phrase("list.separator", in: language))
    }

    /// The one place placeholders are filled: every `{name}` in `template` whose name is in `values` is replaced by
    /// its value, in one pass (a value that itself contains braces is not filled again); others stay as they are.
    public static func fill(_ template: String, with values: [String: String]) -> String {
        var result = ""
        var rest = template[...]
        while let (range, name) = nextPlaceholder(in: rest) {
            result += rest[..<range.lowerBound]
            result += values[name] ?? String(rest[range])
            rest = rest[range.upperBound...]
        }
        result += rest
        return result
    }

    /// The names of the placeholders in `template`, in order of appearance.
    public static func placeholders(in template: String) -> [String] {
        var names: [String] = []
        var rest = template[...]
        while let (range, name) = nextPlaceholder(in: rest) {
            names.append(name)
            rest = rest[range.upperBound...]
        }
        return names
    }

    /// The first `{name}` in `text` (a name is ASCII letters and digits, starting with a letter).
    private static func nextPlaceholder(in text: Substring) -> (Range<Substring.Index>, String)? {
        var searchFrom = text.startIndex
        while let open = text[searchFrom...].firstIndex(of: "{") {
            let nameStart = text.index(after: open)
            guard let close = text[nameStart...].firstIndex(where: { !($0.isASCII && ($0.isLetter || $0.isNumber)) })
            else { return nil }
            let name = text[nameStart..<close]
            if text[close] == "}", let first = name.first, first.isLetter {
                return (open..<text.index(after: close), String(name))
            }
            searchFrom = nameStart
        }
        return nil
    }

    /// A date and time in Japan, as the mails print it: 2026年2月3日 04:05:06 / 3 February 2026, 04:05:06 JST.
    public static func dateTime(_ date: Date, in language: Language = .ja) -> String {
        let formatter = DateFormatter()
        formatter.calendar = .japan
        formatter.timeZone = Calendar.japan.timeZone
        switch language {
        case .ja:
            formatter.locale = Locale(identifier: "ja_JP")
            formatter.dateFormat = "yyyy年M月d日 HH:mm:ss"
        case .en:
            formatter.locale = Locale(identifier: "en_US_POSIX")
            formatter.dateFormat = "d MMMM yyyy, HH:mm:ss 'JST'"
        }
        return formatter.string(from: date)
    }
}
