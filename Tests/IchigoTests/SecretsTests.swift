import Foundation
import Ichigo
import OTP
import Testing

@Suite("Secrets at rest")
struct SecretsTests {
    @Test func sealedSeedsOpenOnlyForTheirTokenAndKey() throws {
        let key = MasterKey.random()
        let vault = SeedVault(masterKey: key)
        let seed = Seed.random()
        let token = TokenID.random()
        let sealed = try vault.seal(seed, for: token)
        #expect(try vault.open(sealed, for: token) == seed)
        #expect(throws: IchigoError.self) { try vault.open(sealed, for: .random()) }
        #expect(throws: IchigoError.self) { try SeedVault(masterKey: .random()).open(sealed, for: token) }
        var tampered = sealed.combined
        tampered[tampered.count / 2] ^= 1
        #expect(throws: IchigoError.self) { try vault.open(SealedSeed(combined: tampered), for: token) }
        // Two seals of one seed differ (fresh nonce).
        #expect(try vault.seal(seed, for: token) != sealed)
    }

    @Test func passwordsAreSaltedSlowHashes() throws {
        let hasher = PasswordHasher.forTesting
        let first = try hasher.hash("abc123")
        let second = try hasher.hash("abc123")
        #expect(first != second)
        #expect(!first.encoded.contains("abc123"))
        #expect(first.encoded.hasPrefix("$scrypt$ln=4,r=8,p=1$"))
        #expect(hasher.verify("abc123", against: first))
        #expect(hasher.verify("abc123", against: second))
        #expect(!hasher.verify("abc124", against: first))
        #expect(!hasher.verify("", against: first))
        #expect(!hasher.verify("abc123", against: PasswordHash(encoded: "plain")))
        // The production cost is recorded in the hash and honoured on verify.
        let strong = try PasswordHasher(logRounds: 12).hash("secret99")
        #expect(hasher.verify("secret99", against: strong))
    }

    @Test func auditChainDetectsEditsAndDeletions() {
        let chain = AuditChain(masterKey: .random())
        var records: [AuditRecord] = []
        for index in 0..<5 {
            let event = AuditEvent(
                at: Date(timeIntervalSince1970: 1_800_000_000 + Double(index)), actor: "t", action: "otp.verify",
                subject: "SKTS000\(index)", outcome: "accepted")
            records.append(chain.record(for: event, after: records.last.map { ($0.sequence, $0.hash) }))
        }
        #expect(chain.verify(records, after: nil).isEmpty)
        var edited = records
        edited[2].event.outcome = "refused"
        #expect(chain.verify(edited, after: nil).map(\.sequence) == [3])
        var deleted = records
        deleted.remove(at: 1)
        #expect(!chain.verify(deleted, after: nil).isEmpty)
        // Re-sealing without the key does not help: another key's chain does not verify.
        let forged = AuditChain(masterKey: .random())
        #expect(!forged.verify(records, after: nil).isEmpty)
    }

    @Test(arguments: [
        ("taro@example.jp", true), ("a.b+c@mail.example.co.jp", true), ("no-at.example.jp", false),
        ("two@@example.jp", false), ("x@localhost", false), ("space @example.jp", false), ("全角@example.jp", false),
        ("x@-bad.jp", false), ("", false),
    ])
    func emailSyntax(address: String, valid: Bool) {
        #expect(CredentialRules.isValidEmail(address) == valid)
    }
}
