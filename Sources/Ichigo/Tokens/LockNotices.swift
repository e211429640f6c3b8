import Foundation

/// The mails that tell people a lock stopped them (PSD2 RTS Art. 4: the payer is told when access is blocked,
/// and whom to contact): a token locked by wrong codes, a login stopped by wrong passwords. Sent to the users
/// concerned and, for a corporate contract, to its master user and administrators, who can lift a token lock.
///
/// The mails are written in the same transaction as the lock (`recordFailure` / `recordPasswordFailure` take
/// them), so a lock is never committed without its notice.
public struct LockNotices: Sendable {
    let repository: any IchigoRepository
    let bankName: String
    /// Whom to contact, as printed in the mails (`bank.contact`).
    let contact: String

    public init(repository: any IchigoRepository, bankName: String, contact: String) {
        self.repository = repository
        self.bankName = bankName
        self.contact = contact
    }

    /// Mails for `token` locking now after `threshold` wrong codes.
    public func tokenLocked(_ token: Token, threshold: Int, at now: Date) async throws -> [OutgoingMail] {
        let holders = try await repository.users(holding: token.id)
        var mails: [OutgoingMail] = []
        var notified = Set<String>()
        for user in holders {
            guard let email = user.email, notified.insert(email.lowercased()).inserted else { continue }
            let (subject, body) = tokenLockedMail(name: user.name, serial: token.serial, threshold: threshold,
                                                  corporate: user.isCorporate, at: now)
            mails.append(OutgoingMail(recipient: email, subject: subject, body: body, createdAt: now))
        }
        if let contractID = token.contractID ?? holders.first(where: \.isCorporate)?.contractID {
            for admin in try await administrators(of: contractID) {
                guard let email = admin.email, notified.insert(email.lowercased()).inserted else { continue }
                let (subject, body) = tokenLockedAdminMail(
                    name: admin.name, holders: holders.map(\.name), serial: token.serial, threshold: threshold, at: now)
                mails.append(OutgoingMail(recipient: email, subject: subject, body: body, createdAt: now))
            }
        }
        return mails
    }

    /// Mails for `user`'s login stopping now after `threshold` wrong passwords.
    public func loginLocked(_ user: User, threshold: Int, at now: Date) async throws -> [OutgoingMail] {
        var mails: [OutgoingMail] = []
        var notified = Set<String>()
        if let email = user.email {
            notified.insert(email.lowercased())
            let (subject, body) = loginLockedMail(name: user.name, threshold: threshold, at: now)
            mails.append(OutgoingMail(recipient: email, subject: subject, body: body, createdAt: now))
        }
        if user.isCorporate {
            for admin in try await administrators(of: user.contractID) where admin.id != user.id {
                guard let email = admin.email, notified.insert(email.lowercased()).inserted else { continue }
                let (subject, body) = loginLockedAdminMail(
                    name: admin.name, user: user.name, loginID: user.loginID.rawValue, threshold: threshold, at: now)
                mails.append(OutgoingMail(recipient: email, subject: subject, body: body, createdAt: now))
            }
        }
        return mails
    }

    private func administrators(of contract: ContractID) async throws -> [User] {
        try await repository.users(of: contract).filter { $0.role == .master || $0.role == .administrator }
    }

    // MARK: Texts

    func tokenLockedMail(name: String, serial: SerialNumber, threshold: Int, corporate: Bool, at now: Date)
        -> (String, String)
    {
        let unlock =
            corporate
            ? "ご利用の再開（利用停止解除）は、ご契約先のマスターユーザまたは管理者ユーザが管理者メニューから行えます。"
            : "ご利用の再開（利用停止解除）には、当行での手続きが必要です。"
        return ("【\(bankName)】ワンタイムパスワードのご利用を停止しました", """
            \(name) 様

            ワンタイムパスワードの誤入力が\(threshold)回続いたため、ワンタイムパスワードのご利用を停止しました。
            ワンタイムパスワードが必要なお取引（お振込、承認など）は、現在ご利用いただけません。
            \(unlock)

            トークンのシリアル番号: \(serial.rawValue)
            停止日時: \(RetailMails.dateTime(now))

            ご自身の操作でない場合は、第三者がログインしようとしたおそれがあります。至急、下記までご連絡ください。
            お問い合わせ先: \(contact)

            \(bankName)
            """)
    }

    func tokenLockedAdminMail(name: String, holders: [String], serial: SerialNumber, threshold: Int, at now: Date)
        -> (String, String)
    {
        ("【\(bankName)】ご契約先のワンタイムパスワードが利用停止になりました", """
            \(name) 様（管理者）

            ご契約先のワンタイムパスワード（トークン \(serial.rawValue)）の誤入力が\(threshold)回続いたため、ご利用を停止しました。
            このトークンをご利用のユーザ: \(holders.isEmpty ? "なし" : holders.joined(separator: "、"))
            停止日時: \(RetailMails.dateTime(now))

            ワンタイムパスワードが必要なお取引は、このトークンでは現在ご利用いただけません。
            ご本人の操作であることをご確認のうえ、管理者メニューの「利用停止解除」から再開できます。
            お心当たりがない場合は、至急、下記までご連絡ください。
            お問い合わせ先: \(contact)

            \(bankName)
            """)
    }

    func loginLockedMail(name: String, threshold: Int, at now: Date) -> (String, String) {
        ("【\(bankName)】インターネットバンキングのご利用を停止しました", """
            \(name) 様

            パスワードの誤入力が\(threshold)回続いたため、インターネットバンキングのご利用を停止しました。
            停止日時: \(RetailMails.dateTime(now))

            ご利用の再開には、当行での手続きが必要です。下記までご連絡ください。
            ご自身の操作でない場合は、第三者がログインしようとしたおそれがあります。
            お問い合わせ先: \(contact)

            \(bankName)
            """)
    }

    func loginLockedAdminMail(name: String, user: String, loginID: String, threshold: Int, at now: Date)
        -> (String, String)
    {
        ("【\(bankName)】ご契約先ユーザのご利用が停止されました", """
            \(name) 様（管理者）

            ご契約先のユーザ \(user)（ログインID: \(loginID)）は、パスワードの誤入力が\(threshold)回続いたため、
            インターネットバンキングのご利用を停止しました。
            停止日時: \(RetailMails.dateTime(now))

            ご利用の再開には、当行での手続きが必要です。お心当たりがない場合は、至急、下記までご連絡ください。
            お問い合わせ先: \(contact)

            \(bankName)
            """)
    }
}
