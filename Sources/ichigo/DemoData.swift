import Crypto
import Foundation
import OTP
import Ichigo
import IchigoWeb

/// Sample customers so a newcomer sees something at once.
enum DemoData {
    struct Person {
        let loginID: String
        let name: String
        let email: String
        let role: UserRole
    }

    static let loginPassword = "ichigo2026"
    static let confirmationPassword = "kakunin1"
    static let contractPIN = "1234"

    static let retail = [
        Person(loginID: "yamada", name: "山田 太郎", email: "yamada@example.jp", role: .customer),
        Person(loginID: "sato", name: "佐藤 花子", email: "sato@example.jp", role: .customer),
        Person(loginID: "suzuki", name: "鈴木 一郎", email: "suzuki@example.jp", role: .customer),
    ]

    static let corporate = [
        Person(loginID: "ichigo-master", name: "いちご商事 マスター", email: "master@ichigo-shoji.example.jp", role: .master),
        Person(
            loginID: "ichigo-admin", name: "いちご商事 管理者", email: "admin@ichigo-shoji.example.jp", role: .administrator),
        Person(loginID: "ichigo-staff", name: "いちご商事 担当者", email: "staff@ichigo-shoji.example.jp", role: .ordinary),
        Person(loginID: "ichigo-keiri", name: "いちご商事 経理", email: "keiri@ichigo-shoji.example.jp", role: .ordinary),
    ]

    /// Writes a vendor-style PSKC file of five demo hardware tokens (SKTH00000001–5) and its key into the data
    /// folder, imports it, and says where they are (so `ichigo-token hardware add` can act as the key fob).
    static func importHardwareBatch(_ services: IchigoServices, directory: URL, out: (String) -> Void) async throws {
        let key = SymmetricKey(size: .bits128).withUnsafeBytes { Array($0) }
        let keys = (1...5).map { (serial: String(format: "SKTH%08d", $0), seed: Seed.random(), parameters: TOTPParameters.ichigoDefault) }
        let file = directory.appendingPathComponent("demo-tokens.pskc.xml")
        let keyFile = directory.appendingPathComponent("demo-tokens.key")
        // The keys carry the bank's OCRA suite, so the fobs can also sign transfers (取引認証) when the policy is on.
        let bytes = try PSKC.write(keys, preSharedKey: key, ocraSuite: services.signing.policy.suite.text)
        for (path, data) in [(file.path, Data(bytes)), (keyFile.path, Data(key.hexString.utf8))] {
            try? FileManager.default.removeItem(atPath: path)
            guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600])
            else { throw IchigoError(.corruptData, detail: "cannot write \(path)") }
        }
        let summary = try await services.importer.importPSKC(
            bytes, key: .preSharedKey(key), actor: "demo", at: services.clock.now())
        out("  hardware tokens (ハードウェアトークン) in the bank's inventory: \(summary.serials.map(\.rawValue).joined(separator: ", "))")
        out("    vendor file: \(file.path)  key: \(keyFile.path)")
        out("    act as the key fob: swift run ichigo-token hardware add \(file.path) --serial SKTH00000001 --key-file \(keyFile.path)")
    }

    /// Adds the demo data if there are no users yet, and prints how to log in.
    static func fillIfEmpty(_ services: IchigoServices, directory: URL? = nil, out: (String) -> Void) async throws {
        guard try await services.repository.userCount() == 0 else {
            out("Demo data not added: the database already has users.")
            return
        }
        let now = services.clock.now()
        func newUser(_ person: Person) -> NewUser {
            NewUser(
                loginID: LoginID(rawValue: person.loginID)!, name: person.name, role: person.role, email: person.email,
                loginPassword: loginPassword, confirmationPassword: confirmationPassword)
        }
        for (index, person) in retail.enumerated() {
            let user = try await services.customers.createRetailCustomer(newUser(person), actor: "demo", at: now)
            try await services.repository.insert(
                Account(id: AccountID(rawValue: "D\(index)A"), userID: user.id, name: "普通預金", branch: "001",
                        number: String(1_234_560 + index), balance: 1_000_000),
                audit: AuditEvent(at: now, actor: "demo", action: "account.open", subject: user.id.rawValue, outcome: "ok"))
            try await services.repository.insert(
                Account(id: AccountID(rawValue: "D\(index)B"), userID: user.id, name: "貯蓄預金", branch: "001",
                        number: String(7_654_320 + index), balance: 250_000),
                audit: AuditEvent(at: now, actor: "demo", action: "account.open", subject: user.id.rawValue, outcome: "ok"))
        }
        let contract = try await services.customers.createCorporateContract(
            name: "いちご商事株式会社", usageMode: .individual, pin: contractPIN, actor: "demo", at: now)
        var corporateUsers: [User] = []
        for person in corporate {
            corporateUsers.append(try await services.customers.addUser(newUser(person), to: contract.id, actor: "demo", at: now))
        }
        // The contract's accounts (held under the master user) and an approver: 経理 may approve transfers up to
        // 5,000,000 yen from either account; the administrator gives other users their authorities.
        let accounts = [
            Account(id: AccountID(rawValue: "DC1"), userID: corporateUsers[0].id, name: "普通預金", branch: "001", number: "2000001", balance: 5_000_000),
            Account(id: AccountID(rawValue: "DC2"), userID: corporateUsers[0].id, name: "当座預金", branch: "001", number: "2000002", balance: 3_000_000),
        ]
        for account in accounts {
            try await services.repository.insert(
                account, for: contract.id,
                audit: AuditEvent(at: now, actor: "demo", action: "account.open", subject: contract.id.rawValue, outcome: "ok"))
        }
        try await services.repository.setPermissions(
            Permissions(authorities: [.transferApproval], accountLimits: ["DC1": 5_000_000, "DC2": 5_000_000]),
            of: corporateUsers[3].id,
            audit: AuditEvent(at: now, actor: "demo", action: "user.permissions", subject: corporateUsers[3].id.rawValue, outcome: "ok"))
        out("Demo data added (デモデータを登録しました):")
        out("  retail customers (個人): \(retail.map(\.loginID).joined(separator: ", "))")
        out(
            "  corporate contract いちご商事株式会社 (法人): \(corporate.map(\.loginID).joined(separator: ", ")), PIN \(contractPIN)"
        )
        out(
            "  login password (ログインパスワード): \(loginPassword)   confirmation password (確認用パスワード): \(confirmationPassword)"
        )
        if let directory { try await importHardwareBatch(services, directory: directory, out: out) }
    }
}
