import Foundation
import Logging
import OTP

/// The texts of the mails the retail flows send (Japanese, in the seeds' wording where they give it).
public enum RetailMails {
    static func dateTime(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.calendar = .japan
        formatter.timeZone = Calendar.japan.timeZone
        formatter.locale = Locale(identifier: "ja_JP")
        formatter.dateFormat = "yyyy年M月d日 HH:mm:ss"
        return formatter.string(from: date)
    }

    static func mailPassword(bank: String, name: String, code: String, at now: Date, minutes: Int) -> (String, String) {
        ("【\(bank)】メール通知パスワードのお知らせ", """
        \(name) 様

        ワンタイムパスワードのトークン発行のお申込みを受け付けました。
        トークン発行（ソフトウェアトークン発行情報入力内容確認）画面で、次のメール通知パスワードを入力してください。

        メール通知パスワード: \(code)
        有効期限: 送信から\(minutes)分間

        送信日時: \(dateTime(now))

        このメールにお心当たりのない場合は、お手数ですが当行までご連絡ください。
        \(bank)
        """)
    }

    static func tokenIssued(bank: String, serviceID: String, appUserID: String, url: String, at now: Date) -> (String, String) {
        ("【\(bank)】ワンタイムパスワード トークン発行のご案内", """
        ワンタイムパスワード（ソフトウェアトークン）を発行しました。
        下記のダウンロードURLからワンタイムパスワードアプリをダウンロードし、初期設定を行ってください。

        ダウンロードURL: \(url)
        サービスID: \(serviceID)
        ユーザID: \(appUserID)

        初期設定には、サービスID・ユーザID と、トークン発行申請時にご登録いただいた利用開始パスワードが必要です。
        （利用開始パスワードはこのメールには記載しておりません。）

        送信日時: \(dateTime(now))
        \(bank)
        """)
    }

    static func useStarted(bank: String, name: String, at now: Date) -> (String, String) {
        ("【\(bank)】利用開始登録完了のご案内", """
        \(name) 様

        ワンタイムパスワードの利用開始登録を受け付けました。
        次回のログインから、ログインID・ログインパスワードに加えてワンタイムパスワードの入力が必要になります。

        送信日時: \(dateTime(now))
        \(bank)
        """)
    }
}
