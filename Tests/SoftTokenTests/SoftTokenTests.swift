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

@Suite("Transaction signing (ichigo-token sign)")
struct TransactionSigningTests {
    func temporaryStore() -> (TokenStore, URL) {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-token-\(UUID().uuidString)")
        return (
            TokenStore(
                configDirectory: base.appendingPathComponent("config"), dataDirectory: base.appendingPathComponent("data"),
                machineID: "machine-a"), base
        )
    }

    static let seed = Seed(bytes: Array("12345678901234567890123456789012".utf8))

    /// The code computed straight from OTP, for comparison.
    func expected(_ suite: String, account: String, amount: Int, counter: UInt64? = nil, pin: String? = nil, at now: Date)
        throws -> String
    {
        let suite = try OCRASuite(suite)
        let question = try TransactionChallenge(payeeAccount: account, amount: amount).question(for: suite)
        let time = suite.period != nil ? OCRATime.at(now) : nil
        return try OCRA(seed: Self.seed, suite: suite).response(
            to: question, counter: counter, pin: pin.map { .pin($0) }, time: time
        ).text
    }

    @Test func signsWithTheStoredSuite() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        let text = "OCRA-1:HOTP-SHA256-8:QN20-T1M"
        try store.add(
            serial: "SKTS0000000010", seed: Self.seed, parameters: .ichigoDefault, issuer: "いちご銀行", server: "http://a",
            ocraSuite: try OCRASuite(text))
        let token = try store.token(serial: nil)
        #expect(token.ocraSuite == text)
        let now = Date(timeIntervalSince1970: 1_800_000_030)
        let signature = try store.signTransfer(token: token, payeeAccount: "1234567", amount: 50_000, at: now)
        #expect(signature.challenge == "500001234567")
        #expect(signature.suite == text && signature.timeStep == 30_000_000 && signature.counter == nil)
        #expect(signature.code == (try expected(text, account: "1234567", amount: 50_000, at: now)))
        // Another payee or amount gives another code.
        let otherPayee = try store.signTransfer(token: token, payeeAccount: "7654321", amount: 50_000, at: now)
        let otherAmount = try store.signTransfer(token: token, payeeAccount: "1234567", amount: 50_001, at: now)
        #expect(otherPayee.code != signature.code && otherAmount.code != signature.code)
        // The same transfer in the next minute: another code.
        #expect(try store.signTransfer(token: token, payeeAccount: "1234567", amount: 50_000, at: now + 60).code != signature.code)
    }

    @Test func aTokenWithoutSuiteSaysSoUnlessOneIsGiven() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        try store.add(serial: "SKTS0000000011", seed: Self.seed, parameters: .ichigoDefault, issuer: "x", server: "http://a")
        let token = try store.token(serial: nil)
        #expect(token.ocraSuite == nil)
        #expect(throws: SignError(.noSuite(serial: "SKTS0000000011"))) {
            try store.signTransfer(token: token, payeeAccount: "1234567", amount: 1)
        }
        let message = SignError(.noSuite(serial: "SKTS0000000011"))
        #expect(message.message(japanese: true).contains("取引認証（OCRA）の設定がありません"))
        #expect(message.message(japanese: false).contains("has no transaction-signing (OCRA) suite"))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        let text = "OCRA-1:HOTP-SHA1-6:QN16"
        let signed = try store.signTransfer(token: token, payeeAccount: "0000123", amount: 500, suite: text, at: now)
        #expect(signed.code == (try expected(text, account: "0000123", amount: 500, at: now)))
        #expect(throws: SignError.self) {
            try store.signTransfer(token: token, payeeAccount: "0000123", amount: 500, suite: "OCRA-1:HOTP-SHA1-6:QN16-X")
        }
    }

    @Test func aCounterSuiteMovesOnWithEverySignature() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        let text = "OCRA-1:HOTP-SHA512-8:C-QN20-PSHA1"
        try store.add(
            serial: "SKTS0000000012", seed: Self.seed, parameters: .ichigoDefault, issuer: "x", server: "http://a",
            ocraSuite: try OCRASuite(text))
        let now = Date(timeIntervalSince1970: 1_700_000_000)
        #expect(throws: SignError(.pinRequired)) {
            try store.signTransfer(token: try store.token(serial: nil), payeeAccount: "1234567", amount: 1)
        }
        var codes: [String] = []
        for counter: UInt64 in 0...2 {
            let token = try store.token(serial: nil)
            #expect((token.ocraCounter ?? 0) == counter)
            let signed = try store.signTransfer(token: token, payeeAccount: "1234567", amount: 1200, pin: "1234", at: now)
            #expect(signed.counter == counter)
            #expect(signed.code == (try expected(text, account: "1234567", amount: 1200, counter: counter, pin: "1234", at: now)))
            codes.append(signed.code)
        }
        #expect(Set(codes).count == 3)
        #expect(try store.token(serial: nil).ocraCounter == 3)
    }

    @Test func suitesThatCannotSignTransfersAreRefused() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        try store.add(serial: "SKTS0000000013", seed: Self.seed, parameters: .ichigoDefault, issuer: "x", server: "http://a")
        let token = try store.token(serial: nil)
        func kind(_ suite: String, account: String = "1234567", amount: Int = 1) -> SignError.Kind? {
            do {
                _ = try store.signTransfer(token: token, payeeAccount: account, amount: amount, suite: suite)
                return nil
            } catch let error as SignError {
                return error.kind
            } catch {
                return nil
            }
        }
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN20-S064") == .sessionNotSupported("OCRA-1:HOTP-SHA1-6:QN20-S064"))
        #expect(kind("OCRA-1:HOTP-SHA1-6:QA20") == .suiteCannotSignTransfers("OCRA-1:HOTP-SHA1-6:QA20"))
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN07") == .suiteCannotSignTransfers("OCRA-1:HOTP-SHA1-6:QN07"))
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN08", amount: 9) == nil)
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN08", amount: 10) == .amountTooLarge(maximumAmountDigits: 1))
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN08", account: "123456", amount: 1) == .invalidAccount)
        #expect(kind("OCRA-1:HOTP-SHA1-6:QN08", amount: 0) == .invalidAmount)
    }

    @Test func storesWrittenBeforeOCRAStillLoad() throws {
        let (store, base) = temporaryStore()
        defer { try? FileManager.default.removeItem(at: base) }
        // A tokens.json as the store wrote it before OCRA (no ocraSuite, no ocraCounter).
        let old = """
            [
              {
                "algorithm" : "SHA1",
                "digits" : 6,
                "installedAt" : "2026-01-05T09:00:00Z",
                "issuer" : "いちご銀行",
                "period" : 60,
                "sealedSeed" : "AAAA",
                "serial" : "SKTS0000000099",
                "server" : "http://a"
              }
            ]
            """
        try FileManager.default.createDirectory(at: store.configDirectory, withIntermediateDirectories: true)
        try Data(old.utf8).write(to: store.tokensFile)
        let tokens = try store.tokens()
        #expect(tokens.map(\.serial) == ["SKTS0000000099"])
        #expect(tokens[0].ocraSuite == nil && tokens[0].ocraCounter == nil)
        // A token without a suite is written without the keys; one with a suite keeps it through a reload.
        try store.add(serial: "SKTS0000000014", seed: Self.seed, parameters: .ichigoDefault, issuer: "x", server: "http://a")
        #expect(!(try String(contentsOf: store.tokensFile, encoding: .utf8)).contains("ocraSuite"))
        try store.add(
            serial: "SKTS0000000015", seed: Self.seed, parameters: .ichigoDefault, issuer: "x", server: "http://a",
            ocraSuite: try OCRASuite("OCRA-1:HOTP-SHA1-6:QN20"))
        #expect(try store.tokens().map(\.ocraSuite) == [nil, nil, "OCRA-1:HOTP-SHA1-6:QN20"])
    }

    @Test func provisioningAnswerCarriesAnOptionalSuite() throws {
        let secret = Base32.encode(Array(0..<20), padding: false)
        func answer(_ extra: String) -> Data {
            Data(
                """
                {"serial":"SKTS0000000016","secret":"\(secret)","algorithm":"SHA1","digits":6,"period":60,\
                "issuer":"いちご銀行"\(extra)}
                """.utf8)
        }
        let plain = try Provisioned(answer: answer(""))
        #expect(plain.serial == "SKTS0000000016" && plain.ocraSuite == nil && plain.refusedOCRASuite == nil)
        #expect(plain.seed == Seed(bytes: Array(0..<20)) && plain.parameters == .ichigoDefault)
        let signing = try Provisioned(answer: answer(#","ocraSuite":"OCRA-1:HOTP-SHA256-8:QN20-T1M""#))
        #expect(signing.ocraSuite?.text == "OCRA-1:HOTP-SHA256-8:QN20-T1M" && signing.refusedOCRASuite == nil)
        let null = try Provisioned(answer: answer(#","ocraSuite":null"#))
        #expect(null.ocraSuite == nil && null.refusedOCRASuite == nil)
        // A broken suite does not cost the customer the token (its seed is delivered once).
        let broken = try Provisioned(answer: answer(#","ocraSuite":"OCRA-1:HOTP-SHA1-6:C""#))
        #expect(broken.ocraSuite == nil && broken.refusedOCRASuite?.code == .missingChallenge)
        #expect(broken.seed == Seed(bytes: Array(0..<20)))
        #expect(throws: SetupError(kind: .server(200, "malformed provisioning answer"))) {
            try Provisioned(answer: Data(#"{"serial":"x"}"#.utf8))
        }
        #expect(throws: SetupError(kind: .server(200, "malformed provisioning answer"))) {
            try Provisioned(answer: answer(#","ocraSuite":5"#))
        }
    }

    @Test func amountsAndAccountsAsTyped() {
        for (text, value) in [("50000", 50_000), ("50,000", 50_000), ("1,234,567", 1_234_567), (" 1 ", 1), ("999", 999)] {
            #expect(TransferInput.amount(from: text) == value, "\(text)")
        }
        for text in ["", "0", "050000", "5,0000", ",000", "1,00", "1,,000", "-5", "５００", "1.5", "1e3", "12,345,67"] {
            #expect(TransferInput.amount(from: text) == nil, "\(text)")
        }
        #expect(TransferInput.account(from: " 0012345 ") == "0012345")
        for text in ["123456", "12345678", "123-4567", "１２３４５６７", "abcdefg"] {
            #expect(TransferInput.account(from: text) == nil, "\(text)")
        }
        #expect(TransferInput.grouped(50_000) == "50,000" && TransferInput.grouped(999) == "999")
        #expect(TransferInput.grouped(1_234_567) == "1,234,567" && TransferInput.grouped(100_000) == "100,000")
    }
}
