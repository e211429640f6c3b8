import Foundation

/// The mails that tell people a lock stopped them (PSD2 RTS Art. 4: the payer is told when access is blocked,
/// and whom to contact): a token locked by wrong codes, a login stopped by wrong passwords. Sent to the users
/// concerned and, for a corporate contract, to its master user and administrators, who can lift a token lock.
///
/// The mails are written in the same transaction as the lock (`recordFailure` / `recordPasswordFailure` take
/// them), so a lock is never committed without its notice. Their texts are in `MailTexts` (`lock.*`).
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
            let mail = Mail.tokenLocked(
                bank: bankName, name: user.name, serial: token.serial, threshold: threshold,
                corporate: user.isCorporate, contact: contact, at: now)
            mails.append(OutgoingMail(recipient: email, mail: mail, createdAt: now))
        }
        if let contractID = token.contractID ?? holders.first(where: \.isCorporate)?.contractID {
            for admin in try await administrators(of: contractID) {
                guard let email = admin.email, notified.insert(email.lowercased()).inserted else { continue }
                let mail = Mail.tokenLockedAdmin(
                    bank: bankName, name: admin.name, holders: holders.map(\.name), serial: token.serial,
                    threshold: threshold, contact: contact, at: now)
                mails.append(OutgoingMail(recipient: email, mail: mail, createdAt: now))
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
            let mail = Mail.loginLocked(
                bank: bankName, name: user.name, threshold: threshold, contact: contact, at: now)
            mails.append(OutgoingMail(recipient: email, mail: mail, createdAt: now))
        }
        if user.isCorporate {
            for admin in try await administrators(of: user.contractID) where admin.id != user.id {
                guard let email = admin.email, notified.insert(email.lowercased()).inserted else { continue }
                let mail = Mail.loginLockedAdmin(
                    bank: bankName, name: admin.name, user: user.name, loginID: user.loginID.rawValue,
                    threshold: threshold, contact: contact, at: now)
                mails.append(OutgoingMail(recipient: email, mail: mail, createdAt: now))
            }
        }
        return mails
    }

    private func administrators(of contract: ContractID) async throws -> [User] {
        try await repository.users(of: contract).filter { $0.role == .master || $0.role == .administrator }
    }
}
