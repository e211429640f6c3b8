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
        "service.unavailable": (
            "ただいま混み合っているか、システムが一時的に利用できません。お手続きは完了していません。しばらくしてから再度お試しください。",
            "The service is busy or temporarily unavailable. Nothing was carried out. Please try again in a moment."
        ),
        "storage.full": (
            "システムが一時的に利用できません。お手続きは完了していません。しばらくしてから再度お試しください。",
            "The service is temporarily unavailable. Nothing was carried out. Please try again later."
        ),
        "internal": ("システムエラーが発生しました。しばらくしてから再度お試しください。", "A system error occurred. Please try again later."),
        "passkey.failed": (
            "パスキーによる認証ができませんでした。もう一度お試しいただくか、ログインID・パスワードでログインしてください。",
            "The passkey could not be verified. Please try again, or log in with your login ID and password."
        ),
        "passkey.taken": ("このパスキーは既に登録されています。", "This passkey is already registered."),
        "passkey.limit": (
            "パスキーは10個まで登録できます。不要なパスキーを削除してから登録してください。",
            "You can register up to 10 passkeys. Remove one you no longer use first."
        ),
        "passkey.not_found": ("パスキーが見つかりません。", "The passkey was not found."),
        "field.invalid_passkey_name": (
            "パスキーの名前は30文字以内で入力してください。", "Enter a passkey name of at most 30 characters."
        ),
        "passkey.required": (
            "パスキーが登録されているため、パスキーでログインしてください。パスキーを紛失した場合はお取引店にお問い合わせください。",
            "A passkey is registered for you: please log in with your passkey. If you lost it, please contact your branch."
        ),
        "passkey.transaction_changed": (
            "承認しようとした内容が変更されたため、お取引を中止しました。内容をご確認のうえ、もう一度お手続きください。",
            "What you were approving changed, so nothing was carried out. Please check the details and start again."
        ),
        "login.failed": (
            "ログインIDまたはログインパスワードが正しくありません。", "The login ID or login password is not correct."
        ),
        "login.locked": (
            "パスワードの誤入力が規定回数を超えたため、ご利用を停止しています。お取引店にお問い合わせください。",
            "Too many wrong passwords: access is stopped. Please contact your branch."
        ),
        "field.required": ("入力してください。", "This field is required."),
        "field.invalid_email": (
            "メールアドレスを半角英数字記号で正しく入力してください。", "Enter a valid e-mail address in half-width characters."
        ),
        "field.email_mismatch": (
            "確認用のメールアドレスが一致しません。", "The two e-mail addresses do not match."
        ),
        "field.invalid_activation_password": (
            "利用開始パスワードは4～8桁の数字で入力してください。", "The activation password must be 4 to 8 digits."
        ),
        "field.activation_password_mismatch": (
            "確認用の利用開始パスワードが一致しません。", "The two activation passwords do not match."
        ),
        "field.invalid_otp": (
            "ワンタイムパスワードは半角数字6桁で入力してください。", "Enter the one-time password as 6 half-width digits."
        ),
        "field.invalid_amount": (
            "金額は1円以上の半角数字で入力してください。", "Enter an amount of at least 1 yen in half-width digits."
        ),
        "field.invalid_bank_code": (
            "金融機関コードは半角数字4桁で入力してください。", "Enter the bank code as 4 half-width digits."
        ),
        "field.invalid_branch_code": (
            "支店番号は半角数字3桁で入力してください。", "Enter the branch number as 3 half-width digits."
        ),
        "field.invalid_account_number": (
            "口座番号は半角数字7桁で入力してください。", "Enter the account number as 7 half-width digits."
        ),
        "password.confirmation_wrong": ("確認用パスワードが正しくありません。", "The confirmation password is not correct."),
        "issuance.mail_password_wrong": (
            "メール通知パスワードが正しくありません。", "The mail notification password is not correct."
        ),
        "issuance.mail_password_expired": (
            "メール通知パスワードの有効期限が切れました。お手数ですが、最初からお手続きください。",
            "The mail notification password has expired. Please start the application again."
        ),
        "issuance.not_found": ("お申込みが見つかりません。", "The application was not found."),
        "issuance.closed": ("このお申込みは既に処理されています。", "This application has already been processed."),
        "issuance.void": (
            "メール通知パスワードの誤入力が規定回数を超えたため、お申込みは無効になりました。最初からお手続きください。",
            "Too many wrong mail notification passwords: the application is void. Please start again."
        ),
        "issuance.no_registered_email": (
            "メールアドレスが登録されていないため、お手続きできません。お取引店にお問い合わせください。",
            "No e-mail address is registered, so the application cannot proceed. Please contact your branch."
        ),
        "issuance.hardware_in_use": (
            "ハードウェアトークンをご利用中のため、ソフトウェアトークンは発行できません。",
            "A hardware token is in use, so a software token cannot be issued."
        ),
        "issuance.next_day": (
            "ワンタイムパスワードの利用解除を行った当日は、トークン発行を行うことができません。翌日以降にお手続きください。",
            "A token cannot be issued on the day the one-time password was cancelled. Please apply again from tomorrow."
        ),
        "provision.consent_required": ("「上記の内容に同意する」を選択してください。", "Please agree to the terms."),
        "provision.not_found": (
            "サービスIDまたはユーザIDが正しくないか、既に初期設定済みです。",
            "The service ID or user ID is not correct, or the app is already set up."
        ),
        "provision.expired": (
            "初期設定の有効期限が切れました。再度トークン発行を行ってください。",
            "The set-up period has expired. Please issue a token again."
        ),
        "provision.void": (
            "利用開始パスワードの誤入力が規定回数を超えたため、トークンは無効になりました。再度トークン発行を行ってください。",
            "Too many wrong activation passwords: the token is void. Please issue a token again."
        ),
        "provision.activation_password_wrong": (
            "利用開始パスワードが正しくありません。", "The activation password is not correct."
        ),
        "transfer.insufficient_funds": ("お引出し可能残高が不足しています。", "The available balance is not sufficient."),
        "transfer.account_not_found": ("口座が見つかりません。", "The account was not found."),
        "otp.last_try": (
            "ワンタイムパスワードが正しくありません。あと1回誤入力すると、ワンタイムパスワードが必要なお取引が停止されます。",
            "The one-time password is not correct. One more wrong one-time password will stop every transaction that needs one."
        ),
        "login.last_try": (
            "ログインIDまたはログインパスワードが正しくありません。あと1回誤入力すると、ご利用が停止されます。",
            "The login ID or login password is not correct. One more wrong password will stop your access."
        ),
        "password.confirmation_last_try": (
            "確認用パスワードが正しくありません。あと1回誤入力すると、ご利用が停止されます。",
            "The confirmation password is not correct. One more wrong password will stop your access."
        ),
        "account.number_taken": ("この口座番号は既に使われています。", "This account number is in use."),
        "login.not_locked": ("ログインは停止されていません。", "The login is not stopped."),
        "apikey.name_taken": ("この名前のAPIキーは既にあります。", "An API key with this name exists."),
        "token.not_registrable": (
            "入力されたシリアル番号のトークンは登録できません。トークン裏面のシリアル番号をご確認ください。",
            "The token with this serial number cannot be registered. Please check the serial number on the back of the token."
        ),
        "contract.pin_wrong": ("ご契約先確認暗証番号が正しくありません。", "The contract confirmation PIN is not correct."),
        "otp.token_required": (
            "このお取引にはワンタイムパスワードが必要です。トークンの利用登録を行ってください。",
            "This transaction needs a one-time password: please register a token first."
        ),
        "authority.missing": ("この操作を行う権限がありません。", "You do not have the authority for this operation."),
        "transfer.over_limit": ("振込振替の限度額を超えています。", "The amount is over your transfer limit."),
        "transfer.not_pending": (
            "この振込振替データは承認待ちではありません。", "This transfer is not awaiting approval."
        ),
        "transfer.self_approval": (
            "ご自身で作成された振込振替データは承認できません。", "You cannot approve a transfer you created."
        ),
        "unlock.partial_selection": (
            "トークンを共有している利用者はすべて選択してください。",
            "Select every user who shares the token."
        ),
        "field.nothing_selected": ("対象を選択してください。", "Select at least one."),
        "field.invalid_serial": (
            "シリアル番号はSKTHまたはSKTSに続く半角数字で入力してください。",
            "Enter the serial number as SKTH or SKTS followed by half-width digits."
        ),
        "field.invalid_pin": (
            "ご契約先確認暗証番号は4～8桁の半角数字で入力してください。", "Enter the contract PIN as 4 to 8 half-width digits."
        ),
        "field.invalid_limit": (
            "限度額は0円以上の半角数字で入力してください。", "Enter each limit in half-width digits (0 or more yen)."
        ),
        "import.failed": ("トークンファイルを取り込めませんでした。", "The token file could not be imported."),
        "transfer.duplicate": (
            "このお振込は既に受け付けています。", "This transfer has already been accepted."
        ),
        "signature.invalid": (
            "取引認証番号が正しくありません。振込先口座番号と振込金額をご確認のうえ、トークンアプリで表示された取引認証番号を入力してください。",
            "The transaction authentication number is not correct. Check the payee account number and the amount, and enter the number your token app shows for them."
        ),
        "signature.last_try": (
            "取引認証番号が正しくありません。あと1回誤入力すると、ワンタイムパスワードが必要なお取引が停止されます。",
            "The transaction authentication number is not correct. One more wrong number will stop every transaction that needs a one-time password."
        ),
        "signature.token_unsupported": (
            "ご利用のトークンは取引認証に対応していないため、お取引を実行できません。お手数ですが当行までお問い合わせください。",
            "Your token does not support transaction authentication, so this transaction cannot be carried out. Please contact the bank."
        ),
        "signature.transfer_changed": (
            "お振込内容が変更されたため、入力された取引認証番号ではお取引できません。お振込は実行されていません。表示されている振込内容をご確認のうえ、改めて取引認証番号を入力してください。",
            "The transfer was changed, so the number entered cannot be used and nothing was transferred. Check the transfer shown and enter a new transaction authentication number for it."
        ),
        "signature.challenge_not_found": ("取引認証のチャレンジが見つかりません。", "The signing challenge was not found."),
        "signature.challenge_used": (
            "この取引認証のチャレンジは既に回答済みです。", "This signing challenge has been answered already."
        ),
        "signature.challenge_expired": (
            "取引認証のチャレンジの有効期限が切れました。", "The signing challenge has expired."
        ),
        "field.invalid_signature": (
            "取引認証番号はトークンアプリに表示された半角数字で入力してください。",
            "Enter the transaction authentication number your token app shows, in half-width digits."
        ),
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
