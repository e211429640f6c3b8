import Foundation
import Testing

@testable import OTP

/// The PSKC reader against files written by python-pskc (`scripts/make-pskc-fixtures`, which also records in
/// `Fixtures/PSKC/expected.json` the secrets it gave python-pskc, pyotp's codes for them, and the error each broken
/// file must give).
@Suite("PSKC (RFC 6030) reader")
struct PSKCTests {
    // MARK: The fixtures

    struct Expected: Decodable, Sendable {
        struct KeySpec: Decodable, Sendable {
            var psk: String?
            var password: String?
        }
        struct Code: Decodable, Sendable {
            var time: Int64?
            var counter: UInt64?
            var code: String
        }
        struct Key: Decodable, Sendable {
            var position: Int
            var serial: String
            var secret: String
            var algorithm: String
            var hash: String
            var digits: Int
            var period: Int
            var counter: Int64?
            var time: Int64?
            var timeDrift: Int64?
            var manufacturer: String?
            var keyID: String?
            var suite: String?
            var codes: [Code]
        }
        struct Valid: Decodable, Sendable, CustomTestStringConvertible {
            var file: String
            var key: KeySpec?
            var keys: [Key]
            var testDescription: String { file }
        }
        struct Failure: Decodable, Sendable, CustomTestStringConvertible {
            var file: String
            var key: KeySpec?
            var code: String
            var position: Int?
            var why: String
            var testDescription: String { "\(file): \(why)" }
        }
        var valid: [Valid]
        var errors: [Failure]
    }

    static func fixtureURL(_ name: String) throws -> URL {
        try #require(Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Fixtures/PSKC"))
    }

    static func fixture(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: try fixtureURL(name)))
    }

    static func load() throws -> Expected {
        try JSONDecoder().decode(Expected.self, from: Data(try fixture("expected.json")))
    }

    static let expected: Expected? = try? load()

    static func decryptionKey(_ spec: Expected.KeySpec?) -> PSKCDecryptionKey? {
        if let hex = spec?.psk { return .preSharedKey(bytes(hex: hex)) }
        if let password = spec?.password { return .password(password) }
        return nil
    }

    static func bytes(hex: String) -> [UInt8] {
        let digits = Array(hex.utf8)
        return stride(from: 0, to: digits.count, by: 2).map { UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)! }
    }

    static func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

    /// The parameterised tests below run over the JSON's cases: an unreadable JSON must not pass as zero cases.
    @Test func everyFixtureIsLoadedAndUsed() throws {
        let expected = try Self.load()
        #expect(expected.valid.count >= 11)
        #expect(expected.errors.count >= 48)
        let directory = try Self.fixtureURL("expected.json").deletingLastPathComponent()
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".xml") }
        let used = Set(expected.valid.map(\.file) + expected.errors.map(\.file))
        #expect(Set(files) == used)
    }

    // MARK: Files that must be read

    @Test(arguments: expected?.valid ?? [])
    func readsFile(_ file: Expected.Valid) throws {
        let keys = try PSKC.read(try Self.fixture(file.file), key: Self.decryptionKey(file.key))
        try #require(keys.count == file.keys.count)
        for (key, want) in zip(keys, file.keys) {
            #expect(key.position == want.position)
            #expect(key.serial == want.serial)
            #expect(Self.hex(key.seed.bytes) == want.secret, "secret of \(want.serial)")
            #expect(key.algorithm == want.algorithm)
            #expect(key.parameters.algorithm.rawValue == want.hash)
            #expect(key.parameters.digits == want.digits)
            #expect(key.parameters.period == want.period)
            #expect(key.counter == want.counter)
            #expect(key.time == want.time)
            #expect(key.timeDrift == want.timeDrift)
            #expect(key.manufacturer == want.manufacturer)
            #expect(key.keyID == want.keyID)
            // `Suite` as written, as python-pskc reads it; only an OCRA suite is a signing suite.
            #expect(key.suite == want.suite)
            #expect(key.ocraSuite == (want.suite?.hasPrefix("OCRA-") == true ? want.suite : nil))
            try #require(!want.codes.isEmpty)
            for code in want.codes {
                if let time = code.time {
                    let totp = TOTP(seed: key.seed, parameters: key.parameters)
                    #expect(
                        totp.code(at: Date(timeIntervalSince1970: TimeInterval(time))).text == code.code,
                        "TOTP of \(want.serial) at \(time)")
                } else {
                    let counter = try #require(code.counter)
                    let hotp = HOTP(seed: key.seed, algorithm: key.parameters.algorithm, digits: key.parameters.digits)
                    #expect(hotp.code(for: counter).text == code.code, "HOTP of \(want.serial) at \(counter)")
                }
            }
        }
    }

    // MARK: Files that must be refused

    @Test(arguments: expected?.errors ?? [])
    func refusesFile(_ file: Expected.Failure) throws {
        let data = try Self.fixture(file.file)
        let error = try #require(throws: PSKCError.self) {
            try PSKC.read(data, key: Self.decryptionKey(file.key))
        }
        #expect(error.code.description == file.code, "\(error)")
        #expect(error.position == file.position, "\(error)")
    }

    /// Every cut of a file short of its `</KeyContainer>` is refused — at a package boundary too — never read as a
    /// smaller file.
    @Test(arguments: ["psk-aes128-hmac-sha1.xml", "namespace-unprefixed.xml", "plain.xml"])
    func refusesEveryTruncation(_ name: String) throws {
        let data = try Self.fixture(name)
        let key = try #require(Self.expected?.valid.first { $0.file == name }).key
        let complete = try PSKC.read(data, key: Self.decryptionKey(key))
        #expect(complete.count == 3)
        // Every prefix without the final `>` of `</KeyContainer>`: each cut after a `>`, and every 37th byte.
        let closing = try #require(data.lastIndex(of: UInt8(ascii: ">")))
        var cuts = 0
        for length in 0...closing where length == 0 || data[length - 1] == UInt8(ascii: ">") || length % 37 == 0 {
            cuts += 1
            #expect(throws: PSKCError.self, "cut at \(length) bytes") {
                try PSKC.read(Array(data[..<length]), key: Self.decryptionKey(key))
            }
        }
        #expect(cuts > 50)
    }

    // MARK: Attacks built from the fixtures

    static func replacingFirst(_ target: String, in name: String, with replacement: String) throws -> [UInt8] {
        let text = String(decoding: try fixture(name), as: UTF8.self)
        let range = try #require(text.range(of: target))
        return Array(text.replacingCharacters(in: range, with: replacement).utf8)
    }

    @Test func refusesHugeBase64() throws {
        let text = String(decoding: try Self.fixture("psk-aes128-hmac-sha1.xml"), as: UTF8.self)
        let packageStart = try #require(text.range(of: "<pskc:KeyPackage>"))
        let value = try #require(text.range(of: "<xenc:CipherValue>", range: packageStart.upperBound..<text.endIndex))
        let huge = text.replacingCharacters(
            in: value, with: "<xenc:CipherValue>" + String(repeating: "QUFB", count: 1 << 20))
        let error = try #require(throws: PSKCError.self) {
            try PSKC.read(Array(huge.utf8), key: Self.decryptionKey(Self.expected?.valid.first?.key))
        }
        #expect(error.code == .malformed)
        #expect(error.position == 1)
    }

    @Test func refusesDeepNesting() throws {
        let deep = String(repeating: "<x>", count: 200) + String(repeating: "</x>", count: 200)
        let data = try Self.replacingFirst("<pskc:DeviceInfo>", in: "plain.xml", with: "<pskc:DeviceInfo>" + deep)
        let error = try #require(throws: PSKCError.self) { try PSKC.read(data, key: nil) }
        #expect(error.code == .malformed)
        #expect(error.position == 1)
    }

    @Test func refusesOtherEncodingsAndNonXML() throws {
        let text = String(decoding: try Self.fixture("plain.xml"), as: UTF8.self)
        let utf16: [UInt8] = [0xFF, 0xFE] + Array(text.replacingOccurrences(of: "UTF-8", with: "UTF-16").utf16).flatMap {
            [UInt8(truncatingIfNeeded: $0), UInt8($0 >> 8)]
        }
        #expect(throws: PSKCError(.unsupported, "only UTF-8 PSKC files are read")) { try PSKC.read(utf16, key: nil) }
        let junks: [[UInt8]] = [[], Array("<".utf8), Array("KeyContainer".utf8), [0x4C, 0x6F, 0xA7, 0x94] + Array(text.utf8)]
        for junk in junks {
            let error = try #require(throws: PSKCError.self) { try PSKC.read(junk, key: nil) }
            #expect(error.code == .malformed)
            #expect(error.position == nil)
        }
        // A PSKC file is fine with a comment or processing instruction before its root, and a byte order mark.
        let commented = [0xEF, 0xBB, 0xBF] + Array(
            text.replacingOccurrences(of: "?>\n", with: "?>\n<!-- vendor batch 7 --><?vendor x?>\n").utf8)
        #expect(try PSKC.read(commented, key: nil).count == 3)
    }

    /// The header (`EncryptionKey`, `MACMethod`) comes once, before the key packages: a second MAC method, or one
    /// slipped in after the first package, is not taken.
    @Test func refusesHeaderOutOfPlace() throws {
        let name = "psk-aes128-hmac-sha1.xml"
        let text = String(decoding: try Self.fixture(name), as: UTF8.self)
        let key = Self.decryptionKey(try #require(Self.expected?.valid.first { $0.file == name }).key)
        let start = try #require(text.range(of: "<pskc:MACMethod"))
        let end = try #require(text.range(of: "</pskc:MACMethod>"))
        let method = String(text[start.lowerBound..<end.upperBound])
        let twice = text.replacingCharacters(in: start.lowerBound..<end.upperBound, with: method + method)
        let packageEnd = try #require(text.range(of: "</pskc:KeyPackage>"))
        let late = text.replacingCharacters(in: packageEnd, with: "</pskc:KeyPackage>" + method)
        for data in [twice, late] {
            let error = try #require(throws: PSKCError.self) { try PSKC.read(Array(data.utf8), key: key) }
            #expect(error.code == .malformed)
            #expect(error.position == nil)
        }
    }

    // MARK: Ichigo's own writer

    @Test func readsWhatItWrites() throws {
        let psk = Array(0..<16).map { UInt8($0 * 7) }
        let seeds = (1...3).map { n in Seed(bytes: (0..<20).map { UInt8(($0 * 31 + n) & 0xFF) }) }
        let written = try PSKC.write(
            seeds.enumerated().map { (serial: "SKTH0000010\($0.offset)", seed: $0.element, parameters: TOTPParameters(digits: 8, period: 60)) },
            preSharedKey: psk)
        let keys = try PSKC.read(written, key: .preSharedKey(psk))
        #expect(keys.map(\.serial) == ["SKTH00000100", "SKTH00000101", "SKTH00000102"])
        #expect(keys.map(\.seed) == seeds)
        #expect(keys.allSatisfy { $0.parameters == TOTPParameters(algorithm: .sha1, digits: 8, period: 60) })
        let error = try #require(throws: PSKCError.self) {
            try PSKC.read(written, key: .preSharedKey(psk.reversed()))
        }
        #expect([PSKCError.Code.wrongKey, .macMismatch].contains(error.code))
    }

    // MARK: SHA-224 (swift-crypto has none; value MACs may use HMAC-SHA224)

    @Test func sha224MatchesFIPSAndRFC4231() {
        #expect(Self.hex(SHA224.hash(Array("abc".utf8))) == "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7")
        #expect(Self.hex(SHA224.hash([])) == "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f")
        #expect(
            Self.hex(SHA224.hash(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)))
                == "75388b16512776cc5dba5da1fd890150b0c6455cb4f58b1952522525")
        #expect(
            Self.hex(SHA224.authenticationCode(for: Array("Hi There".utf8), key: [UInt8](repeating: 0x0b, count: 20)))
                == "896fb1128abbdf196832107cd49df33f47b4b1169912ba4f53684b22")
        #expect(
            Self.hex(SHA224.authenticationCode(for: Array("what do ya want for nothing?".utf8), key: Array("Jefe".utf8)))
                == "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44")
        let longKey = [UInt8](repeating: 0xaa, count: 131)
        let message = Array("Test Using Larger Than Block-Size Key - Hash Key First".utf8)
        let mac = SHA224.authenticationCode(for: message, key: longKey)
        #expect(Self.hex(mac) == "95e9a0db962095adaebe9b2d6f0dbce2d499f112f2d2b7273fa6870e")
        #expect(SHA224.isValidAuthenticationCode(mac, for: message, key: longKey))
        #expect(!SHA224.isValidAuthenticationCode(Array(mac.dropLast()), for: message, key: longKey))
        #expect(!SHA224.isValidAuthenticationCode(mac, for: message + [0], key: longKey))
    }
}
