/// A CBOR data item (RFC 8949 §3), as the strict reader below returns it.
///
/// WebAuthn needs only integers, byte and text strings, arrays, maps and the simple values; floats are read too
/// (an extension might carry one). Tags are refused: nothing in WebAuthn uses one.
public indirect enum CBOR: Sendable, Hashable {
    /// Major type 0: an unsigned integer.
    case unsigned(UInt64)
    /// Major type 1: the integer `-1 - n` for the `n` given here (so `-2^64` fits).
    case negative(UInt64)
    /// Major type 2.
    case bytes([UInt8])
    /// Major type 3: valid UTF-8 only.
    case text(String)
    /// Major type 4.
    case array([CBOR])
    /// Major type 5: pairs in the order they were read, no two keys alike.
    case map(CBORMap)
    /// Simple values 20 and 21.
    case bool(Bool)
    /// Simple value 22.
    case null
    /// Simple value 23.
    case undefined
    /// Major type 7, additional information 25, 26 or 27 (half, single or double precision).
    case float(Double)

    /// The integer, if this is one that fits in `Int`.
    public var intValue: Int? {
        switch self {
        case .unsigned(let value): value <= UInt64(Int.max) ? Int(value) : nil
        case .negative(let value): value <= UInt64(Int.max) ? -1 - Int(value) : nil
        default: nil
        }
    }

    public var bytesValue: [UInt8]? {
        if case .bytes(let bytes) = self { bytes } else { nil }
    }

    public var textValue: String? {
        if case .text(let text) = self { text } else { nil }
    }

    public var mapValue: CBORMap? {
        if case .map(let map) = self { map } else { nil }
    }

    /// A key for a map: an integer label (as COSE uses).
    public static func int(_ value: Int) -> CBOR {
        value >= 0 ? .unsigned(UInt64(value)) : .negative(UInt64(-1 - value))
    }
}

/// A CBOR map's pairs in the order they were read (RFC 8949 §3.1, major type 5). The reader refuses duplicate keys,
/// so a lookup finds at most one value.
public struct CBORMap: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public let key: CBOR
        public let value: CBOR
        public init(key: CBOR, value: CBOR) {
            self.key = key
            self.value = value
        }
    }

    public let entries: [Entry]

    /// A map of these pairs; the caller keeps the keys distinct (the reader does).
    public init(_ entries: [Entry]) { self.entries = entries }

    public var count: Int { entries.count }

    public subscript(key: CBOR) -> CBOR? {
        entries.first(where: { $0.key == key })?.value
    }

    /// The value under a text key, as WebAuthn's attestation objects and statements use.
    public subscript(text key: String) -> CBOR? { self[.text(key)] }

    /// The value under an integer label, as COSE keys use.
    public subscript(label key: Int) -> CBOR? { self[.int(key)] }
}

extension CBOR {
    /// More arrays and maps than this nested inside one another are refused. WebAuthn's deepest structure, an
    /// attestation object whose statement holds an array of certificates, is 3 deep; extensions add a few more.
    public static let maximumDepth = 16

    /// Decodes one CBOR item that fills `bytes` exactly (RFC 8949 §5.3: a well-formed item, nothing after it).
    ///
    /// Strict where WebAuthn can be (W3C WebAuthn L3 §6.5 asks for CTAP2's canonical encoding, RFC 8949 §4.2, but
    /// browsers pass on what authenticators wrote, so only what makes an item ambiguous or unbounded is refused):
    /// - indefinite lengths (RFC 8949 §3.2.1–3.2.3) are refused;
    /// - duplicate map keys (§5.6) are refused;
    /// - nesting deeper than `maximumDepth` is refused;
    /// - a length or count that the remaining bytes cannot hold is refused before anything is allocated;
    /// - tags (major type 6), unassigned simple values and reserved additional information (28–30) are refused;
    /// - text strings must be valid UTF-8 (§3.1);
    /// - non-minimal ("preferred serialization", §4.1) lengths and integers are accepted: the item means the same.
    ///
    /// - Throws: `WebAuthnError` with code `.malformedCBOR`; the detail names the byte offset.
    public static func decode(_ bytes: [UInt8]) throws(WebAuthnError) -> CBOR {
        let (item, length) = try decodePrefix(bytes[...])
        guard length == bytes.count else {
            throw WebAuthnError(
                .malformedCBOR, "\(bytes.count - length) trailing bytes after the CBOR item (RFC 8949 §5.3)")
        }
        return item
    }

    /// Decodes the one CBOR item that starts `bytes` and tells how many bytes it used; what follows is the caller's
    /// (authenticator data puts the credential public key and then the extensions one after the other, W3C WebAuthn
    /// L3 §6.5.1). The same rules as `decode(_:)`.
    public static func decodePrefix(_ bytes: ArraySlice<UInt8>) throws(WebAuthnError) -> (item: CBOR, length: Int) {
        var reader = CBORReader(bytes: bytes)
        let item = try reader.readItem(depth: 1)
        return (item, reader.offset)
    }
}

/// The reader behind `CBOR.decode`: an offset into the input, every read bounded by what is left.
private struct CBORReader {
    let bytes: ArraySlice<UInt8>
    /// Bytes consumed so far, from `bytes.startIndex`.
    var offset = 0

    init(bytes: ArraySlice<UInt8>) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    func failure(_ detail: String, at position: Int) -> WebAuthnError {
        WebAuthnError(.malformedCBOR, "\(detail) at byte \(position)")
    }

    mutating func readByte() throws(WebAuthnError) -> UInt8 {
        guard remaining >= 1 else { throw failure("truncated item", at: offset) }
        let byte = bytes[bytes.startIndex + offset]
        offset += 1
        return byte
    }

    mutating func readBytes(_ count: Int) throws(WebAuthnError) -> [UInt8] {
        guard count <= remaining else {
            throw failure("a length of \(count) bytes runs past the end (\(remaining) left)", at: offset)
        }
        let start = bytes.startIndex + offset
        offset += count
        return Array(bytes[start..<start + count])
    }

    /// The argument of an initial byte (RFC 8949 §3): the value itself below 24, else the 1, 2, 4 or 8 bytes after.
    mutating func readArgument(_ additional: UInt8, major: UInt8, at start: Int) throws(WebAuthnError) -> UInt64 {
        switch additional {
        case 0..<24:
            return UInt64(additional)
        case 24, 25, 26, 27:
            let width = 1 << Int(additional - 24)
            var value: UInt64 = 0
            for byte in try readBytes(width) { value = value << 8 | UInt64(byte) }
            return value
        case 31 where (2...5).contains(major):
            throw failure("an indefinite length (major type \(major)) is refused", at: start)
        default:
            throw failure("reserved additional information \(additional) (RFC 8949 §3)", at: start)
        }
    }

    /// A length or count that must fit in what is left: each element of an array takes at least one byte, each pair
    /// of a map at least two.
    func bounded(_ argument: UInt64, bytesEach: Int, at start: Int) throws(WebAuthnError) -> Int {
        guard argument <= UInt64(remaining / bytesEach) else {
            throw failure("a length of \(argument) does not fit in the \(remaining) bytes left", at: start)
        }
        return Int(argument)
    }

    mutating func readItem(depth: Int) throws(WebAuthnError) -> CBOR {
        let start = offset
        let initial = try readByte()
        let major = initial >> 5
        let additional = initial & 0x1F
        if major == 7 { return try readSimple(additional, at: start) }
        let argument = try readArgument(additional, major: major, at: start)
        switch major {
        case 0:
            return .unsigned(argument)
        case 1:
            return .negative(argument)
        case 2:
            return .bytes(try readBytes(try bounded(argument, bytesEach: 1, at: start)))
        case 3:
            let utf8 = try readBytes(try bounded(argument, bytesEach: 1, at: start))
            guard let text = String(validating: utf8, as: UTF8.self) else {
                throw failure("a text string that is not UTF-8 (RFC 8949 §3.1)", at: start)
            }
            return .text(text)
        case 4:
            let count = try bounded(argument, bytesEach: 1, at: start)
            guard depth <= CBOR.maximumDepth else {
                throw failure("nesting deeper than \(CBOR.maximumDepth)", at: start)
            }
            var items: [CBOR] = []
            items.reserveCapacity(count)
            for _ in 0..<count { items.append(try readItem(depth: depth + 1)) }
            return .array(items)
        case 5:
            let count = try bounded(argument, bytesEach: 2, at: start)
            guard depth <= CBOR.maximumDepth else {
                throw failure("nesting deeper than \(CBOR.maximumDepth)", at: start)
            }
            var entries: [CBORMap.Entry] = []
            entries.reserveCapacity(count)
            var keys: Set<CBOR> = []
            for _ in 0..<count {
                let keyStart = offset
                let key = try readItem(depth: depth + 1)
                guard keys.insert(key).inserted else {
                    throw failure("a duplicate map key (RFC 8949 §5.6)", at: keyStart)
                }
                entries.append(CBORMap.Entry(key: key, value: try readItem(depth: depth + 1)))
            }
            return .map(CBORMap(entries))
        default:  // 6
            throw failure("a tag (major type 6) is refused; WebAuthn uses none", at: start)
        }
    }

    /// Major type 7 (RFC 8949 §3.3): false, true, null, undefined and the three float widths.
    mutating func readSimple(_ additional: UInt8, at start: Int) throws(WebAuthnError) -> CBOR {
        switch additional {
        case 20: return .bool(false)
        case 21: return .bool(true)
        case 22: return .null
        case 23: return .undefined
        case 25:
            let bits = try readBytes(2)
            return .float(Self.halfToDouble(UInt16(bits[0]) << 8 | UInt16(bits[1])))
        case 26:
            let bits = try readBytes(4).reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
            return .float(Double(Float(bitPattern: bits)))
        case 27:
            let bits = try readBytes(8).reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
            return .float(Double(bitPattern: bits))
        case 31:
            throw failure("a break outside an indefinite-length item", at: start)
        case 28, 29, 30:
            throw failure("reserved additional information \(additional) (RFC 8949 §3)", at: start)
        default:
            throw failure("an unassigned simple value is refused", at: start)
        }
    }

    /// IEEE 754 half precision to double (RFC 8949 Appendix D).
    static func halfToDouble(_ half: UInt16) -> Double {
        let exponent = Int(half >> 10) & 0x1F
        let mantissa = Double(half & 0x3FF)
        let magnitude: Double =
            switch exponent {
            case 0: mantissa * 0x1p-24
            case 31: mantissa == 0 ? .infinity : .nan
            default: (1 + mantissa / 1024) * Double(sign: .plus, exponent: exponent - 15, significand: 1)
            }
        return half & 0x8000 != 0 ? -magnitude : magnitude
    }
}
