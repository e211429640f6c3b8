import Testing
import WebAuthn

@Suite("CBOR: RFC 8949 reader")
struct CBORTests {
    struct Example: Sendable, CustomTestStringConvertible {
        var hex: String
        var value: CBOR
        var testDescription: String { hex }
    }

    /// RFC 8949 Appendix A, every example without a tag, an indefinite length or an unassigned simple value.
    static let appendixA: [Example] = [
        Example(hex: "00", value: .unsigned(0)),
        Example(hex: "01", value: .unsigned(1)),
        Example(hex: "0a", value: .unsigned(10)),
        Example(hex: "17", value: .unsigned(23)),
        Example(hex: "1818", value: .unsigned(24)),
        Example(hex: "1819", value: .unsigned(25)),
        Example(hex: "1864", value: .unsigned(100)),
        Example(hex: "1903e8", value: .unsigned(1000)),
        Example(hex: "1a000f4240", value: .unsigned(1_000_000)),
        Example(hex: "1b000000e8d4a51000", value: .unsigned(1_000_000_000_000)),
        Example(hex: "1bffffffffffffffff", value: .unsigned(18_446_744_073_709_551_615)),
        Example(hex: "3bffffffffffffffff", value: .negative(18_446_744_073_709_551_615)),  // -18446744073709551616
        Example(hex: "20", value: .int(-1)),
        Example(hex: "29", value: .int(-10)),
        Example(hex: "3863", value: .int(-100)),
        Example(hex: "3903e7", value: .int(-1000)),
        Example(hex: "f90000", value: .float(0.0)),
        Example(hex: "f98000", value: .float(-0.0)),
        Example(hex: "f93c00", value: .float(1.0)),
        Example(hex: "fb3ff199999999999a", value: .float(1.1)),
        Example(hex: "f93e00", value: .float(1.5)),
        Example(hex: "f97bff", value: .float(65504.0)),
        Example(hex: "fa47c35000", value: .float(100000.0)),
        Example(hex: "fa7f7fffff", value: .float(3.4028234663852886e+38)),
        Example(hex: "fb7e37e43c8800759c", value: .float(1.0e+300)),
        Example(hex: "f90001", value: .float(5.960464477539063e-8)),
        Example(hex: "f90400", value: .float(0.00006103515625)),
        Example(hex: "f9c400", value: .float(-4.0)),
        Example(hex: "fbc010666666666666", value: .float(-4.1)),
        Example(hex: "f97c00", value: .float(.infinity)),
        Example(hex: "f9fc00", value: .float(-.infinity)),
        Example(hex: "fa7f800000", value: .float(.infinity)),
        Example(hex: "faff800000", value: .float(-.infinity)),
        Example(hex: "fb7ff0000000000000", value: .float(.infinity)),
        Example(hex: "fbfff0000000000000", value: .float(-.infinity)),
        Example(hex: "f4", value: .bool(false)),
        Example(hex: "f5", value: .bool(true)),
        Example(hex: "f6", value: .null),
        Example(hex: "f7", value: .undefined),
        Example(hex: "40", value: .bytes([])),
        Example(hex: "4401020304", value: .bytes([1, 2, 3, 4])),
        Example(hex: "60", value: .text("")),
        Example(hex: "6161", value: .text("a")),
        Example(hex: "6449455446", value: .text("IETF")),
        Example(hex: "62225c", value: .text("\"\\")),
        Example(hex: "62c3bc", value: .text("\u{00fc}")),
        Example(hex: "63e6b0b4", value: .text("\u{6c34}")),
        Example(hex: "64f0908591", value: .text("\u{10151}")),
        Example(hex: "80", value: .array([])),
        Example(hex: "83010203", value: .array([.int(1), .int(2), .int(3)])),
        Example(
            hex: "8301820203820405",
            value: .array([.int(1), .array([.int(2), .int(3)]), .array([.int(4), .int(5)])])),
        Example(
            hex: "98190102030405060708090a0b0c0d0e0f101112131415161718181819",
            value: .array((1...25).map { .int($0) })),
        Example(hex: "a0", value: .map([])),
        Example(hex: "a201020304", value: .map([(.int(1), .int(2)), (.int(3), .int(4))])),
        Example(
            hex: "a26161016162820203",
            value: .map([(.text("a"), .int(1)), (.text("b"), .array([.int(2), .int(3)]))])),
        Example(hex: "826161a161626163", value: .array([.text("a"), .map([(.text("b"), .text("c"))])])),
        Example(
            hex: "a56161614161626142616361436164614461656145",
            value: .map([
                (.text("a"), .text("A")), (.text("b"), .text("B")), (.text("c"), .text("C")),
                (.text("d"), .text("D")), (.text("e"), .text("E")),
            ])),
    ]

    @Test(arguments: appendixA)
    func decodesAppendixAExample(_ example: Example) throws {
        let decoded = try CBOR.decode(bytes(hex: example.hex))
        #expect(decoded == example.value)
        // The test encoder writes preferred serialization; for these items (floats aside) that is the RFC's.
        if case .float = example.value {} else { #expect(hex(decoded.encoded) == example.hex) }
    }

    @Test func decodesNaN() throws {
        for text in ["f97e00", "fa7fc00000", "fb7ff8000000000000"] {
            guard case .float(let value) = try CBOR.decode(bytes(hex: text)) else {
                Issue.record("\(text) is not a float")
                continue
            }
            #expect(value.isNaN)
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var hex: String
        var why: String
        var testDescription: String { "\(why): \(hex)" }
    }

    /// Appendix A examples and others that the strict reader refuses.
    static let refusals: [Refusal] = [
        // Indefinite lengths (RFC 8949 §3.2.2, Appendix A).
        Refusal(hex: "5f42010243030405ff", why: "indefinite byte string"),
        Refusal(hex: "7f657374726561646d696e67ff", why: "indefinite text string"),
        Refusal(hex: "9fff", why: "indefinite array"),
        Refusal(hex: "9f018202039f0405ffff", why: "indefinite array"),
        Refusal(hex: "83018202039f0405ff", why: "indefinite array inside"),
        Refusal(hex: "bf61610161629f0203ffff", why: "indefinite map"),
        Refusal(hex: "a26161bf01020304ff6162f5", why: "indefinite map inside"),
        // Tags.
        Refusal(hex: "c074323031332d30332d32315432303a30343a30305a", why: "tag 0"),
        Refusal(hex: "c11a514b67b0", why: "tag 1"),
        Refusal(hex: "c249010000000000000000", why: "bignum tag 2"),
        Refusal(hex: "d74401020304", why: "tag 23"),
        Refusal(hex: "d9d9f7a0", why: "self-described CBOR tag 55799"),
        // Unassigned simple values and reserved additional information.
        Refusal(hex: "f0", why: "simple(16)"),
        Refusal(hex: "f8ff", why: "simple(255)"),
        Refusal(hex: "1c", why: "reserved additional information 28"),
        Refusal(hex: "5e", why: "reserved additional information 30"),
        Refusal(hex: "ff", why: "a break outside an indefinite-length item"),
        Refusal(hex: "1f", why: "additional information 31 on an integer"),
        // Duplicate keys (§5.6), also spelled differently.
        Refusal(hex: "a201020103", why: "duplicate key 1"),
        Refusal(hex: "a2616101616102", why: "duplicate key \"a\""),
        Refusal(hex: "a2010218010203", why: "duplicate key 1, the second non-minimal"),
        // Truncation.
        Refusal(hex: "", why: "empty input"),
        Refusal(hex: "18", why: "argument cut off"),
        Refusal(hex: "1a0000", why: "argument cut off"),
        Refusal(hex: "44010203", why: "byte string cut off"),
        Refusal(hex: "830102", why: "array cut off"),
        Refusal(hex: "a20102", why: "map cut off"),
        Refusal(hex: "a1", why: "map with no pair"),
        Refusal(hex: "fb3ff1999999", why: "double cut off"),
        // Lengths the input cannot hold (refused before anything is allocated).
        Refusal(hex: "5bffffffffffffffff", why: "byte string of 2^64-1 bytes"),
        Refusal(hex: "9bffffffffffffffff00", why: "array of 2^64-1 items"),
        Refusal(hex: "ba7fffffff0000", why: "map of 2^31-1 pairs"),
        // Text that is not UTF-8.
        Refusal(hex: "62c328", why: "invalid UTF-8"),
        Refusal(hex: "63eda080", why: "a UTF-16 surrogate in UTF-8"),
        // Trailing bytes where a whole item is expected.
        Refusal(hex: "0000", why: "a second item"),
        Refusal(hex: "a0ff", why: "a stray break"),
    ]

    @Test(arguments: refusals)
    func refuses(_ refusal: Refusal) {
        let error = WebAuthnTests.refusal { () throws(WebAuthnError) in try CBOR.decode(bytes(hex: refusal.hex)) }
        #expect(error?.code == .malformedCBOR)
    }

    @Test func refusesNestingDeeperThanTheLimit() throws {
        let limit = CBOR.maximumDepth
        let deepest = [UInt8](repeating: 0x81, count: limit) + [0x00]
        _ = try CBOR.decode(deepest)
        let tooDeep = [UInt8](repeating: 0x81, count: limit + 1) + [0x00]
        let error = refusal { () throws(WebAuthnError) in try CBOR.decode(tooDeep) }
        #expect(error?.code == .malformedCBOR)
        #expect(error?.detail.contains("nesting") == true)
        // Maps count too.
        // Maps count too: {0: {0: … 0}}.
        let maps: [UInt8] = Array((0...limit).map { _ -> [UInt8] in [0xA1, 0x00] }.joined()) + [0x00]
        #expect(refusal { () throws(WebAuthnError) in try CBOR.decode(maps) }?.code == .malformedCBOR)
        _ = try CBOR.decode(Array(maps.dropFirst(2)))
    }

    @Test func acceptsNonMinimalLengthsAndIntegers() throws {
        // RFC 8949 §4.2 deterministic encoding is not required: these mean 1, "a" and h'01'.
        #expect(try CBOR.decode(bytes(hex: "1801")) == .unsigned(1))
        #expect(try CBOR.decode(bytes(hex: "190001")) == .unsigned(1))
        #expect(try CBOR.decode(bytes(hex: "1b0000000000000001")) == .unsigned(1))
        #expect(try CBOR.decode(bytes(hex: "780161")) == .text("a"))
        #expect(try CBOR.decode(bytes(hex: "59000101")) == .bytes([1]))
    }

    @Test func decodePrefixTellsHowManyBytesTheItemUsed() throws {
        let input = bytes(hex: "a201020304" + "a0" + "ff")
        let (item, length) = try CBOR.decodePrefix(input[...])
        #expect(item == .map([(.int(1), .int(2)), (.int(3), .int(4))]))
        #expect(length == 5)
        let (next, nextLength) = try CBOR.decodePrefix(input[5...])
        #expect(next == .map([]))
        #expect(nextLength == 1)
        #expect(refusal { () throws(WebAuthnError) in try CBOR.decodePrefix(input[6...]) }?.code == .malformedCBOR)
    }

    @Test func mapLookups() throws {
        // {1: "a", -1: "b", "fix": 1}
        let map = try #require(try CBOR.decode(bytes(hex: "a30161612061626366697801")).mapValue)
        #expect(map[label: 1] == .text("a"))
        #expect(map[label: -1] == .text("b"))
        #expect(map[text: "fix"] == .unsigned(1))
        #expect(map[text: "a"] == nil)
        #expect(map[label: 2] == nil)
        #expect(map.count == 3)
    }
}
