import Foundation
import Ichigo
import Testing

/// The mail texts: both languages for every mail, every placeholder filled, and the Japanese exactly as before.
@Suite("Mail texts")
struct MailTextTests {
    static let serial = SerialNumber(rawValue: "SKTH00000001")!
    static let softwareSerial = SerialNumber(rawValue: "SKTS12345678")!

    /// One mail of each kind for the fixed input of `MailGoldens`, under the goldens' names; several for the mails
    /// whose wording depends on the case (corporate or not, who removed a passkey, an empty list).
    static func samples(bank: String, name: String, contact: String, others: [String]) -> [String: Mail] {
        let at = MailGoldens.at
        return [
            "mailPassword": .issuanceMailPassword(bank: bank, name: name, code: "12345678", minutes: 10, at: at),
            "tokenIssued": .tokenIssued(
                bank: bank, serviceID: "12345678", appUserID: "912345678901", url: "https://apps.example.jp/ichigo",
                at: at),
            "useStarted": .useStarted(bank: bank, name: name, at: at),
            "corporateRegistered": .corporateRegistered(bank: bank, name: name, serial: serial, at: at),
            "passkeyStepUpPassword": .passkeyStepUpPassword(
                bank: bank, name: name, code: "87654321", minutes: 10, at: at),
            "passkeyRegistered": .passkeyRegistered(
                bank: bank, name: name, passkey: others[2], model: "iCloud Keychain", contact: contact, at: at),
            "passkeyRegisteredUnknownModel": .passkeyRegistered(
                bank: bank, name: name, passkey: others[3], model: nil, contact: contact, at: at),
            "passkeyRemovedByCustomer": .passkeyRemoved(
                bank: bank, name: name, passkeys: [others[2]], byBank: false, contact: contact, at: at),
            "passkeyRemovedByBank": .passkeyRemoved(
                bank: bank, name: name, passkeys: [others[2], others[3]], byBank: true, contact: contact, at: at),
            "tokenLocked": .tokenLocked(
                bank: bank, name: name, serial: softwareSerial, threshold: 5, corporate: false, contact: contact, at: at
            ),
            "tokenLockedCorporate": .tokenLocked(
                bank: bank, name: name, serial: serial, threshold: 5, corporate: true, contact: contact, at: at),
            "tokenLockedAdmin": .tokenLockedAdmin(
                bank: bank, name: name, holders: [others[0], others[1]], serial: serial, threshold: 5, contact: contact,
                at: at),
            "tokenLockedAdminNoHolders": .tokenLockedAdmin(
                bank: bank, name: name, holders: [], serial: serial, threshold: 5, contact: contact, at: at),
            "loginLocked": .loginLocked(bank: bank, name: name, threshold: 5, contact: contact, at: at),
            "loginLockedAdmin": .loginLockedAdmin(
                bank: bank, name: name, user: others[0], loginID: "ichigo-staff", threshold: 5, contact: contact, at: at
            ),
        ]
    }

    static let japaneseSamples = samples(
        bank: MailGoldens.bank, name: MailGoldens.name, contact: MailGoldens.contact,
        others: ["佐藤 花子", "鈴木 一郎", "仕事用iPhone", "セキュリティキー"])
    static let englishSamples = samples(
        bank: "Ichigo Bank", name: "Taro Yamada", contact: "0120-00-0000 (weekdays 9:00-17:00)",
        others: ["Hanako Sato", "Ichiro Suzuki", "Work iPhone", "Security key"])

    @Test func everyMailHasBothLanguages() {
        #expect(Set(MailTexts.keys) == Set(MailKey.allCases))
        for key in MailKey.allCases {
            let ja = MailTexts.text(key, in: .ja)
            let en = MailTexts.text(key, in: .en)
            for text in [ja.subject, ja.body, en.subject, en.body] {
                #expect(!text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty, "\(key)")
            }
            #expect(ja.subject != en.subject && ja.body != en.body, "\(key)")
            #expect(ja.subject.hasPrefix("【{bank}】"), "\(key)")
            #expect(en.subject.hasPrefix("[{bank}] "), "\(key)")
        }
    }

    @Test func theSamplesCoverEveryMail() {
        #expect(Set(Self.japaneseSamples.values.map(\.key)) == Set(MailKey.allCases))
        #expect(Set(Self.japaneseSamples.keys) == Set(MailGoldens.expected.keys))
    }

    /// Every placeholder in a text is one its mail fills, every value fills one, and none is left in the mail.
    @Test(arguments: Language.allCases)
    func everyPlaceholderIsFilled(_ language: Language) {
        for (sample, mail) in Self.japaneseSamples.sorted(by: { $0.key < $1.key }) {
            let text = MailTexts.text(mail.key, in: language)
            let placeholders = Set(MailTexts.placeholders(in: text.subject) + MailTexts.placeholders(in: text.body))
            #expect(placeholders == Set(mail.values(in: language).keys), "\(sample) \(language)")
            let composed = mail.composed(in: language)
            #expect(MailTexts.placeholders(in: composed.subject + composed.body) == [], "\(sample) \(language)")
            #expect(!composed.body.contains("{") && !composed.body.contains("}"), "\(sample) \(language)")
        }
    }

    /// The English mails hold no Japanese of their own (with English names, bank and contact filled in).
    @Test func theEnglishMailsAreEnglish() {
        for (sample, mail) in Self.englishSamples.sorted(by: { $0.key < $1.key }) {
            let composed = mail.composed(in: .en)
            let japanese = (composed.subject + composed.body).unicodeScalars.filter {
                (0x3000...0x30FF).contains($0.value) || (0x4E00...0x9FFF).contains($0.value)
                    || (0xFF00...0xFFEF).contains($0.value)
            }
            #expect(japanese.isEmpty, "\(sample): \(String(String.UnicodeScalarView(japanese)))")
        }
        let removed = Self.englishSamples["passkeyRemovedByBank"]!.composed(in: .en).body
        #expect(
            removed.contains("We have removed the passkeys “Work iPhone”, “Security key” from your internet banking."))
        let removedByCustomer = Self.englishSamples["passkeyRemovedByCustomer"]!.composed(in: .en).body
        #expect(removedByCustomer.contains("You have removed the passkey “Work iPhone” from your internet banking."))
        let registered = Self.englishSamples["passkeyRegistered"]!.composed(in: .en).body
        #expect(registered.contains("The passkey “Work iPhone” (iCloud Keychain) has been registered"))
        let admin = Self.englishSamples["tokenLockedAdminNoHolders"]!.composed(in: .en).body
        #expect(admin.contains("Users of this token: none\n"))
        #expect(MailTexts.dateTime(MailGoldens.at, in: .en) == "3 February 2026, 04:05:06 JST")
    }

    /// The Japanese mails are word for word what the code wrote before the texts moved into the table.
    @Test func theJapaneseIsUnchanged() {
        for (sample, mail) in Self.japaneseSamples.sorted(by: { $0.key < $1.key }) {
            let expected = MailGoldens.expected[sample]
            let outgoing = OutgoingMail(recipient: "a@example.jp", mail: mail, createdAt: MailGoldens.at)
            #expect(outgoing.subject == expected?.subject, "\(sample)")
            #expect(outgoing.body == expected?.body, "\(sample)")
            #expect(mail.composed(in: .ja) == mail.composed(), "\(sample)")
        }
    }

    @Test func fillingIsOnePass() {
        #expect(MailTexts.fill("{a}-{b}", with: ["a": "{b}", "b": "x"]) == "{b}-x")
        #expect(MailTexts.fill("{a} {unknown} {} {名前} {a", with: ["a": "1"]) == "1 {unknown} {} {名前} {a")
        #expect(MailTexts.placeholders(in: "「{passkey}」{model}が{ x}{1a}{b2}") == ["passkey", "model", "b2"])
    }
}
