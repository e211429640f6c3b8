/// The passkey screens' texts (パスキー), Japanese first, English second.
extension Strings {
    static let passkeyTable: [String: (ja: String, en: String)] = [
        "pk.nav": ("パスキーの管理", "Passkeys"),
        "pk.title": ("パスキーの管理", "Manage passkeys"),
        "pk.lead": (
            "パスキーを登録すると、ログインID・パスワード・ワンタイムパスワードの代わりに、スマートフォンやパソコンの生体認証・画面ロックでログインやお取引の承認ができます。パスキーは当行の正規サイトでしか使えないため、偽サイト（フィッシング）に入力させられることはありません。",
            "With a passkey you log in and approve transactions with your phone's or computer's fingerprint, face or screen lock instead of your login ID, passwords and one-time password. A passkey works only on the bank's own site, so a fake (phishing) site cannot make you give it away."
        ),
        "pk.policyRequired": (
            "パスキーを登録すると、以後のログインはパスキーのみとなります（ログインID・パスワードではログインできません）。",
            "Once you register a passkey, you log in with it only (your login ID and password no longer log you in)."
        ),
        "pk.none": ("登録されているパスキーはありません。", "No passkey is registered."),
        "pk.count": ("登録数", "Registered"),
        "pk.max": ("（最大10個）", "(at most 10)"),
        "pk.name": ("名前", "Name"),
        "pk.registered": ("登録日時", "Registered"),
        "pk.lastUsed": ("最終利用日時", "Last used"),
        "pk.model": ("認証器", "Authenticator"),
        "pk.kind": ("種類", "Kind"),
        "pk.synced": ("同期パスキー", "Synced passkey"),
        "pk.deviceBound": ("デバイス固定", "Device-bound"),
        "pk.unknownModel": ("—", "—"),
        "pk.never": ("未使用", "Not used yet"),
        "pk.suspect": ("利用停止（複製の疑い）", "Stopped (possible copy)"),
        "pk.register": ("登録", "Register"),
        "pk.rename": ("名前の変更", "Rename"),
        "pk.delete": ("削除", "Remove"),
        "pk.deleteConfirm": ("このパスキーを削除します。よろしいですか。", "Remove this passkey?"),
        "pk.stepUp.title": ("パスキーの登録（本人確認）", "Register a passkey (identity check)"),
        "pk.stepUp.lead": (
            "パスキーの登録には本人確認が必要です。確認用パスワードとワンタイムパスワードを入力して下さい。",
            "Registering a passkey needs an identity check: enter your confirmation password and one-time password."
        ),
        "pk.stepUp.leadMail": (
            "パスキーの登録には本人確認が必要です。ご登録のメールアドレスにメール通知パスワードを送信しますので、確認用パスワードとあわせて入力して下さい。",
            "Registering a passkey needs an identity check: we send a mail notification password to your registered address; enter it with your confirmation password."
        ),
        "pk.stepUp.sendMail": ("メール通知パスワードを送信する", "Send the mail notification password"),
        "pk.stepUp.mailSent": (
            "ご登録のメールアドレスにメール通知パスワードを送信しました（有効期限10分）。",
            "A mail notification password was sent to your registered address (valid for 10 minutes)."
        ),
        "pk.mailPassword": ("メール通知パスワード", "Mail notification password"),
        "pk.create.title": ("パスキーの登録", "Register a passkey"),
        "pk.create.lead": (
            "パスキーの名前を入力し、「パスキーを作成する」を押して下さい。お使いの端末の生体認証または画面ロックの解除を求められます。",
            "Enter a name for the passkey and press \"Create the passkey\". Your device will ask for your fingerprint, face or screen lock."
        ),
        "pk.create.button": ("パスキーを作成する", "Create the passkey"),
        "pk.create.nameHint": ("（30文字以内。例：私のスマートフォン）", "(up to 30 characters, e.g. My phone)"),
        "pk.done.registered": ("パスキーを登録しました。登録をお知らせするメールを送信しました。", "The passkey was registered. We sent you a mail about it."),
        "pk.done.renamed": ("パスキーの名前を変更しました。", "The passkey was renamed."),
        "pk.done.removed": ("パスキーを削除しました。削除をお知らせするメールを送信しました。", "The passkey was removed. We sent you a mail about it."),
        "pk.login.button": ("パスキーでログイン", "Log in with a passkey"),
        "pk.login.or": ("または", "or"),
        "pk.login.lead": (
            "パスキーを登録済みの方は、ログインIDを入力せずにログインできます。",
            "If you registered a passkey, you can log in without typing your login ID."
        ),
        "pk.approve.title": ("パスキーで承認", "Approve with a passkey"),
        "pk.approve.button": ("パスキーで承認", "Approve with a passkey"),
        "pk.approve.lead": (
            "この承認は上記の内容（振込先の金融機関・支店・口座番号・受取人名・金額）にのみ有効です。内容が変わると承認は無効になり、お取引は行われません。",
            "This approval is valid only for the details above (the payee's bank, branch, account, name and amount). If they change, the approval is void and nothing is carried out."
        ),
        "pk.approve.leadPermissions": (
            "この承認は上記の権限・限度額の変更にのみ有効です。内容が変わると承認は無効になります。",
            "This approval is valid only for the change of authorities and limits above. If it changes, the approval is void."
        ),
        "pk.approve.fingerprint": ("照合番号", "Reference"),
        "pk.approve.orOTP": ("または、下記の入力でも承認できます。", "Or approve with the form below."),
        "pk.msg.cancelled": (
            "パスキーの操作が取り消されたか、時間内に完了しませんでした。もう一度お試しいただくか、ほかの方法をご利用ください。",
            "The passkey request was cancelled or timed out. Try again, or use another way."
        ),
        "pk.msg.failed": ("パスキーを利用できませんでした。ほかの方法をご利用ください。", "The passkey could not be used. Please use another way."),
        "pk.msg.unsupported": (
            "お使いのブラウザはパスキーに対応していません。", "Your browser does not support passkeys."
        ),
        "pk.msg.name": ("パスキーの名前を入力して下さい。", "Enter a name for the passkey."),
        "op.removePasskeys": ("パスキーをすべて削除（紛失時）", "Remove every passkey (lost device)"),
        "op.done.remove-passkey": ("パスキーを削除しました。お客さまに通知メールを送信しました。", "The passkey was removed; the customer was mailed."),
        "op.done.remove-passkeys": ("パスキーをすべて削除しました。お客さまに通知メールを送信しました。", "Every passkey was removed; the customer was mailed."),
        "steps.pk.1": ("本人確認", "Identity check"),
        "steps.pk.2": ("パスキーの作成", "Create the passkey"),
        "steps.pk.3": ("完了", "Done"),
    ]
}
