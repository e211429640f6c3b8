import Foundation
import Ichigo

/// The screens' texts in Japanese (the seeds' wording) and English.
enum Strings {
    static let table = retailTable.merging(corporateTable) { first, _ in first }.merging(passkeyTable) { first, _ in first }

    static let retailTable: [String: (ja: String, en: String)] = [
        "bank": ("いちご銀行 インターネットバンキング", "Ichigo Bank Internet Banking"),
        "lang.switch": ("English", "日本語"),
        "screenID": ("画面ID", "Screen ID"),
        "required": ("[必須]", "[Required]"),
        "logout": ("ログアウト", "Log out"),
        "top": ("トップページへ", "To the top page"),
        "back": ("戻る", "Back"),
        "next": ("次へ", "Next"),
        "confirm": ("確定する", "Confirm"),
        "abort": ("申込を中止する", "Cancel the application"),
        "toBOP": ("ワンタイムパスワード申請内容選択へ", "To the one-time password menu"),
        "swkb": ("ソフトウェアキーボードを使用して入力する", "Use the software keyboard"),
        "swkb.close": ("閉じる", "Close"),
        "swkb.clear": ("クリア", "Clear"),
        "swkb.bs": ("1文字削除", "Delete"),
        "swkb.symbols": ("記号", "Symbols"),
        "swkb.letters": ("英字", "Letters"),
        "hint.alnum": ("(半角英数字記号)", "(half-width letters, digits, symbols)"),
        "hint.digits48": ("(4～8桁の数字)", "(4 to 8 digits)"),
        "hint.conf": ("(半角英数字6～12桁)", "(6 to 12 half-width letters and digits)"),
        "hint.otp": ("(半角数字)", "(half-width digits)"),
        "hint.twice": ("確認のため2回入力して下さい", "Enter it twice to confirm"),
        "error.summary": ("入力内容に誤りがあります。", "Please correct the highlighted fields."),
        // Login
        "login.title": ("ログイン", "Log in"),
        "login.lead": ("ログインIDとログインパスワードを入力し、「ログイン」ボタンを押して下さい。", "Enter your login ID and login password, then press “Log in”."),
        "login.id": ("ログインID", "Login ID"),
        "login.password": ("ログインパスワード", "Login password"),
        "login.button": ("ログイン", "Log in"),
        "login.bye": ("ログアウトしました。", "You have logged out."),
        "otpLogin.title": ("ワンタイムパスワード認証", "One-time password"),
        "otpLogin.lead": ("スマートフォンのワンタイムパスワードアプリに表示されているワンタイムパスワードを入力して下さい。", "Enter the one-time password shown by the app on your smartphone."),
        "otp": ("ワンタイムパスワード", "One-time password"),
        "otp.input": ("ワンタイムパスワードの入力", "One-time password"),
        "otpLogin.button": ("認証する", "Authenticate"),
        "otpLogin.stoppedLead": (
            "このトークンのワンタイムパスワードは、利用停止が解除されるまで入力できません。ログイン画面へ戻り、利用停止の解除をお待ちください。",
            "This token's one-time passwords cannot be entered until the stop is lifted. Go back to the login page and wait for the stop to be lifted."
        ),
        "otpLogin.contact": ("ご不明な点は、次の窓口までお問い合わせください：", "For help, contact:"),
        "otpLogin.toLogin": ("ログイン画面へ戻る", "Back to the login page"),
        // After 失効 (the bank's or the contract administrator's): what the token's users read at their next login.
        "revoked.retail": (
            "ご利用のトークン（シリアル番号 %@）は失効しました。このトークンのワンタイムパスワードは今後ご利用いただけません。ワンタイムパスワードを再びご利用いただくには、「ワンタイムパスワード申請」から新しいトークンを発行してください。",
            "Your token (serial number %@) has been revoked: its one-time passwords no longer work. To use one-time passwords again, issue a new token under “One-time password application”."
        ),
        // Top
        "top.title": ("トップページ", "Top page"),
        "top.welcome": ("様、いつもご利用ありがとうございます。", ", thank you for banking with us."),
        "top.accounts": ("口座一覧", "Accounts"),
        "top.account": ("口座", "Account"),
        "top.balance": ("残高", "Balance"),
        "top.yen": ("円", " yen"),
        "nav.transfer": ("振込", "Transfer"),
        "nav.otp": ("ワンタイムパスワード申請", "One-time password application"),
        "top.history": ("最近のお振込", "Recent transfers"),
        "top.otpStatus": ("ワンタイムパスワード", "One-time password"),
        // Transfer
        "transfer.title": ("振込（振込内容入力）", "Transfer (details)"),
        "transfer.lead": ("振込内容を入力し、「次へ」ボタンを押して下さい。", "Enter the transfer details, then press “Next”."),
        "transfer.from": ("支払口座", "From account"),
        "transfer.bank": ("振込先金融機関コード", "Payee bank code"),
        "transfer.branch": ("振込先支店番号", "Payee branch number"),
        "transfer.account": ("振込先口座番号", "Payee account number"),
        "transfer.name": ("受取人名", "Payee name"),
        "transfer.amount": ("振込金額", "Amount"),
        "transfer.hintDigits": ("(半角数字)", "(half-width digits)"),
        "transfer.hintOwn": ("当行宛は金融機関コード 9999", "Bank code 9999 is this bank"),
        "transferConfirm.title": ("振込（振込内容確認）", "Transfer (confirm)"),
        // Transaction authentication (取引認証), under the signing policy
        "sign.lead": ("内容をご確認のうえ、確認用パスワード・取引認証番号を入力し、「確定する」ボタンを押して下さい。", "Check the details, enter the confirmation password and the transaction authentication number, then press “Confirm”."),
        "sign.input": ("取引認証番号の入力", "Transaction authentication number"),
        "sign.number": ("取引認証番号", "Transaction authentication number"),
        "sign.howto": ("トークンアプリで「取引認証」を選び、振込先口座番号と振込金額を入力して表示された取引認証番号を入力してください。", "In your token app choose “Transaction authentication”, enter the payee account number and the amount, and enter the number it shows."),
        "sign.own": ("振込先口座番号と振込金額は、この画面の表示ではなく、お客さまがお振込をご依頼された内容（請求書など）をご覧になって入力してください。", "Type the payee account number and the amount from your own records (the invoice, for example), not from this screen."),
        "sign.challenge": ("取引認証のチャレンジ（振込金額・振込先口座番号）", "Challenge (amount, then payee account number)"),
        "sign.suite": ("取引認証方式", "Signing suite"),
        "sign.once": ("取引認証番号は1分ごとに変わり、一度だけ使用できます。", "The number changes every minute and can be used once."),
        "sign.cli": ("ichigo-token をお使いの場合のコマンド例", "With ichigo-token"),
        "hint.sign": ("(トークンアプリに表示された半角数字)", "(half-width digits, as your token app shows)"),
        "transferConfirm.lead": ("内容をご確認のうえ、確認用パスワード・ワンタイムパスワードを入力し、「確定する」ボタンを押して下さい。", "Check the details, enter the confirmation password and the one-time password, then press “Confirm”."),
        "transferConfirm.leadNoOTP": ("内容をご確認のうえ、確認用パスワードを入力し、「確定する」ボタンを押して下さい。", "Check the details, enter the confirmation password, then press “Confirm”."),
        "transferDone.title": ("振込（振込完了）", "Transfer (complete)"),
        "transferDone.lead": ("お振込を受け付けました。", "The transfer has been accepted."),
        "conf.input": ("確認用パスワードの入力", "Confirmation password"),
        "conf": ("確認用パスワード", "Confirmation password"),
        // BOP001
        "bop001.title": ("ワンタイムパスワード申請内容選択", "One-time password application"),
        "bop001.lead": ("ワンタイムパスワードの登録情報を表示します。登録情報の変更を行う場合は変更対象ボタンを押して下さい。", "Your one-time password registration. To change it, press the button for the change."),
        "bop001.statusHead": ("ワンタイムパスワード登録状況", "Registration status"),
        "bop001.status": ("登録状況", "Status"),
        "status.unregistered": ("未登録", "Not registered"),
        "status.issued": ("トークン発行済", "Token issued"),
        "status.in_use": ("利用中", "In use"),
        "status.stopped": ("停止中", "Stopped"),
        "bop001.tokenHead": ("トークン情報", "Token"),
        "serviceID": ("サービスID", "Service ID"),
        "appUserID": ("ユーザID", "User ID"),
        "serial": ("シリアル番号", "Serial number"),
        "tokenKind": ("トークン種別", "Token type"),
        "kind.software": ("ソフトウェアトークン", "Software token"),
        "kind.hardware": ("ハードウェアトークン", "Hardware token"),
        "bop001.notesHead": ("注意事項", "Notes"),
        "bop001.actionsHead": ("登録情報変更処理選択", "Change"),
        "action.issue": ("トークン発行", "Issue a token"),
        "action.start": ("ワンタイムパスワード利用開始", "Start using the one-time password"),
        "action.cancel": ("ワンタイムパスワード利用解除", "Cancel the one-time password"),
        "bop001.awaitingApp": ("スマートフォンでワンタイムパスワードアプリの初期設定を行ってから、「ワンタイムパスワード利用開始」を行って下さい。", "Set up the app on your smartphone, then start using the one-time password."),
        // BOT
        "steps.bot.1": ("ソフトウェアトークン発行情報入力", "Software token details"),
        "steps.bot.2": ("ソフトウェアトークン発行情報入力内容確認", "Confirm the details"),
        "steps.bot.3": ("ソフトウェアトークン発行完了", "Software token issued"),
        "bot001.title": ("トークン発行（ソフトウェアトークン発行情報入力）", "Token issuance (software token details)"),
        "bot001.lead": ("ソフトウェアトークンを発行します。送付先メールアドレス、利用開始パスワードを入力し「次へ」ボタンを押して下さい。", "A software token will be issued. Enter the destination e-mail address and the activation password, then press “Next”."),
        "bot001.mailHead": ("送付先メールアドレスの指定", "Destination e-mail address"),
        "bot001.mailLead": ("トークン発行するスマートフォンのメールアドレスを入力して下さい。", "Enter the e-mail address of the smartphone the token is for."),
        "phoneEmail": ("スマートフォンメールアドレス", "Smartphone e-mail address"),
        "phoneEmailConfirmation": ("スマートフォンメールアドレス（確認用）", "Smartphone e-mail address (again)"),
        "bot001.pwHead": ("利用開始パスワードの指定", "Activation password"),
        "bot001.pwLead": ("トークン発行時に必要となる利用開始パスワードを4～8桁の数字で登録して下さい。利用開始パスワードは、お控えいただくかお忘れにならないようご注意ください。", "Choose an activation password of 4 to 8 digits; the app asks for it at set-up. Keep it safe."),
        "activationPassword": ("利用開始パスワード", "Activation password"),
        "activationPasswordConfirmation": ("利用開始パスワード（確認用）", "Activation password (again)"),
        "bot001.notice": ("「次へ」を押すと、ご登録のメールアドレスにメール通知パスワードを送信します。", "When you press “Next”, a mail notification password is sent to your registered e-mail address."),
        "bot002.title": ("トークン発行（ソフトウェアトークン発行情報入力内容確認）", "Token issuance (confirm the details)"),
        "bot002.lead": ("入力内容をご確認のうえ、確認用パスワード、メール通知パスワードを入力し、「確定する」ボタンを押して下さい。", "Check the details, enter the confirmation password and the mail notification password, then press “Confirm”."),
        "bot002.destHead": ("送付先メールアドレス", "Destination e-mail address"),
        "bot002.sentHead": ("メール通知パスワード送信先", "Mail notification password sent to"),
        "bot002.sentLead": ("メール通知パスワードは、お名前・送信日時を記載したメールでご登録のメールアドレスに送信しました。", "The mail notification password was sent to your registered address, in a mail with your name and the time it was sent."),
        "sentAt": ("送信日時", "Sent at"),
        "registeredEmail": ("送信先メールアドレス", "Sent to"),
        "mailPassword.input": ("メール通知パスワードの入力", "Mail notification password"),
        "mailPassword": ("メール通知パスワード", "Mail notification password"),
        "bot003.title": ("トークン発行（ソフトウェアトークン発行完了）", "Token issuance (software token issued)"),
        "bot003.lead": ("トークン発行が完了しました。スマートフォンメールアドレスにトークン発行用メールが送信されます。", "The token has been issued. A token-issuance mail is being sent to the smartphone address."),
        "bot003.next": ("スマートフォンにてワンタイムパスワードアプリをダウンロードし、サービスID・ユーザID・利用開始パスワードで初期設定を行ってください。その後「ワンタイムパスワード利用開始」を行って下さい。", "Download the app on your smartphone and set it up with the service ID, user ID and activation password. Then start using the one-time password."),
        "bot003.qrHead": ("認証アプリをご利用の場合", "Using a standard authenticator app"),
        "bot003.qrLead": (
            "お手持ちの認証アプリ（TOTP対応）でこのQRコードを読み取ってください。QRコードはこの画面で一度だけ表示されます。",
            "Scan this QR code with your authenticator app (TOTP). It is shown only once, on this screen."
        ),
        "bot003.qrWarning": (
            "ご注意：このトークンのワンタイムパスワードは60秒ごとに変わります。60秒の更新間隔に対応していない認証アプリでは正しいワンタイムパスワードが表示されません。利用開始（BOK001）の確認で正しく設定されているか確認します。",
            "Note: this token's code changes every 60 seconds. Some authenticator apps ignore a 60-second period and show wrong codes; the start-of-use check (BOK001) will catch a wrongly configured app."
        ),
        "bot003.qrShown": (
            "QRコードは既に表示しました。再表示はできません。", "The QR code has already been shown and cannot be shown again."
        ),
        // BOK
        "steps.bok.1": ("ソフトウェアトークン確認", "Confirm the token"),
        "steps.bok.2": ("ソフトウェアトークン完了", "Complete"),
        "bot001.revising": ("メール通知パスワードは送信済みです。入力内容を訂正して「次へ」を押すと、送信済みのメール通知パスワードのまま確認画面に戻ります。", "The mail notification password has been sent. Correct your entries and press “Next” to return to the confirmation with the same mail notification password."),
        "bot001.resend": ("メール通知パスワードを再送信する", "Send a new mail notification password"),
        "bok001.title": ("ワンタイムパスワード利用開始（ソフトウェアトークン確認）", "Start of use (confirm the software token)"),
        "bok001.lead": ("ワンタイムパスワードを入力し、「利用開始する」ボタンを押して下さい。", "Enter the one-time password, then press “Start using”."),
        "bok001.button": ("利用開始する", "Start using"),
        "bok002.title": ("ワンタイムパスワード利用開始（ソフトウェアトークン完了）", "Start of use (complete)"),
        "bok002.lead": ("ワンタイムパスワード利用開始登録を受けました。", "Your start of use of the one-time password has been registered."),
        // BOS
        "steps.bos.1": ("利用解除確認", "Confirm cancellation"),
        "steps.bos.2": ("利用解除完了", "Cancellation complete"),
        "bos001.title": ("ワンタイムパスワード利用解除（利用解除確認）", "Cancel the one-time password (confirm)"),
        "bos001.lead": ("確認用パスワード・ワンタイムパスワードを入力し、「解除する」ボタンを押して下さい。", "Enter the confirmation password and the one-time password, then press “Cancel it”."),
        "bos001.button": ("解除する", "Cancel it"),
        "bos002.title": ("ワンタイムパスワード利用解除（利用解除完了）", "Cancel the one-time password (complete)"),
        "bos002.lead": ("ワンタイムパスワード利用解除登録を受けました。", "The cancellation of your one-time password has been registered."),
        "bos002.next": ("次回ログイン時から、ワンタイムパスワード認証画面は表示されません。スマートフォンのトークンを削除してください。新たなトークン発行は翌日以降に行えます。", "From your next login no one-time password is asked. Please delete the token from your smartphone. A new token can be issued from tomorrow."),
        "flash.aborted": ("お申込みを中止しました。", "The application was cancelled."),
    ]

    static func dictionary(for language: Language) -> [String: String] {
        var out: [String: String] = [:]
        for (key, value) in table { out[key.replacingOccurrences(of: ".", with: "_")] = language == .ja ? value.ja : value.en }
        return out
    }

    /// The notes (注意事項) of BOP001, as the seeds give them.
    static func notes(_ language: Language) -> [String] {
        language == .ja
            ? [
                "<ワンタイムパスワードとは>",
                "・「ワンタイムパスワード」とは、1分毎に更新される使い捨てのパスワードで、利用者はスマートフォンからワンタイムパスワードを取得し、パソコンに入力します。",
                "・接続時に、「ログインID」と「ログインパスワード」に加えて「ワンタイムパスワード」を入力することにより、不正利用の防止を強化することができます。",
                "<トークンとは>",
                "・「トークン」とは、ワンタイムパスワードを生成しスマートフォンに表示する方式のことです。",
                "・「トークン発行」とは、お客様のスマートフォンに「トークン」として利用するための専用プログラムをダウンロードする作業のことです。",
                "<ワンタイムパスワード利用解除とは>",
                "・スマートフォンの機種変更等で現在のワンタイムパスワードアプリが使用できなくなる場合にワンタイムパスワード利用解除を実施して下さい。次回ログイン時から、「ワンタイムパスワード認証画面」が表示されず、通常のログイン手続きとなります。",
                "・翌日以降に、新たに「トークン発行」「ワンタイムパスワード利用開始」を実施してワンタイムパスワードの利用を再開下さい。",
                "<重要>",
                "・ワンタイムパスワードの生成には現在の日時を使用しますので、スマートフォンの日時が正しいかご確認ください。",
            ]
            : [
                "<What is a one-time password?>",
                "• A one-time password is a disposable password that changes every minute. You read it from your smartphone and type it on your PC.",
                "• Entering it in addition to your login ID and login password protects your account against misuse.",
                "<What is a token?>",
                "• The token is the app that generates one-time passwords and shows them on your smartphone.",
                "• Token issuance sets up that app on your smartphone.",
                "<Cancelling the one-time password>",
                "• Cancel it when you can no longer use the current app, for example when changing phones. From your next login no one-time password is asked.",
                "• From the next day on, issue a new token and start using it again.",
                "<Important>",
                "• One-time passwords depend on the current time: make sure your smartphone's clock is right.",
            ]
    }
}
