import Foundation
import Ichigo

/// The audit trail's actions as the operator console names them: Japanese (and English) labels for the internal
/// action names, in the order the console's 操作 list offers them. An action missing here is shown by its internal
/// name.
enum AuditActions {
    static let all: [(action: String, ja: String, en: String)] = [
        // Logins
        ("login.password", "ログイン（パスワード）", "Login (password)"),
        ("login.passkey", "ログイン（パスキー）", "Login (passkey)"),
        ("otp.verify", "ワンタイムパスワード認証", "One-time password check"),
        ("logout", "ログアウト", "Logout"),
        ("login.lock", "ログイン停止", "Login stopped"),
        ("login.unlock", "ログイン停止解除", "Login stop lifted"),
        // Tokens
        ("token.import", "トークン取込", "Token import"),
        ("token.assign", "トークン割当（営業店窓口受付）", "Token assigned (branch application)"),
        ("token.enrol", "ソフトウェアトークン登録（API）", "Software token enrolled (API)"),
        ("issuance.apply", "トークン発行申込", "Token application"),
        ("issuance.revise", "トークン発行申込の訂正", "Token application corrected"),
        ("issuance.confirm", "トークン発行", "Token issued"),
        ("issuance.cancel", "トークン発行申込の中止", "Token application cancelled"),
        ("issuance.void", "トークン発行申込の無効", "Token application void"),
        ("app.provision", "アプリ初期設定", "App set-up"),
        ("token.provision", "アプリ初期設定（トークン）", "App set-up (token)"),
        ("token.activate", "利用開始（最初のワンタイムパスワード）", "First one-time password"),
        ("token.confirm_first_code", "最初のワンタイムパスワード確認", "First code confirmed"),
        ("token.start_use", "ワンタイムパスワード利用開始", "Start of use"),
        ("token.register", "トークン利用登録", "Token registered"),
        ("token.deregister", "トークン利用登録解除", "Token registration removed"),
        ("token.lock", "ワンタイムパスワード利用停止", "Token stopped"),
        ("token.unlock", "ワンタイムパスワード利用停止解除", "Token stop lifted"),
        ("token.cancel", "ワンタイムパスワード利用解除", "One-time password cancelled"),
        ("token.revoke", "トークンの失効", "Token revoked"),
        ("token.reissue", "在庫に戻す（再発行）", "Returned to the inventory"),
        ("token.read", "トークンの参照（API）", "Token read (API)"),
        // Transfers
        ("transfer", "振込", "Transfer"),
        ("transfer.sign", "振込の取引認証", "Transfer signature"),
        ("transfer.passkey", "振込のパスキー承認", "Transfer approved with a passkey"),
        ("transfer.create", "振込振替データ作成", "Transfer data created"),
        ("transfer.approve", "振込振替の承認", "Transfer approved"),
        ("transfer.approve.sign", "承認の取引認証", "Approval signature"),
        ("transfer.approve.passkey", "承認（パスキー）", "Approval with a passkey"),
        ("transfer.execute", "振込振替の実行", "Transfer executed"),
        ("signature.challenge", "取引認証チャレンジ発行（API）", "Signing challenge (API)"),
        ("signature.verify", "取引認証番号の確認（API）", "Signature check (API)"),
        // Users, contracts, accounts
        ("user.create", "利用者登録", "User created"),
        ("user.permissions", "利用者の権限変更", "Authorities changed"),
        ("user.permissions.passkey", "利用者の権限変更（パスキー）", "Authorities changed (passkey)"),
        ("user.read", "利用者の参照（API）", "User read (API)"),
        ("contract.create", "ご契約先登録", "Contract created"),
        ("contract.usage_mode", "利用形態の変更", "Usage mode changed"),
        ("account.open", "口座開設", "Account opened"),
        ("account.list", "口座一覧の参照（API）", "Accounts read (API)"),
        // Passkeys
        ("passkey.stepup", "パスキー登録前の本人確認", "Identity check before a passkey"),
        ("passkey.stepup_mail", "本人確認メール送信", "Identity check mail"),
        ("passkey.register", "パスキー登録", "Passkey registered"),
        ("passkey.rename", "パスキーの名前変更", "Passkey renamed"),
        ("passkey.remove", "パスキー削除", "Passkey removed"),
        ("passkey.clone_suspected", "パスキー複製の疑い", "Passkey clone suspected"),
        ("api.passkey.authenticate", "パスキー認証（API）", "Passkey check (API)"),
        // The bank
        ("operator.create", "オペレータ登録", "Operator created"),
        ("operator.login", "オペレータログイン", "Operator login"),
        ("operator.lock", "オペレータのログイン停止", "Operator login stopped"),
        ("apikey.create", "APIキー作成", "API key created"),
        ("apikey.revoke", "APIキー失効", "API key revoked"),
        ("api.call", "API呼出し（拒否）", "API call refused"),
    ]

    private static let byAction = Dictionary(all.map { ($0.action, $0) }) { first, _ in first }

    /// The label of `action` in `language`, or `nil` for an action the console does not know.
    static func label(_ action: String, _ language: Language) -> String? {
        byAction[action].map { language == .ja ? $0.ja : $0.en }
    }

    /// The outcomes the trail records (`ok`, `accepted`, `refused`), as the console shows them.
    static func outcome(_ outcome: String, _ language: Language) -> String {
        switch outcome {
        case "ok": language == .ja ? "完了" : "Done"
        case "accepted": language == .ja ? "成功" : "Accepted"
        case "refused": language == .ja ? "拒否" : "Refused"
        default: outcome
        }
    }
}

/// Names for the IDs the audit trail and the inventory record: users and operators by login ID and name, contracts
/// by name, tokens by serial. Built once per page from the records it shows; an ID that names nothing is shown as
/// it is.
struct AuditNames {
    private var users: [String: User] = [:]
    private var operators: [String: BankOperator] = [:]
    private var contracts: [String: Contract] = [:]
    private var tokens: [String: Token] = [:]

    /// Internal IDs: a kind letter (U user, C contract, T token, O operator) and 24 hexadecimal digits. Simple word
    /// boundaries: under Unicode's default ones a colon joins letters into one word, so the ID in `operator:O…` or
    /// `user:U…` (an actor) would not be found.
    private static var idPattern: Regex<(Substring, Substring, Substring)> {
        /\b([UCTO])([0-9a-f]{24})\b/.wordBoundaryKind(.simple)
    }

    /// Looks up every ID that `texts` mention.
    static func lookUp(_ texts: [String], in repository: any IchigoStore) async throws -> AuditNames {
        var names = AuditNames()
        var seen = Set<String>()
        for text in texts {
            for match in text.matches(of: idPattern) {
                let id = String(match.0)
                guard seen.insert(id).inserted else { continue }
                switch match.1 {
                case "U": names.users[id] = try await repository.user(UserID(rawValue: id))
                case "C": names.contracts[id] = try await repository.contract(ContractID(rawValue: id))
                case "T": names.tokens[id] = try await repository.token(TokenID(rawValue: id))
                default: names.operators[id] = try await repository.bankOperator(OperatorID(rawValue: id))
                }
            }
        }
        return names
    }

    /// The names for `records` (actor, subject and reason of each).
    static func lookUp(_ records: [AuditRecord], in repository: any IchigoStore) async throws -> AuditNames {
        try await lookUp(records.flatMap { [$0.event.actor, $0.event.subject, $0.event.reason ?? ""] }, in: repository)
    }

    /// A person or thing as staff read it: `ichigo-staff（いちご商事 担当者）`, `いちご商事株式会社`, a serial, or
    /// `nil` for an ID that names nothing known.
    func name(of id: String) -> String? {
        if let user = users[id] { return "\(user.loginID.rawValue)（\(user.name)）" }
        if let bankOperator = operators[id] { return "\(bankOperator.loginID.rawValue)（\(bankOperator.name)）" }
        if let contract = contracts[id] { return contract.name }
        if let token = tokens[id] { return token.serial.rawValue }
        return nil
    }

    /// The name of a contract, or its ID when it is unknown.
    func contractName(_ id: ContractID) -> String { contracts[id.rawValue]?.name ?? id.rawValue }

    /// `text` with every known ID replaced by its name: an actor or subject such as `user:U845f…` reads
    /// `ichigo-staff（いちご商事 担当者）`; in a reason (`short`, e.g. `user=U…`) a user or operator reads as the login
    /// ID only, to keep it short.
    func describe(_ text: String, short: Bool = false) -> String {
        for prefix in ["user:", "operator:"] where text.hasPrefix(prefix) {
            if let name = name(of: String(text.dropFirst(prefix.count))) { return name }
        }
        return text.replacing(Self.idPattern) { match in
            let id = String(match.0)
            if short, let user = users[id] { return user.loginID.rawValue }
            if short, let bankOperator = operators[id] { return bankOperator.loginID.rawValue }
            return name(of: id) ?? id
        }
    }
}
