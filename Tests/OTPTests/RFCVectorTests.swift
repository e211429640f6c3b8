import Foundation
import OTP
import Testing

@Suite("RFC 4226 HOTP")
struct HOTPTests {
    static let seed = Seed(bytes: Array("12345678901234567890".utf8))

    /// RFC 4226 Appendix D.
    @Test(
        arguments: zip(
            0..<10,
            [
                "755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489",
            ]))
    func appendixD(counter: Int, expected: String) {
        let hotp = HOTP(seed: Self.seed)
        #expect(hotp.code(for: UInt64(counter)).text == expected)
        #expect(hotp.isValid(OTPCode(expected)!, for: UInt64(counter)))
        #expect(!hotp.isValid(OTPCode(expected)!, for: UInt64(counter + 1)))
    }

    @Test func leadingZerosAreKept() {
        // Find a counter whose code starts with 0 and check it stays 6 characters.
        let hotp = HOTP(seed: Self.seed)
        let counter = (0..<10_000).first { hotp.code(for: UInt64($0)).text.hasPrefix("0") }
        let code = try! #require(counter.map { hotp.code(for: UInt64($0)) })
        #expect(code.text.count == 6)
        #expect(OTPCode("012345") != OTPCode("0012345"))
    }

    @Test(arguments: ["", "12345", "123456789", "12345a", "１２３４５６", " 123456", "12 456"])
    func malformedCodesAreRejected(text: String) {
        #expect(OTPCode(text) == nil)
    }

    @Test func codesDoNotPrintTheirDigits() {
        let code = OTPCode("123456")!
        #expect(!"\(code)".contains("123456"))
    }
}

@Suite("RFC 6238 TOTP")
struct TOTPTests {
    static let seeds: [OTPAlgorithm: Seed] = [
        .sha1: Seed(bytes: Array("12345678901234567890".utf8)),
        .sha256: Seed(bytes: Array("12345678901234567890123456789012".utf8)),
        .sha512: Seed(bytes: Array("1234567890123456789012345678901234567890123456789012345678901234".utf8)),
    ]

    struct Vector: Sendable, CustomStringConvertible {
        let time: Int64
        let algorithm: OTPAlgorithm
        let code: String
        var description: String { "\(time) \(algorithm.rawValue) \(code)" }
    }

    /// RFC 6238 Appendix B (T0 = 0, X = 30, 8 digits).
    static let vectors: [Vector] = [
        (59, "94287082", "46119246", "90693936"),
        (1_111_111_109, "07081804", "68084774", "25091201"),
        (1_111_111_111, "14050471", "67062674", "99943326"),
        (1_234_567_890, "89005924", "91819424", "93441116"),
        (2_000_000_000, "69279037", "90698825", "38618901"),
        (20_000_000_000, "65353130", "77737706", "47863826"),
    ].flatMap { row in
        [
            Vector(time: row.0, algorithm: .sha1, code: row.1),
            Vector(time: row.0, algorithm: .sha256, code: row.2),
            Vector(time: row.0, algorithm: .sha512, code: row.3),
        ]
    }

    @Test(arguments: vectors)
    func appendixB(vector: Vector) throws {
        let parameters = TOTPParameters(algorithm: vector.algorithm, digits: 8, period: 30)
        let totp = TOTP(seed: try #require(Self.seeds[vector.algorithm]), parameters: parameters)
        let date = Date(timeIntervalSince1970: TimeInterval(vector.time))
        #expect(totp.code(at: date).text == vector.code)
        let step = parameters.step(at: date)
        #expect(totp.matchingStep(for: OTPCode(vector.code)!, around: step) == step)
    }

    @Test func defaultPolicyIsSixtySecondsSixDigitsSHA1() {
        let parameters = TOTPParameters.ichigoDefault
        #expect(parameters.period == 60 && parameters.digits == 6 && parameters.algorithm == .sha1)
        #expect(parameters.step(at: Date(timeIntervalSince1970: 119)) == 1)
        #expect(parameters.step(at: Date(timeIntervalSince1970: 120)) == 2)
        #expect(parameters.secondsRemaining(at: Date(timeIntervalSince1970: 121)) == 59)
    }

    @Test func windowFindsNeighboursOnlyWithinRange() {
        let totp = TOTP(seed: Seed(bytes: Array(0..<20)))
        let centre: Int64 = 29_000_000
        for offset in -2...2 {
            let code = totp.code(forStep: centre + Int64(offset))
            let found = totp.matchingStep(for: code, around: centre, window: 1)
            if abs(offset) <= 1 {
                #expect(found == centre + Int64(offset))
            } else {
                // A code two steps away is found only where a step within the window has the same code by chance (1 in
                // a million): exactly that step, never the far one.
                let collision = (-1...1).map { centre + Int64($0) }.first { totp.code(forStep: $0) == code }
                #expect(found == collision)
            }
        }
        #expect(totp.matchingStep(for: totp.code(forStep: centre + 2), around: centre, window: 2) == centre + 2)
    }
}

@Suite("RFC 4648 base32")
struct Base32Tests {
    /// RFC 4648 §10.
    @Test(arguments: [
        ("", ""), ("f", "MY======"), ("fo", "MZXQ===="), ("foo", "MZXW6==="), ("foob", "MZXW6YQ="),
        ("fooba", "MZXW6YTB"), ("foobar", "MZXW6YTBOI======"),
    ])
    func section10(plain: String, encoded: String) {
        #expect(Base32.encode(Array(plain.utf8)) == encoded)
        #expect(Base32.decode(encoded) == Array(plain.utf8))
        #expect(Base32.decode(encoded.lowercased()) == Array(plain.utf8))
        let unpadded = encoded.replacingOccurrences(of: "=", with: "")
        #expect(Base32.encode(Array(plain.utf8), padding: false) == unpadded)
        #expect(Base32.decode(unpadded) == Array(plain.utf8))
    }

    @Test(arguments: ["M", "MZX", "MZXW6Y1", "MY=A", "MZ======", "!!!!"])
    func invalidInputIsRefused(text: String) {
        #expect(Base32.decode(text) == nil)
    }

    @Test func randomRoundTrip() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
            #expect(Base32.decode(Base32.encode(bytes)) == bytes)
            #expect(Base32.decode(Base32.encode(bytes, padding: false)) == bytes)
        }
    }
}

@Suite("otpauth Key URI")
struct KeyURITests {
    @Test func roundTripWithJapaneseIssuer() throws {
        let seed = Seed(bytes: Array(0..<20))
        let uri = KeyURI(issuer: "いちご銀行", account: "yamada taro", seed: seed)
        let text = uri.uri
        #expect(text.hasPrefix("otpauth://totp/"))
        #expect(text.contains("secret=\(seed.base32)"))
        #expect(text.contains("period=60") && text.contains("digits=6") && text.contains("algorithm=SHA1"))
        let parsed = try #require(KeyURI(parsing: text))
        #expect(parsed == uri)
    }

    @Test func defaultsFollowTheKeyURIFormat() throws {
        let parsed = try #require(KeyURI(parsing: "otpauth://totp/ACME:alice?secret=JBSWY3DPEHPK3PXP"))
        #expect(parsed.parameters == TOTPParameters(algorithm: .sha1, digits: 6, period: 30))
        #expect(parsed.issuer == "ACME" && parsed.account == "alice")
    }

    @Test(arguments: [
        "otpauth://hotp/x?secret=JBSWY3DPEHPK3PXP", "https://totp/x?secret=JBSWY3DPEHPK3PXP",
        "otpauth://totp/x?secret=1111", "otpauth://totp/x", "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&digits=9",
        "otpauth://totp/x?secret=JBSWY3DPEHPK3PXP&algorithm=MD5",
    ])
    func invalidURIsAreRefused(text: String) {
        #expect(KeyURI(parsing: text) == nil)
    }
}
