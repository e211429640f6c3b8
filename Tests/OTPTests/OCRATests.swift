import Crypto
import Foundation
import Testing

@testable import OTP

/// Bytes from hex text, for test data.
func hexBytes(_ hex: String) -> [UInt8] {
    let digits = Array(hex.utf8)
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
    }
}

@Suite("RFC 6287 OCRA: Appendix C test vectors")
struct OCRAVectorTests {
    /// The RFC's standard keys, given there in hex.
    static let keys: [Int: Seed] = [
        20: Seed(bytes: hexBytes("3132333435363738393031323334353637383930")),
        32: Seed(bytes: hexBytes("3132333435363738393031323334353637383930313233343536373839303132")),
        64: Seed(
            bytes: hexBytes(
                "31323334353637383930313233343536373839303132333435363738393031323334353637383930"
                    + "313233343536373839303132333435363738393031323334")),
    ]
    /// The PIN of every P vector, "1234"; the RFC gives its SHA-1 hash.
    static let pinSHA1 = "7110eda4d09e062aa5e4a390b0a572ac0d2c0220"
    /// T of the time-based vectors: 0x132d0b6 minutes, 2008-03-25 12:06 UTC.
    static let minutes: UInt64 = 0x132d0b6

    struct Vector: Sendable, CustomTestStringConvertible {
        var suite: String
        var key: Int
        var counter: UInt64? = nil
        var question: OCRAQuestion
        var pin = false
        var timeStep: UInt64? = nil
        var response: String
        var testDescription: String { "\(suite) C=\(counter.map(String.init) ?? "-") Q=\(question) → \(response)" }
    }

    static func repeated(_ digit: Int) -> OCRAQuestion { OCRAQuestion(String(repeating: String(digit), count: 8)) }

    /// C.1 One-Way Challenge-Response.
    static let oneWaySHA1: [Vector] = {
        let codes = [
            "237653", "243178", "653583", "740991", "608993", "388898", "816933", "224598", "750600", "294470",
        ]
        return (0...9).map { n in
            Vector(suite: "OCRA-1:HOTP-SHA1-6:QN08", key: 20, question: repeated(n), response: codes[n])
        }
    }()
    static let oneWayCounterPIN: [Vector] = {
        let codes = [
            "65347737", "86775851", "78192410", "71565254", "10104329", "65983500", "70069104", "91771096",
            "75011558", "08522129",
        ]
        return (0...9).map { n in
            Vector(
                suite: "OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1", key: 32, counter: UInt64(n), question: "12345678",
                pin: true, response: codes[n])
        }
    }()
    static let oneWayPIN: [Vector] = {
        let codes = ["83238735", "01501458", "17957585", "86776967", "86807031"]
        return (0...4).map { n in
            Vector(
                suite: "OCRA-1:HOTP-SHA256-8:QN08-PSHA1", key: 32, question: repeated(n), pin: true, response: codes[n])
        }
    }()
    static let oneWayCounter: [Vector] = {
        let codes = [
            "07016083", "63947962", "70123924", "25341727", "33203315", "34205738", "44343969", "51946085",
            "20403879", "31409299",
        ]
        return (0...9).map { n in
            Vector(
                suite: "OCRA-1:HOTP-SHA512-8:C-QN08", key: 64, counter: UInt64(n), question: repeated(n),
                response: codes[n])
        }
    }()
    static let oneWayTime: [Vector] = {
        let codes = ["95209754", "55907591", "22048402", "24218844", "36209546"]
        return (0...4).map { n in
            Vector(
                suite: "OCRA-1:HOTP-SHA512-8:QN08-T1M", key: 64, question: repeated(n), timeStep: minutes,
                response: codes[n])
        }
    }()
    static let oneWay: [Vector] = oneWaySHA1 + oneWayCounterPIN + oneWayPIN + oneWayCounter + oneWayTime

    /// C.2 Mutual Challenge-Response: the server answers QC | QS, the client QS | QC.
    static let mutual: [Vector] = (0...4).flatMap { n -> [Vector] in
        let client = "CLI2222\(n)"
        let server = "SRV1111\(n)"
        return [
            Vector(
                suite: "OCRA-1:HOTP-SHA256-8:QA08", key: 32, question: .mutual(client, server),
                response: ["28247970", "01984843", "65387857", "03351211", "83412541"][n]),
            Vector(
                suite: "OCRA-1:HOTP-SHA256-8:QA08", key: 32, question: .mutual(server, client),
                response: ["15510767", "90175646", "33777207", "95285278", "28934924"][n]),
            Vector(
                suite: "OCRA-1:HOTP-SHA512-8:QA08", key: 64, question: .mutual(client, server),
                response: ["79496648", "76831980", "12250499", "90856481", "12761449"][n]),
            Vector(
                suite: "OCRA-1:HOTP-SHA512-8:QA08-PSHA1", key: 64, question: .mutual(server, client), pin: true,
                response: ["18806276", "70020315", "01600026", "18951020", "32528969"][n]),
        ]
    }

    /// C.3 Plain Signature.
    static let signature: [Vector] = (0...4).flatMap { n -> [Vector] in
        [
            Vector(
                suite: "OCRA-1:HOTP-SHA256-8:QA08", key: 32, question: OCRAQuestion("SIG1\(n)000"),
                response: ["53095496", "04110475", "31331128", "76028668", "46554205"][n]),
            Vector(
                suite: "OCRA-1:HOTP-SHA512-8:QA10-T1M", key: 64, question: OCRAQuestion("SIG1\(n)00000"),
                timeStep: minutes, response: ["77537423", "31970405", "10235557", "95213541", "65360607"][n]),
        ]
    }

    static let vectors = oneWay + mutual + signature

    @Test func everyAppendixCVectorIsListed() {
        #expect(Self.oneWay.count == 40)
        #expect(Self.mutual.count == 20)
        #expect(Self.signature.count == 10)
    }

    @Test(arguments: vectors)
    func appendixC(_ vector: Vector) throws {
        let suite = try OCRASuite(vector.suite)
        let ocra = OCRA(seed: try #require(Self.keys[vector.key]), suite: suite)
        let pin: OCRAPIN? = vector.pin ? .pin("1234") : nil
        let time = vector.timeStep.map { OCRATime.step($0) }
        let response = try ocra.response(to: vector.question, counter: vector.counter, pin: pin, time: time)
        #expect(response.text == vector.response)
        // The same with the PIN given as the RFC's hash, and the time as an instant in the step.
        let hashed: OCRAPIN? = vector.pin ? .hash(hexBytes(Self.pinSHA1)) : nil
        let instant = vector.timeStep.map { OCRATime.at(Date(timeIntervalSince1970: TimeInterval($0 * 60 + 59))) }
        #expect(
            try ocra.response(to: vector.question, counter: vector.counter, pin: hashed, time: instant).text
                == vector.response)
        // Verification accepts it and refuses a neighbour.
        let given = try #require(OCRAResponse(vector.response))
        #expect(try ocra.isValid(given, for: vector.question, counter: vector.counter, pin: pin, time: time))
        let wrongDigit = vector.response.last == "0" ? "1" : "0"
        let wrong = try #require(OCRAResponse(String(vector.response.dropLast()) + wrongDigit))
        #expect(!(try ocra.isValid(wrong, for: vector.question, counter: vector.counter, pin: pin, time: time)))
    }

    @Test func pinHashIsTheRFCs() throws {
        #expect(try OCRAPIN.pin("1234").digest(.sha1) == hexBytes(Self.pinSHA1))
    }

    /// The question field of RFC 6287's numeric vectors, as liboath's self-tests spell it out.
    @Test(arguments: [
        ("00000000", ""), ("11111111", "a98ac7"), ("22222222", "153158e0"), ("33333333", "1fca0550"),
        ("12345678", "bc614e"), ("99999999", "5f5e0ff0"),
    ])
    func numericQuestionField(challenge: String, hex: String) throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08")
        let field = try suite.questionField(OCRAQuestion(challenge))
        #expect(field.count == 128)
        #expect(field == hexBytes(hex) + [UInt8](repeating: 0, count: 128 - hex.count / 2))
    }
}

@Suite("RFC 6287 OCRA: data input and responses")
struct OCRADataInputTests {
    static let key = Seed(bytes: Array("12345678901234567890".utf8))

    @Test func dataInputIsLaidOutAsSection5() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:C-QH08-PSHA256-S003-T30S")
        let ocra = OCRA(seed: Self.key, suite: suite)
        let message = try ocra.dataInput(
            question: "abC", counter: 0x0102_0304_0506_0708, pin: .pin("0000"), session: [0xAA, 0xBB, 0xCC],
            time: .at(Date(timeIntervalSince1970: 90)))
        var expected = Array(suite.text.utf8) + [0]
        expected += [1, 2, 3, 4, 5, 6, 7, 8]
        expected += [0xAB, 0xC0] + [UInt8](repeating: 0, count: 126)  // odd hex: a 0 digit on the right
        expected += Array(SHA256.hash(data: Array("0000".utf8)))
        expected += [0xAA, 0xBB, 0xCC]
        expected += [0, 0, 0, 0, 0, 0, 0, 3]  // 90 s / 30 s
        #expect(message == expected)
    }

    @Test func numericChallengesAreNumbers() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN64")
        #expect(try suite.questionField("00123") == suite.questionField("123"))
        #expect(try suite.questionField("123") != suite.questionField("1230"))
        // 64 nines: 10^64 - 1 is 54 hex digits (Python: '%x' % (10**64 - 1)).
        let nines = try suite.questionField(OCRAQuestion(String(repeating: "9", count: 64)))
        #expect(
            nines == hexBytes("184f03e93ff9f4daa797ed6e38ed64bf6a1f00ffffffffffffffff")
                + [UInt8](repeating: 0, count: 101))
        // An odd number of hex digits gets a 0 digit on the right: 4095 is fff, written ff f0.
        #expect(try suite.questionField("4095").prefix(3) == [0xFF, 0xF0, 0x00])
        #expect(OCRASuite.hexDigits(ofDecimal: Array("4294967296".utf8)) == [1, 0, 0, 0, 0, 0, 0, 0, 0])
        #expect(OCRASuite.hexDigits(ofDecimal: Array("0".utf8)) == [0])
        #expect(OCRASuite.hexDigits(ofDecimal: Array("255".utf8)) == [0xF, 0xF])
    }

    /// Truncation 0 is the whole HMAC (RFC 6287 §5.2), written here in lower-case hex; checked against an HMAC of a
    /// data input built by hand.
    @Test(arguments: [("SHA1", 40), ("SHA256", 64), ("SHA512", 128)])
    func noTruncationIsTheWholeHMAC(hash: String, length: Int) throws {
        let text = "OCRA-1:HOTP-\(hash)-0:QA08"
        let ocra = OCRA(seed: Self.key, suite: try OCRASuite(text))
        let response = try ocra.response(to: "SIG10000")
        let message = Array(text.utf8) + [0] + Array("SIG10000".utf8) + [UInt8](repeating: 0, count: 120)
        let key = SymmetricKey(data: Array("12345678901234567890".utf8))
        let mac: [UInt8] =
            switch hash {
            case "SHA1": Array(HMAC<Insecure.SHA1>.authenticationCode(for: message, using: key))
            case "SHA256": Array(HMAC<SHA256>.authenticationCode(for: message, using: key))
            default: Array(HMAC<SHA512>.authenticationCode(for: message, using: key))
            }
        #expect(response.count == length)
        #expect(response.text == mac.map { String(format: "%02x", $0) }.joined())
        #expect(try ocra.isValid(try #require(OCRAResponse(response.text.uppercased())), for: "SIG10000"))
    }

    @Test(arguments: 4...10)
    func digitsAreKeptWithLeadingZeros(digits: Int) throws {
        let ocra = OCRA(seed: Self.key, suite: try OCRASuite("OCRA-1:HOTP-SHA1-\(digits):QN08"))
        var sawLeadingZero = false
        for n in 0..<300 {
            let text = try ocra.response(to: OCRAQuestion(String(n))).text
            #expect(text.count == digits && text.utf8.allSatisfy { $0 >= 0x30 && $0 <= 0x39 })
            sawLeadingZero = sawLeadingZero || text.hasPrefix("0")
        }
        #expect(sawLeadingZero)
    }

    @Test func responsesDoNotPrintThemselvesNorPINs() throws {
        let response = try #require(OCRAResponse("12345678"))
        #expect(!"\(response)".contains("12345678"))
        #expect(!"\(OCRAPIN.pin("98765"))".contains("98765"))
        for text in ["", "12 34", "１２３４", "12345g", String(repeating: "1", count: 129)] {
            #expect(OCRAResponse(text) == nil, "\(text)")
        }
    }

    @Test func inputsMustMatchTheSuite() throws {
        let plain = OCRA(seed: Self.key, suite: try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08"))
        let full = OCRA(seed: Self.key, suite: try OCRASuite("OCRA-1:HOTP-SHA1-6:C-QN08-PSHA1-S064-T1M"))
        let session = [UInt8](repeating: 7, count: 64)
        func code(_ body: () throws(OCRAError) -> OCRAResponse) -> OCRAError.Code? {
            do {
                _ = try body()
                return nil
            } catch { return error.code }
        }
        #expect(code { () throws(OCRAError) in try plain.response(to: "1", counter: 1) } == .unexpectedInput)
        #expect(code { () throws(OCRAError) in try plain.response(to: "1", pin: .pin("1")) } == .unexpectedInput)
        #expect(code { () throws(OCRAError) in try plain.response(to: "1", session: [1]) } == .unexpectedInput)
        #expect(code { () throws(OCRAError) in try plain.response(to: "1", time: .step(1)) } == .unexpectedInput)
        #expect(code { () throws(OCRAError) in try plain.response(to: "1") } == nil)
        let now = OCRATime.at(Date(timeIntervalSince1970: 1_800_000_000))
        #expect(
            code { () throws(OCRAError) in try full.response(to: "1", pin: .pin("1"), session: session, time: now) }
                == .missingInput)
        #expect(
            code { () throws(OCRAError) in try full.response(to: "1", counter: 1, session: session, time: now) }
                == .missingInput)
        #expect(
            code { () throws(OCRAError) in try full.response(to: "1", counter: 1, pin: .pin("1"), time: now) }
                == .missingInput)
        #expect(
            code { () throws(OCRAError) in try full.response(to: "1", counter: 1, pin: .pin("1"), session: session) }
                == .missingInput)
        #expect(
            code { () throws(OCRAError) in
                try full.response(to: "1", counter: 1, pin: .pin("1"), session: Array(session.dropLast()), time: now)
            } == .invalidInput)
        #expect(
            code { () throws(OCRAError) in
                try full.response(to: "1", counter: 1, pin: .hash([1, 2, 3]), session: session, time: now)
            } == .invalidInput)
        #expect(
            code { () throws(OCRAError) in
                try full.response(
                    to: "1", counter: 1, pin: .pin("1"), session: session, time: .at(Date(timeIntervalSince1970: -61)))
            } == .invalidInput)
        #expect(
            code { () throws(OCRAError) in
                try full.response(to: "1", counter: 1, pin: .pin("1"), session: session, time: now)
            } == nil)
    }
}

@Suite("RFC 6287 OCRA: suites")
struct OCRASuiteTests {
    @Test func parsesEveryPart() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA256-8:C-QH16-PSHA512-S128-T24H")
        #expect(suite.algorithm == .sha256 && suite.digits == 8 && suite.usesCounter)
        #expect(suite.challengeFormat == .hexadecimal && suite.maximumChallengeLength == 16)
        #expect(suite.pinHash == .sha512 && suite.sessionLength == 128 && suite.period == 86_400)
        #expect(suite.description == "OCRA-1:HOTP-SHA256-8:C-QH16-PSHA512-S128-T24H")

        let bare = try OCRASuite("OCRA-1:HOTP-SHA1-0:QA64")
        #expect(bare.digits == 0 && !bare.usesCounter && bare.challengeFormat == .alphanumeric)
        #expect(bare.pinHash == nil && bare.sessionLength == nil && bare.period == nil)
    }

    @Test(arguments: [
        ("OCRA-1:HOTP-SHA1-6:QN08-T1S", 1), ("OCRA-1:HOTP-SHA1-6:QN08-T59S", 59), ("OCRA-1:HOTP-SHA1-6:QN08-T30S", 30),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1M", 60), ("OCRA-1:HOTP-SHA1-6:QN08-T59M", 3540),
        ("OCRA-1:HOTP-SHA1-6:QN08-T1H", 3600), ("OCRA-1:HOTP-SHA1-6:QN08-T48H", 172_800),
    ])
    func timeSteps(text: String, seconds: Int) throws {
        #expect(try OCRASuite(text).period == seconds)
    }

    @Test(arguments: [0, 4, 5, 6, 7, 8, 9, 10])
    func digitsAccepted(digits: Int) throws {
        #expect(try OCRASuite("OCRA-1:HOTP-SHA1-\(digits):QN08").digits == digits)
    }

    struct Malformed: Sendable, CustomTestStringConvertible {
        let text: String
        let code: OCRAError.Code
        var testDescription: String { "\(text) → \(code)" }
    }

    static let malformed: [Malformed] = [
        // The frame.
        .init(text: "", code: .malformedSuite),
        .init(text: "OCRA-1:HOTP-SHA1-6", code: .malformedSuite),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08:C", code: .malformedSuite),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08 ", code: .malformedSuite),
        .init(text: "OCRA-1:HOTP-SHA1-6:QＮ08", code: .malformedSuite),
        // The version.
        .init(text: "OCRA-2:HOTP-SHA1-6:QN08", code: .unknownVersion),
        .init(text: "ocra-1:HOTP-SHA1-6:QN08", code: .unknownVersion),
        .init(text: ":HOTP-SHA1-6:QN08", code: .unknownVersion),
        // The crypto function.
        .init(text: "OCRA-1:TOTP-SHA1-6:QN08", code: .unknownCryptoFunction),
        .init(text: "OCRA-1:HOTP-SHA1:QN08", code: .unknownCryptoFunction),
        .init(text: "OCRA-1:HOTP-SHA1-6-6:QN08", code: .unknownCryptoFunction),
        .init(text: "OCRA-1::QN08", code: .unknownCryptoFunction),
        .init(text: "OCRA-1:HOTP-MD5-6:QN08", code: .unknownHash),
        .init(text: "OCRA-1:HOTP-SHA384-6:QN08", code: .unknownHash),
        .init(text: "OCRA-1:HOTP-sha1-6:QN08", code: .unknownHash),
        .init(text: "OCRA-1:HOTP-SHA-1-6:QN08", code: .unknownCryptoFunction),
        // Digits: 0 or 4–10.
        .init(text: "OCRA-1:HOTP-SHA1-3:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-1:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-11:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-06:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-+6:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-x:QN08", code: .digitsOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-:QN08", code: .digitsOutOfRange),
        // Q.
        .init(text: "OCRA-1:HOTP-SHA1-6:C", code: .missingChallenge),
        .init(text: "OCRA-1:HOTP-SHA1-6:C-PSHA1-T1M", code: .missingChallenge),
        .init(text: "OCRA-1:HOTP-SHA1-6:Q", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:QX08", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:Qn08", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN8", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN008", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:QNx8", code: .malformedChallengeFormat),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN03", code: .challengeLengthOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-6:QA00", code: .challengeLengthOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-6:QH65", code: .challengeLengthOutOfRange),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN99", code: .challengeLengthOutOfRange),
        // P.
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-P", code: .unknownHash),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-PMD5", code: .unknownHash),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-PSHA-1", code: .unknownHash),
        // S.
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S", code: .malformedSessionLength),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S64", code: .malformedSessionLength),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S0064", code: .malformedSessionLength),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S000", code: .malformedSessionLength),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S06x", code: .malformedSessionLength),
        // T.
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-TM", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T0S", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T60S", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T0M", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T60M", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T0H", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T49H", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1D", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T100S", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1m", code: .badTimeStep),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1M30S", code: .badTimeStep),
        // Order, duplicates, unknown inputs.
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-C", code: .inputOutOfOrder),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1M-PSHA1", code: .inputOutOfOrder),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S064-PSHA1", code: .inputOutOfOrder),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1M-S064", code: .inputOutOfOrder),
        .init(text: "OCRA-1:HOTP-SHA1-6:C-C-QN08", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-QA08", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:C-QN08-C", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-PSHA1-PSHA256", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-S064-S064", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-T1M-T1M", code: .duplicateInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-X", code: .unknownInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:C1-QN08", code: .unknownInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:QN08-", code: .unknownInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:C--QN08", code: .unknownInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:", code: .unknownInput),
        .init(text: "OCRA-1:HOTP-SHA1-6:qn08", code: .unknownInput),
    ]

    @Test(arguments: malformed)
    func refuses(_ item: Malformed) {
        let error = #expect(throws: OCRAError.self) { try OCRASuite(item.text) }
        #expect(error?.code == item.code, "\(error.map(String.init(describing:)) ?? "no error")")
    }

    struct Challenge: Sendable, CustomTestStringConvertible {
        let suite: String
        let challenge: String
        let valid: Bool
        var testDescription: String { "\(suite) \(challenge.debugDescription) \(valid ? "valid" : "invalid")" }
    }

    static let challenges: [Challenge] = [
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "12345678", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "1", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "00000000", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "123456789", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "1234abcd", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "-1234", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "1 234", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "１２３４", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN08", challenge: "١٢٣٤", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "SIG10000", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "aZ09", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "SIG-1000", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "SIG 1000", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "SIG100000", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "ｓｉｇ", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QA08", challenge: "é", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QH08", challenge: "0123abCD", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QH08", challenge: "abc", valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QH08", challenge: "0x12", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QH08", challenge: "12g4", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QH08", challenge: "123456789", valid: false),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN64", challenge: String(repeating: "9", count: 64), valid: true),
        .init(suite: "OCRA-1:HOTP-SHA1-6:QN64", challenge: String(repeating: "9", count: 65), valid: false),
    ]

    @Test(arguments: challenges)
    func challengeValidation(_ item: Challenge) throws {
        let suite = try OCRASuite(item.suite)
        #expect(suite.isValid(challenge: item.challenge) == item.valid)
        let ocra = OCRA(seed: Seed(bytes: [1, 2, 3]), suite: suite)
        if item.valid {
            _ = try ocra.response(to: OCRAQuestion(item.challenge))
        } else {
            let error = #expect(throws: OCRAError.self) { try ocra.response(to: OCRAQuestion(item.challenge)) }
            #expect(error?.code == .invalidChallenge)
        }
    }

    @Test func mutualChallengesAreCheckedOneByOne() throws {
        let ocra = OCRA(seed: Seed(bytes: [1, 2, 3]), suite: try OCRASuite("OCRA-1:HOTP-SHA1-6:QA08"))
        _ = try ocra.response(to: .mutual("CLI22220", "SRV11110"))
        // Together 16 characters, but the first is 9: refused.
        #expect(throws: OCRAError.self) { try ocra.response(to: .mutual("CLI222200", "SRV1111")) }
        #expect(throws: OCRAError.self) { try ocra.response(to: .mutual("CLI22220", "")) }
        #expect(throws: OCRAError.self) { try ocra.response(to: OCRAQuestion("CLI22220SRV11110")) }
    }

    @Test func timeStepsCountFromTheEpoch() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08-T30S")
        #expect(try suite.timeStep(at: Date(timeIntervalSince1970: 0)) == 0)
        #expect(try suite.timeStep(at: Date(timeIntervalSince1970: 29.999)) == 0)
        #expect(try suite.timeStep(at: Date(timeIntervalSince1970: 30)) == 1)
        #expect(try suite.timeStep(at: Date(timeIntervalSince1970: 1_800_000_000)) == 60_000_000)
        #expect(throws: OCRAError.self) { try suite.timeStep(at: Date(timeIntervalSince1970: -1)) }
        #expect(throws: OCRAError.self) { try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08").timeStep(at: Date()) }
    }
}

@Suite("RFC 6287 OCRA: verification windows")
struct OCRAVerificationTests {
    static let seed = Seed(bytes: Array(0..<32))

    @Test func timeWindowTellsTheMatchedStep() throws {
        let ocra = OCRA(seed: Self.seed, suite: try OCRASuite("OCRA-1:HOTP-SHA256-8:QN08-T1M"))
        let centre: UInt64 = 29_000_000
        for offset in -3...3 {
            let step = UInt64(Int64(centre) + Int64(offset))
            let response = try ocra.response(to: "12345678", time: .step(step))
            let found = try ocra.matchingTimeStep(for: response, to: "12345678", around: centre, window: 2)
            if abs(offset) <= 2 {
                #expect(found == step)
            } else {
                // Only a 1-in-10^8 collision with a step inside the window could match.
                if let found { #expect(try ocra.response(to: "12345678", time: .step(found)) == response) }
            }
            // A different question never takes the step's response.
            #expect(try ocra.matchingTimeStep(for: response, to: "12345679", around: centre, window: 3) == nil)
        }
        let now = try ocra.response(to: "1", time: .step(centre))
        #expect(try ocra.matchingTimeStep(for: now, to: "1", around: centre, window: 0) == centre)
        // Steps near 0 do not wrap around.
        let first = try ocra.response(to: "1", time: .step(0))
        #expect(try ocra.matchingTimeStep(for: first, to: "1", around: 1, window: 5) == 0)
        let error = #expect(throws: OCRAError.self) {
            try OCRA(seed: Self.seed, suite: try OCRASuite("OCRA-1:HOTP-SHA256-8:C-QN08"))
                .matchingTimeStep(for: now, to: "1", around: centre)
        }
        #expect(error?.code == .unexpectedInput)
    }

    @Test func counterLookAheadTellsTheMatchedCounter() throws {
        let ocra = OCRA(seed: Self.seed, suite: try OCRASuite("OCRA-1:HOTP-SHA512-8:C-QN08-PSHA1"))
        let pin = OCRAPIN.pin("4321")
        for counter: UInt64 in [5, 6, 9, 10, 11] {
            let response = try ocra.response(to: "777", counter: counter, pin: pin)
            let found = try ocra.matchingCounter(for: response, to: "777", from: 6, lookAhead: 4, pin: pin)
            if (6...10).contains(counter) {
                #expect(found == counter)
            } else {
                if let found { #expect(try ocra.response(to: "777", counter: found, pin: pin) == response) }
            }
            // The wrong PIN matches nothing.
            #expect(
                try ocra.matchingCounter(for: response, to: "777", from: 0, lookAhead: 20, pin: .pin("0000")) == nil)
        }
        let last = try ocra.response(to: "777", counter: UInt64.max, pin: pin)
        #expect(
            try ocra.matchingCounter(for: last, to: "777", from: UInt64.max - 1, lookAhead: 5, pin: pin) == UInt64.max)
        let error = #expect(throws: OCRAError.self) {
            try OCRA(seed: Self.seed, suite: try OCRASuite("OCRA-1:HOTP-SHA256-8:QN08-T1M"))
                .matchingCounter(for: last, to: "1", from: 0, time: .step(1))
        }
        #expect(error?.code == .unexpectedInput)
    }

    @Test func aCounterAndTimeSuiteVerifiesEitherWay() throws {
        let ocra = OCRA(seed: Self.seed, suite: try OCRASuite("OCRA-1:HOTP-SHA1-6:C-QA10-S004-T30S"))
        let session: [UInt8] = [9, 8, 7, 6]
        let response = try ocra.response(to: "Transfer1", counter: 42, session: session, time: .step(1000))
        #expect(
            try ocra.matchingTimeStep(
                for: response, to: "Transfer1", around: 999, window: 1, counter: 42, session: session) == 1000)
        #expect(
            try ocra.matchingCounter(
                for: response, to: "Transfer1", from: 40, lookAhead: 2, session: session, time: .step(1000)) == 42)
    }
}

@Suite("Transaction signing challenge")
struct TransactionChallengeTests {
    @Test func amountThenAccount() throws {
        let transfer = try TransactionChallenge(payeeAccount: "1234567", amount: 50_000)
        #expect(transfer.challenge == "500001234567")
        let suite = try OCRASuite("OCRA-1:HOTP-SHA256-8:QN20-T1M")
        #expect(try transfer.question(for: suite) == OCRAQuestion("500001234567"))
        #expect(try TransactionChallenge(payeeAccount: "0000001", amount: 1).challenge == "10000001")
    }

    /// With the account first these two would be the same number (123500); amount first they differ.
    @Test func leadingZerosOfTheAccountCannotMergeTwoTransfers() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN20")
        let one = try TransactionChallenge(payeeAccount: "0000012", amount: 3500).question(for: suite)
        let other = try TransactionChallenge(payeeAccount: "0000123", amount: 500).question(for: suite)
        #expect(try suite.questionField(one) != suite.questionField(other))
        let ocra = OCRA(seed: Seed(bytes: Array(0..<20)), suite: suite)
        #expect(try ocra.response(to: one) != ocra.response(to: other))
    }

    @Test func everyPairGivesADifferentNumber() throws {
        let suite = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN16")
        var fields: Set<[UInt8]> = []
        let accounts = ["0000000", "0000001", "0000010", "0000100", "1000000", "9999999", "0123456"]
        let amounts = [1, 9, 10, 100, 1000, 10_000, 12_345, 100_000_000]
        for account in accounts {
            for amount in amounts {
                fields.insert(
                    try suite.questionField(
                        try TransactionChallenge(payeeAccount: account, amount: amount).question(for: suite)))
            }
        }
        #expect(fields.count == accounts.count * amounts.count)
    }

    @Test func mustFitTheSuite() throws {
        let short = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN08")
        #expect(
            try TransactionChallenge(payeeAccount: "1234567", amount: 9).question(for: short).description == "91234567")
        let tooLong = #expect(throws: OCRAError.self) {
            try TransactionChallenge(payeeAccount: "1234567", amount: 10).question(for: short)
        }
        #expect(tooLong?.code == .transactionDoesNotFitSuite)
        let big = try OCRASuite("OCRA-1:HOTP-SHA1-6:QN20")
        _ = try TransactionChallenge(payeeAccount: "1234567", amount: 9_999_999_999_999).question(for: big)
        #expect(throws: OCRAError.self) {
            try TransactionChallenge(payeeAccount: "1234567", amount: 10_000_000_000_000).question(for: big)
        }
        for text in ["OCRA-1:HOTP-SHA1-6:QA20", "OCRA-1:HOTP-SHA1-6:QH20"] {
            let error = #expect(throws: OCRAError.self) {
                try TransactionChallenge(payeeAccount: "1234567", amount: 1).question(for: try OCRASuite(text))
            }
            #expect(error?.code == .transactionDoesNotFitSuite)
        }
    }

    @Test(arguments: [
        ("123456", 1), ("12345678", 1), ("123456a", 1), ("１２３４５６７", 1), ("123-456", 1), (" 123456", 1),
        ("1234567", 0), ("1234567", -5),
    ])
    func refusesMalformedTransfers(account: String, amount: Int) {
        let error = #expect(throws: OCRAError.self) { try TransactionChallenge(payeeAccount: account, amount: amount) }
        #expect(error?.code == .invalidTransaction)
    }
}
