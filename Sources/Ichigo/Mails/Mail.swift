import Foundation

/// A mail to send: which one (`key`) and what goes into it. `composed(in:)` fills its texts from `MailTexts`.
///
/// Mails go out in Japanese: Ichigo does not know a recipient's language (users have no language setting), so
/// the English texts are there for a bank that sends them in English.
public enum Mail: Sendable, Hashable {
    case issuanceMailPassword(bank: String, name: String, code: String, minutes: Int, at: Date)
    case tokenIssued(bank: String, serviceID: String, appUserID: String, url: String, at: Date)
    case useStarted(bank: String, name: String, at: Date)
    case corporateRegistered(bank: String, name: String, serial: SerialNumber, at: Date)
    case passkeyStepUpPassword(bank: String, name: String, code: String, minutes: Int, at: Date)
    /// `model`: the authenticator's product name, when its AAGUID is known.
    case passkeyRegistered(bank: String, name: String, passkey: String, model: String?, contact: String, at: Date)
    case passkeyRemoved(bank: String, name: String, passkeys: [String], byBank: Bool, contact: String, at: Date)
    case tokenLocked(
        bank: String, name: String, serial: SerialNumber, threshold: Int, corporate: Bool, contact: String, at: Date)
    case tokenLockedAdmin(
        bank: String, name: String, holders: [String], serial: SerialNumber, threshold: Int, contact: String, at: Date)
    case loginLocked(bank: String, name: String, threshold: Int, contact: String, at: Date)
    case loginLockedAdmin(
        bank: String, name: String, user: String, loginID: String, threshold: Int, contact: String, at: Date)

    /// Which mail this is.
    public var key: MailKey {
        switch self {
        case .issuanceMailPassword: .issuanceMailPassword
        case .tokenIssued: .tokenIssued
        case .useStarted: .useStarted
        case .corporateRegistered: .corporateRegistered
        case .passkeyStepUpPassword: .passkeyStepUpPassword
        case .passkeyRegistered: .passkeyRegistered
        case .passkeyRemoved: .passkeyRemoved
        case .tokenLocked: .tokenLocked
        case .tokenLockedAdmin: .tokenLockedAdmin
        case .loginLocked: .loginLocked
        case .loginLockedAdmin: .loginLockedAdmin
        }
    }

    /// The values of the placeholders of this mail's texts in `language`.
    public func values(in language: Language) -> [String: String] {
        func phrase(_ key: String, _ values: [String: String] = [:]) -> String {
            MailTexts.phrase(key, in: language, values)
        }
        func dateTime(_ date: Date) -> String { MailTexts.dateTime(date, in: language) }
        switch self {
        case .issuanceMailPassword(let bank, let name, let code, let minutes, let at),
            .passkeyStepUpPassword(let bank, let name, let code, let minutes, let at):
            return ["bank": bank, "name": name, "code": code, "minutes": String(minutes), "dateTime": dateTime(at)]
        case .tokenIssued(let bank, let serviceID, let appUserID, let url, let at):
            return [
                "bank": bank, "serviceID": serviceID, "appUserID": appUserID, "url": url, "dateTime": dateTime(at),
            ]
        case .useStarted(let bank, let name, let at):
            return ["bank": bank, "name": name, "dateTime": dateTime(at)]
        case .corporateRegistered(let bank, let name, let serial, let at):
            return ["bank": bank, "name": name, "serial": serial.rawValue, "dateTime": dateTime(at)]
        case .passkeyRegistered(let bank, let name, let passkey, let model, let contact, let at):
            return [
                "bank": bank, "name": name, "passkey": passkey,
                "model": model.map { phrase("passkey.model", ["model": $0]) } ?? "", "contact": contact,
                "dateTime": dateTime(at),
            ]
        case .passkeyRemoved(let bank, let name, let passkeys, let byBank, let contact, let at):
            let list = MailTexts.list(passkeys.map { phrase("passkey.quoted", ["passkey": $0]) }, in: language)
            return [
                "bank": bank, "name": name,
                "who": phrase(byBank ? "passkeyRemoved.byBank" : "passkeyRemoved.byCustomer"),
                "passkeys": phrase(passkeys.count == 1 ? "passkeyRemoved.one" : "passkeyRemoved.many", ["list": list]),
                "contact": contact, "dateTime": dateTime(at),
            ]
        case .tokenLocked(let bank, let name, let serial, let threshold, let corporate, let contact, let at):
            return [
                "bank": bank, "name": name, "serial": serial.rawValue, "threshold": String(threshold),
                "unlock": phrase(corporate ? "unlock.corporate" : "unlock.retail"), "contact": contact,
                "dateTime": dateTime(at),
            ]
        case .tokenLockedAdmin(let bank, let name, let holders, let serial, let threshold, let contact, let at):
            return [
                "bank": bank, "name": name, "holders": MailTexts.list(holders, in: language), "serial": serial.rawValue,
                "threshold": String(threshold), "contact": contact, "dateTime": dateTime(at),
            ]
        case .loginLocked(let bank, let name, let threshold, let contact, let at):
            return [
                "bank": bank, "name": name, "threshold": String(threshold), "contact": contact,
                "dateTime": dateTime(at),
            ]
        case .loginLockedAdmin(let bank, let name, let user, let loginID, let threshold, let contact, let at):
            return [
                "bank": bank, "name": name, "user": user, "loginID": loginID, "threshold": String(threshold),
                "contact": contact, "dateTime": dateTime(at),
            ]
        }
    }

    /// The subject and body in `language` (Japanese unless a bank chooses English).
    public func composed(in language: Language = .ja) -> MailTexts.Text {
        let text = MailTexts.text(key, in: language)
        let values = self.values(in: language)
        return MailTexts.Text(
            subject: MailTexts.fill(text.subject, with: values), body: MailTexts.fill(text.body, with: values))
    }
}

extension OutgoingMail {
    /// `mail` to `recipient`, composed in `language`.
    public init(recipient: String, mail: Mail, language: Language = .ja, createdAt: Date) {
        let text = mail.composed(in: language)
        self.init(recipient: recipient, subject: text.subject, body: text.body, createdAt: createdAt)
    }
}
