import Foundation
import Ichigo

extension Strings {
    /// The corporate (法人) and operator console screens' texts, in the seeds' wording where they give it.
    static let corporateTable: [String: (ja: String, en: String)] = [
        // Logins
        "corp.userLoginTitle": ("ログイン（法人・利用者）", "Log in (business users)"),
        "corp.adminLoginTitle": ("管理者ログイン", "Administrator login"),
        "corp.userLoginNote": ("法人のお客さまの利用者用ログインです。", "For users of a business contract."),
        "corp.adminLoginNote": (
            "マスターユーザ・管理者ユーザ専用のログインです（管理業務・ご契約先管理情報変更）。",
            "For the master user and administrators (administration and contract settings)."
        ),
        "corp.loginLink": ("法人のお客さまはこちら", "Business customers log in here"),
        "corp.retailLink": ("個人のお客さま", "Personal customers"),
        "corp.otpLoginLead": (
            "トークンに表示されているワンタイムパスワードを入力して下さい。", "Enter the one-time password your token shows."
        ),
        "oli001.title": ("オペレータログイン", "Operator login"),
        // Navigation
        "corp.navTransfer": ("振込振替", "Transfers"),
        "corp.navApprovals": ("承認", "Approvals"),
        "corp.navAdmin": ("管理業務", "Administration"),
        "corp.toAdminTop": ("業務選択へ", "To the menu"),
        // Common words
        "corp.serial": ("シリアル番号", "Serial number"),
        "corp.pin": ("ご契約先確認暗証番号", "Contract confirmation PIN"),
        "corp.conf": ("確認パスワード", "Confirmation password"),
        "corp.confInput": ("確認パスワードの入力", "Confirmation password"),
        // Seed 002 calls it 確認パスワード: the corporate screens say so in their errors too.
        "corp.password.confirmation_wrong": ("確認パスワードが正しくありません。", "The confirmation password is not correct."),
        "corp.password.confirmation_last_try": (
            "確認パスワードが正しくありません。あと1回誤入力すると、ご利用が停止されます。",
            "The confirmation password is not correct. One more wrong password will stop your access."
        ),
        "corp.limit": ("限度額", "Limit"),
        "corp.name": ("利用者名", "Name"),
        "corp.role": ("利用者区分", "Role"),
        "corp.email": ("メールアドレス", "E-mail address"),
        "corp.target": ("対象利用者", "User"),
        "corp.authority": ("権限", "Authority"),
        "corp.granted": ("権限付与", "Granted"),
        "corp.use": ("利用", "Use"),
        "corp.yes": ("あり", "Yes"),
        "corp.no": ("なし", "No"),
        "corp.change": ("変更", "Change"),
        "corp.execute": ("実行", "Execute"),
        "corp.register": ("利用登録", "Register a token"),
        "corp.deregister": ("利用登録解除", "Remove a registration"),
        "corp.registerButton": ("登録", "Register"),
        "corp.later": ("後で登録する", "Later"),
        "corp.currentMode": ("現在の設定", "Current setting"),
        "corp.stopped": (
            "ワンタイムパスワードの誤入力が規定回数を超えたため、ワンタイムパスワードが必要なお取引を停止しています。同じトークンをご利用の利用者も停止されています。ご契約先の管理者（マスターユーザ・管理者ユーザ）に利用停止解除をご依頼ください。",
            "Too many wrong one-time passwords: transactions that need one are stopped, also for every user sharing the token. Ask your administrator (master user or administrator) to lift the stop."
        ),
        "corp.revoked.user": (
            "ご利用のトークン（シリアル番号 %@）は失効しました。このトークンのワンタイムパスワードは今後ご利用いただけないため、ワンタイムパスワードが必要なお取引はできません。ご契約先の管理者（マスターユーザ・管理者ユーザ）に新しいトークンの利用登録をご依頼ください。",
            "Your token (serial number %@) has been revoked: its one-time passwords no longer work, so transactions that need one cannot be done. Ask your administrator (master user or administrator) to register a new token for you."
        ),
        "corp.revoked.selfRegistration": (
            "ご利用のトークン（シリアル番号 %@）は失効しました。このトークンのワンタイムパスワードは今後ご利用いただけません。新しいトークン裏面の「シリアル番号」と「ワンタイムパスワード」を入力して、利用開始登録を行ってください。",
            "Your token (serial number %@) has been revoked: its one-time passwords no longer work. Register your new token: enter the serial number on its back and the one-time password it shows."
        ),
        "corp.revoked.admin": (
            "ご利用のトークン（シリアル番号 %@）は失効しました。このトークンのワンタイムパスワードは今後ご利用いただけません。「ご契約先管理情報変更」→「利用者情報登録／変更」→「利用登録」から新しいトークンの利用登録を行ってください。",
            "Your token (serial number %@) has been revoked: its one-time passwords no longer work. Register a new token under “Contract settings” → “Users and token settings” → “Register a token”."
        ),
        "corp.noAccounts": (
            "ご利用いただける口座はありません。口座のご利用には、ご契約先の管理者（マスターユーザ・管理者ユーザ）による権限の設定が必要です。",
            "No account is available to you. Your administrator (master user or administrator) gives users their accounts."
        ),
        "role.customer": ("個人", "Personal"),
        "role.master": ("マスターユーザ", "Master user"),
        "role.administrator": ("管理者ユーザ", "Administrator"),
        "role.ordinary": ("一般ユーザ", "User"),
        "authority.transfer": ("振込振替", "Transfers"),
        "authority.transfer_approval": ("振込振替の承認", "Approval of transfers"),
        "mode.shared": ("全ての利用者が同じトークンを使用する", "All users use the same token"),
        "mode.individual": ("全ての利用者が異なるトークンを使用する", "Each user uses their own token"),
        "state.awaiting_app_setup": ("アプリ初期設定待ち", "Awaiting app set-up"),
        "state.issued": ("発行済（未使用）", "Issued (not yet used)"),
        "state.active": ("利用中", "In use"),
        "state.locked": ("停止中", "Stopped"),
        "state.cancelled": ("解除済", "Cancelled"),
        "state.revoked": ("失効", "Revoked"),
        "hint.serial": ("(SKTH・SKTSに続く半角数字 トークン裏面に記載)", "(SKTH or SKTS and digits, on the back of the token)"),
        "hint.otp6": ("(半角数字6桁)", "(6 half-width digits)"),
        "hint.pin": ("(4～8桁の半角数字)", "(4 to 8 half-width digits)"),
        // The domain's message for the error (one text, not a copy).
        "field.invalid_limit": (
            WebMessages.text("field.invalid_limit", in: .ja), WebMessages.text("field.invalid_limit", in: .en)
        ),
        // HTP001 and self-registration
        "hor001.title": ("ワンタイムパスワード利用開始登録", "Start using a one-time password token"),
        "hor001.lead": (
            "ワンタイムパスワードを利用するには、トークンの利用登録が必要となります。トークン裏面の「シリアル番号」と「ワンタイムパスワード」を入力後、「登録」をクリックしてください。",
            "To use one-time passwords, register your token: enter the serial number on its back and the one-time password it shows, then press “Register”."
        ),
        "hor001.note": (
            "トークン1個を複数の利用者で共有して利用することが可能です。", "One token may be shared by several users."
        ),
        "hor002.title": ("ワンタイムパスワード利用開始登録完了", "Token registered"),
        "hor002.lead": ("ワンタイムパスワードの利用開始登録が完了しました。", "Your token is registered."),
        "hor002.next": (
            "ワンタイムパスワード利用開始登録完了のご案内が電子メールにて送信されますのでご確認ください。",
            "A confirmation (利用開始登録完了のご案内) has been sent to you by e-mail."
        ),
        "steps.hor.1": ("利用開始登録", "Registration"),
        "steps.hor.2": ("登録完了", "Complete"),
        // Transfers
        "hff001.title": ("振込振替データ作成", "Create a transfer"),
        "hff002.title": ("振込振替データ作成内容確認", "Confirm the transfer data"),
        "hff002.lead": (
            "内容をご確認のうえ、確認パスワードを入力し、「作成する」ボタンを押して下さい。作成したデータは承認権限のある利用者の承認後に実行されます。",
            "Check the details, enter your confirmation password and press “Create”. An approver carries it out."
        ),
        "hff003.title": ("振込振替データ作成完了", "Transfer data created"),
        "hff003.lead": ("振込振替データを作成しました。承認をお待ちください。", "The transfer data is created and awaits approval."),
        "steps.hff.1": ("振込内容入力", "Details"),
        "steps.hff.2": ("内容確認", "Confirm"),
        "steps.hff.3": ("作成完了", "Created"),
        "corp.createButton": ("作成する", "Create"),
        "hsn001.title": ("承認待ちデータ一覧", "Transfers awaiting approval"),
        "hsn001.lead": ("承認するデータの「承認」ボタンを押して下さい。", "Press “Approve” for the transfer to approve."),
        "hsn002.title": ("振込振替の実行確認", "Approve the transfer"),
        "hsn002.lead": (
            "振込・振替の承認時、従来の「確認パスワード」に加え、「ワンタイムパスワード」を入力し、「承認実行」をクリックしてください。",
            "To approve, enter your confirmation password and the one-time password, then press “Approve and execute”."
        ),
        "hsn002.leadSign": (
            "振込・振替の承認時、従来の「確認パスワード」に加え、「取引認証番号」を入力し、「承認実行」をクリックしてください。",
            "To approve, enter your confirmation password and the transaction authentication number, then press “Approve and execute”."
        ),
        "hsn002.leadNoToken": (
            "承認にはワンタイムパスワードが必要です。トークンの利用登録を行ってから承認してください。",
            "Approving needs a one-time password: register a token first."
        ),
        "hsn003.title": ("振込振替の承認完了", "Transfer approved"),
        "hsn003.lead": ("承認を実行しました。お振込を受け付けました。", "Approved: the transfer has been carried out."),
        "steps.hsn.1": ("承認実行確認", "Confirm"),
        "steps.hsn.2": ("承認完了", "Approved"),
        "corp.pending": ("承認待ち", "Awaiting approval"),
        "corp.approvedRecent": ("最近承認されたデータ", "Recently approved"),
        "corp.noPending": ("承認待ちのデータはありません。", "Nothing awaits approval."),
        "corp.createdAt": ("作成日時", "Created"),
        "corp.creator": ("作成者", "Created by"),
        "corp.approver": ("承認者", "Approved by"),
        "corp.approveButton": ("承認", "Approve"),
        "corp.approveExecute": ("承認実行", "Approve and execute"),
        // Admin menus
        "hkg001.title": ("業務選択", "Menu"),
        "hkg001.lead": ("「管理業務」の業務を選択してください。", "Choose an administration task."),
        "hrk001.title": ("利用者管理", "User management"),
        "hrk001.titleDesc": (
            "利用者情報の管理、ワンタイムパスワードの管理（利用停止解除・トークンの失効）", "Users' authorities; stopped and revoked tokens"
        ),
        "hrk001.lead": (
            "利用者管理メニューを選択してください。※マスターユーザ・管理者ユーザの操作となります。",
            "Choose a task. (For the master user and administrators.)"
        ),
        "hkj001.title": ("ご契約先管理情報変更", "Contract settings"),
        "hkj001.titleDesc": ("利用者情報登録／変更、ワンタイムパスワードの設定", "Users and one-time password settings"),
        "hkj001.lead": ("「利用者情報登録／変更」をクリックしてください。", "Press “Users and token settings”."),
        "hrk002.menu": ("利用者情報の管理", "User information"),
        "hrk002.menuDesc": ("利用者の権限・口座・限度額を変更します。", "Change users' authorities, accounts and limits."),
        "hom001.title": ("ワンタイムパスワードの管理", "One-time password management"),
        "hom001.titleDesc": ("利用停止解除、トークンの失効", "Lift a stop, revoke a token"),
        "hom001.lead": ("操作を選択してください。", "Choose a task."),
        "hom001.unlock": ("ワンタイムパスワードの利用停止解除", "Lift a one-time password stop"),
        "hom001.unlockDesc": ("停止中のトークンの利用停止を解除します。", "Lift the stop of a stopped token."),
        "hom001.revoke": ("トークンの失効", "Revoke a token"),
        "hom001.revokeDesc": ("トークンを失効させます（再び使うことはできません）。", "Revoke a token for good."),
        // Permissions
        "hrk002.title": ("利用者一覧", "Users"),
        "hrk002.lead": ("「利用者一覧」から担当者を選択のうえ、「変更」をクリックしてください。", "Select a user, then press “Change”."),
        "hrk003.title": ("利用者変更[基本情報]", "Change user [basic information]"),
        "hrk003.lead": ("「利用者基本情報」が表示されますので、「次へ」をクリックしてください。", "Check the user's basic information, then press “Next”."),
        "hrk003.self": ("ご自身の利用者情報です。", "This is your own user."),
        "hrk004.title": ("利用者変更[権限]", "Change user [authorities]"),
        "hrk004.lead": (
            "振込振替の必要な登録内容欄にチェックを入れ「次へ」をクリックしてください。", "Tick the authorities the user needs, then press “Next”."
        ),
        "hrk005.title": ("利用者変更[口座]", "Change user [accounts]"),
        "hrk005.lead": (
            "利用する口座を選択し、「振込振替」の限度額を確認のうえ、「変更」をクリックしてください。",
            "Choose the accounts and check each transfer limit, then press “Change”."
        ),
        "hrk006.title": ("利用者登録確認", "Confirm the user change"),
        "hrk006.lead": (
            "登録内容を確認のうえ、「確認パスワード」「ワンタイムパスワード」を入力し「実行」をクリックしてください。",
            "Check the change, enter your confirmation password and one-time password, then press “Execute”."
        ),
        "hrk007.title": ("利用者登録結果", "User change result"),
        "hrk007.lead": ("利用者情報を変更しました。登録内容をご確認ください。", "The user is changed. Please check the result."),
        "hrk007.next": (
            "※「権限登録の内容」を反映するには、一旦「ログアウト」後（インターネットも閉じます）再度、インターネットを起動後「当行ホームページ」より「ログイン」願います。",
            "The new authorities apply from the user's next login: log out (close the browser) and log in again."
        ),
        "steps.hrk.1": ("基本情報", "Basic"),
        "steps.hrk.2": ("権限", "Authorities"),
        "steps.hrk.3": ("口座", "Accounts"),
        "steps.hrk.4": ("確認", "Confirm"),
        "steps.hrk.5": ("結果", "Result"),
        // Unlock and revoke
        "hom002.title": ("ワンタイムパスワード利用停止解除一覧", "Lift a one-time password stop"),
        "hom002.lead": (
            "対象ユーザを選択し、「確認パスワード」を入力し、「停止解除」をクリックします。",
            "Select the users, enter your confirmation password and press “Lift the stop”."
        ),
        "hom002.note": (
            "※トークン（ワンタイムパスワード生成機）を複数の利用者で共有している場合、利用者1名を選択すると共有している他の利用者も自動的に選択されます。",
            "When a token is shared, selecting one user selects every user sharing it."
        ),
        "hom003.title": ("ワンタイムパスワード利用停止解除結果", "Stop lifted"),
        "hom003.lead": ("ワンタイムパスワードの利用停止を解除しました。", "The stop is lifted for these tokens:"),
        "steps.hom.1": ("対象選択", "Select"),
        "steps.hom.2": ("解除完了", "Lifted"),
        "corp.unlockButton": ("停止解除", "Lift the stop"),
        "corp.noStopped": ("利用停止中の利用者はいません。", "No user is stopped."),
        "hom004.title": ("トークンの失効", "Revoke a token"),
        "hom004.lead": (
            "対象ユーザを選択し、「確認パスワード」「ワンタイムパスワード」を入力のうえ、「失効」をクリックします。",
            "Select the user, enter your confirmation password and one-time password, then press “Revoke”."
        ),
        "hom004.note": (
            "失効したトークンは二度と利用できません。同じトークンを使用している利用者も利用できなくなります。",
            "A revoked token never works again, for every user sharing it."
        ),
        "hom005.title": ("トークンの失効結果", "Token revoked"),
        "hom005.lead": ("次のトークンを失効しました。新しいトークンの利用登録を行ってください。", "This token is revoked. Register a new token:"),
        "steps.hom-revoke.1": ("対象選択", "Select"),
        "steps.hom-revoke.2": ("失効完了", "Revoked"),
        "corp.revokeButton": ("失効", "Revoke"),
        "corp.noTokens": ("利用登録されているトークンはありません。", "No token is registered."),
        // Token settings (seed 004)
        "hkj002.title": ("利用者情報登録／変更", "Users and token settings"),
        "hkj002.titleDesc": ("利用者情報選択、ワンタイムパスワードの設定", "Users and one-time password settings"),
        "hkj002.lead": ("現在の設定をご確認のうえ、ご希望の設定に応じて操作を行ってください。", "Check the current settings and choose what to change."),
        "hkj002.users": ("利用者情報選択", "Users"),
        "hkj002.otpHead": ("ワンタイムパスワードの設定", "One-time password settings"),
        "hkj002.step1": (
            "ワンタイムパスワード認証の利用形態を変更する場合は「変更」ボタンを押してください。",
            "To change how users hold tokens, press “Change”."
        ),
        "hkj002.step2": (
            "トークン情報の利用登録を行う場合は、「利用登録」ボタンを、利用登録解除する場合は「利用登録解除」ボタンを押してください。",
            "To register a token press “Register a token”; to remove a registration press “Remove a registration”."
        ),
        "hts001.title": ("ワンタイムパスワード利用形態設定", "One-time password usage mode"),
        "hts001.lead": ("利用形態を選択し「次へ」をクリックしてください。", "Choose the usage mode, then press “Next”."),
        "hts001.select": ("利用形態の選択", "Usage mode"),
        "hts001.warning": (
            "利用形態を変更する場合は、トークンの利用登録が解除されます。", "Changing the usage mode removes every token registration."
        ),
        "hts002.title": ("ワンタイムパスワード利用形態設定確認", "Confirm the usage mode"),
        "hts002.lead": ("内容をご確認のうえ、確認パスワードを入力し「実行」をクリックしてください。", "Check, enter your confirmation password and press “Execute”."),
        "hts002.new": ("変更後の設定", "New setting"),
        "hts002.released": ("利用登録が解除される利用者", "Users whose registration will be removed"),
        "steps.hts.1": ("利用形態選択", "Select"),
        "steps.hts.2": ("確認", "Confirm"),
        "hts.changedRegister": (
            "利用形態を変更しました。トークンの利用登録はすべて解除されました。続けて、トークンの利用登録を行ってください。",
            "The usage mode is changed and every token registration was removed. Now register the tokens."
        ),
        "hts.unchanged": ("利用形態は変更されていません。", "The usage mode is unchanged."),
        "hts.deregistered": ("トークンの利用登録を解除しました。", "The registration is removed."),
        "hts003.title": ("ワンタイムパスワード利用登録", "Register a token"),
        "hts003.lead": (
            "該当の利用者を選択し、「シリアル番号」「ワンタイムパスワード」「ご契約先確認暗証番号」を入力後に「OK」をクリックしてください。（登録が完了すると、画面上にシリアル番号が表示されます）",
            "Select the users, enter the serial number, the one-time password and the contract confirmation PIN, then press “OK”. The registered serial number is shown."
        ),
        "hts003.current": ("現在のトークン情報", "Current tokens"),
        "hts003.users": ("利用者の選択", "Users"),
        "hts003.shared": (
            "「全ての利用者が同じトークンを使用する」設定のため、全ての利用者に登録されます。",
            "The contract shares one token: it is registered for every user."
        ),
        "hts003.input": ("トークン情報の入力", "Token"),
        "hts003.note": (
            "トークンには、製品のひとつひとつを識別するために、それぞれに異なるシリアル番号が付番されています。トークンのご利用には事前に、管理者メニューからシリアル番号の登録が必要です。",
            "Each token has its own serial number; register it here before the token is used."
        ),
        "hts004.title": ("ワンタイムパスワード利用登録完了", "Token registered"),
        "hts004.lead": ("トークンの利用登録が完了しました。", "The token is registered for:"),
        "hts004.next": (
            "ご利用のトークンのシリアル番号が変更になった場合は再度、管理者メニューからシリアル番号の登録が必要です。",
            "If the token changes (new phone, dead battery), register the new serial number again."
        ),
        "steps.hts-register.1": ("トークン情報入力", "Token details"),
        "steps.hts-register.2": ("登録完了", "Registered"),
        "hts005.title": ("ワンタイムパスワード利用登録解除", "Remove a token registration"),
        "hts005.lead": ("利用登録を解除する利用者を選択し、確認パスワードを入力してください。", "Select the users, enter your confirmation password."),
        // Operator console
        "op.menu": ("オペレータメニュー", "Operator menu"),
        "op.lead": ("トークン在庫と利用者の状況です。", "Token inventory and customers."),
        "op.counts": ("トークン在庫", "Token inventory"),
        "op.kind": ("種類", "Kind"),
        "op.state": ("状態", "State"),
        "op.count": ("件数", "Count"),
        "op.owner": ("ご契約先", "Contract"),
        "op.failures": ("誤入力回数", "Failures"),
        "op.updated": ("更新日時", "Updated"),
        "op.inventory": ("在庫（未割当）", "Inventory (unassigned)"),
        "op.search": ("検索", "Search"),
        "op.none": ("該当するデータはありません。", "Nothing found."),
        "op.holders": ("利用者", "Holders"),
        "op.actions": ("操作", "Actions"),
        "op.unlock": ("利用停止解除", "Unlock"),
        "op.revoke": ("失効", "Revoke"),
        "op.reissue": ("在庫に戻す（再発行）", "Return to inventory"),
        "op.assign": ("割当（営業店窓口受付）", "Assign (branch application)"),
        "op.assignTo": ("割当先の個人のお客さまのログインID", "Login ID of the personal customer"),
        "op.assignSerial": ("割り当てるハードウェアトークンのシリアル番号", "Serial of the hardware token to assign"),
        "op.loginStopped": ("ログイン停止", "Login stopped"),
        "op.unlockLogin": ("ログイン停止解除", "Lift the login stop"),
        "op.contract": ("ご契約先", "Contract"),
        "op.token": ("トークン", "Token"),
        "op.party": ("利用者・シリアル番号", "User or serial"),
        "op.action": ("操作", "Action"),
        "op.allActions": ("すべての操作", "All actions"),
        "op.from": ("開始日", "From"),
        "op.until": ("終了日", "Until"),
        "op.at": ("日時", "Time"),
        "op.actor": ("実行者", "Actor"),
        "op.subject": ("対象", "Subject"),
        "op.outcome": ("結果", "Outcome"),
        "op.reason": ("詳細", "Detail"),
        "op.done.unlock": ("利用停止を解除しました。", "Unlocked."),
        "op.done.revoke": ("失効しました。", "Revoked."),
        "op.done.reissue": ("在庫に戻しました。", "Returned to the inventory."),
        "op.done.assign": ("ハードウェアトークンを割り当てました（トークン発行済）。", "The hardware token is assigned (issued)."),
        "op.done.unlock-login": ("ログイン停止を解除しました。", "The login stop is lifted."),
        "otk001.title": ("トークン在庫一覧", "Token inventory"),
        "otk002.title": ("トークン詳細", "Token"),
        "ous001.title": ("利用者検索", "Customer search"),
        "ous002.title": ("利用者詳細", "Customer"),
        "oau001.title": ("監査ログ", "Audit trail"),
    ]
}
