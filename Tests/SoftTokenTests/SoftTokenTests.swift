import Foundation
import OTP
import SoftToken
import Testing

@Suite("Software token store and display")
struct SoftTokenTests {
    func temporaryStore(machineID: String = "machine-a") -> (TokenStore, URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-token-\(UUID().uuidString)")
        return (
            TokenStore(
                configDirectory: base.appendingPathComponent("config"), dataDirectory: base.appendingPathComponent("data"),
                machineID: machineID), base
        )
    }

    func permissions(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    @Test func storesSeveralTokensPrivatelyAndSealed() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        let first = Seed.random()
        let second = Seed.random()
        try store.add(serial: "SKTS0000000001", seed: first, parameters: .ichigoDefault, issuer: "いちご銀行", server: "http://a")
        try store.add(serial: "SKTS0000000002", seed: second, parameters: .ichigoDefault, issuer: "みかん信金", server: "http://b")
        #expect(try store.tokens().map(\.serial) == ["SKTS0000000001", "SKTS0000000002"])
        #expect(try permissions(store.tokensFile) == 0o600)
        #expect(try permissions(store.keyFile) == 0o600)
        #expect(store.keyFile.deletingLastPathComponent() != store.tokensFile.deletingLastPathComponent())
        let text = try String(contentsOf: store.tokensFile, encoding: .utf8)
        #expect(!text.contains(first.base32) && !text.contains(second.base32), "a seed is stored in clear")
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let generator = try store.generator(for: try store.token(serial: "SKTS0000000002"))
        #expect(generator.code(at: now) == TOTP(seed: second).code(at: now))
        #expect(throws: TokenStoreError(.ambiguous)) { try store.token(serial: nil) }
        #expect(try store.remove(serial: "SKTS0000000001"))
        #expect(!(try store.remove(serial: "SKTS0000000001")))
        #expect(try store.token(serial: nil).serial == "SKTS0000000002")
    }

    @Test func aStoreCopiedToAnotherMachineDoesNotWork() throws {
        let (store, base) = temporaryStore(machineID: "machine-a")
        defer { try? FileManager.default.removeItem(at: base) }
        try store.add(serial: "SKTS0000000003", seed: .random(), parameters: .ichigoDefault, issuer: "x", server: "http://a")
        // Both files copied, machine differs.
        let elsewhere = TokenStore(configDirectory: store.configDirectory, dataDirectory: store.dataDirectory, machineID: "machine-b")
        #expect(throws: TokenStoreError(.copiedFromAnotherDevice)) {
            try elsewhere.generator(for: try elsewhere.token(serial: "SKTS0000000003"))
        }
        // Only the token file copied: no key.
        let (other, otherBase) = temporaryStore(machineID: "machine-a")
        defer { try? FileManager.default.removeItem(at: otherBase) }
        try FileManager.default.createDirectory(at: other.configDirectory, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: store.tokensFile, to: other.tokensFile)
        #expect(throws: TokenStoreError(.copiedFromAnotherDevice)) {
            try other.generator(for: try other.token(serial: "SKTS0000000003"))
        }
        // A token renamed to another serial inside the file does not open either.
        var renamed = try store.tokens()[0]
        renamed.serial = "SKTS0000000999"
        #expect(throws: TokenStoreError(.copiedFromAnotherDevice)) { try store.generator(for: renamed) }
    }

    @Test func displayShowsCodeSecondsAndBar() throws {
        let seed = Seed(bytes: Array("12345678901234567890".utf8))
        let token = InstalledToken(
            serial: "SKTS0000000004", issuer: "いちご銀行", server: "http://a", algorithm: "SHA1", digits: 6, period: 60,
            sealedSeed: "", installedAt: Date())
        let totp = TOTP(seed: seed)
        let at = Date(timeIntervalSince1970: 1_800_000_045)  // 45 s into a 60 s step
        let display = CodeDisplay(token: token, totp: totp, at: at)
        #expect(display.code == totp.code(at: at).text && display.code.count == 6)
        #expect(display.nextCode == totp.code(at: at + 60).text)
        #expect(display.secondsLeft == 15)
        #expect(display.bar(width: 20) == String(repeating: "█", count: 5) + String(repeating: "░", count: 15))
        #expect(display.groupedCode == "\(display.code.prefix(3)) \(display.code.suffix(3))")
        #expect(display.line(japanese: true).contains("残り15秒"))
        let json = try JSONSerialization.jsonObject(with: Data(display.json().utf8)) as? [String: Any]
        let code = json?["code"] as? String
        let seconds = json?["secondsLeft"] as? Int
        #expect(code == display.code)
        #expect(seconds == 15)
    }
}
