import NIOCore

/// A strict RFC 8259 syntax check, run before `JSONDecoder` (which accepts trailing commas and silently takes
/// one of two duplicated keys): one value, no trailing commas, no comments, no duplicate keys in any object, no
/// leading zeros or non-finite numbers, no control characters (nor an escaped U+0000) or invalid escapes in strings,
/// at most 32 levels.
enum StrictJSON {
    struct Failure: Error, Sendable {
        let reason: String
        let offset: Int
    }

    /// A top-level object: its keys in order, and the members whose values are strings.
    struct Object: Sendable {
        var keys: [String] = []
        var strings: [String: String] = [:]
    }

    /// Checks `bytes` and returns the top-level value if it is an object (else `nil`).
    static func check(_ bytes: [UInt8]) throws(Failure) -> Object? {
        var parser = Parser(bytes: bytes)
        parser.skipSpace()
        let object = try parser.value(depth: 0)
        parser.skipSpace()
        guard parser.index == bytes.count else { throw parser.fail("data after the JSON value") }
        return object
    }

    private struct Parser {
        let bytes: [UInt8]
        var index = 0

        func fail(_ reason: String) -> Failure { Failure(reason: reason, offset: index) }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipSpace() {
            while let byte = current, byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D { index += 1 }
        }

        mutating func expect(_ literal: String) throws(Failure) {
            for byte in literal.utf8 {
                guard current == byte else { throw fail("invalid literal") }
                index += 1
            }
        }

        /// Parses one value; returns an object's keys (and string members, at the top level).
        mutating func value(depth: Int) throws(Failure) -> Object? {
            guard depth < 32 else { throw fail("nested too deeply") }
            switch current {
            case UInt8(ascii: "{")?: return try object(depth: depth)
            case UInt8(ascii: "[")?:
                try array(depth: depth)
                return nil
            case UInt8(ascii: "\"")?:
                _ = try string()
                return nil
            case UInt8(ascii: "t")?: try expect("true")
            case UInt8(ascii: "f")?: try expect("false")
            case UInt8(ascii: "n")?: try expect("null")
            case let byte? where byte == UInt8(ascii: "-") || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte):
                try number()
            default: throw fail(current == nil ? "unexpected end of data" : "unexpected character")
            }
            return nil
        }

        mutating func object(depth: Int) throws(Failure) -> Object {
            index += 1
            var object = Object()
            var seen = Set<String>()
            skipSpace()
            if current == UInt8(ascii: "}") {
                index += 1
                return object
            }
            while true {
                skipSpace()
                guard current == UInt8(ascii: "\"") else {
                    throw fail(current == UInt8(ascii: "}") ? "trailing comma" : "expected a key")
                }
                let key = try string()
                guard seen.insert(key).inserted else { throw fail("duplicate key \"\(key)\"") }
                object.keys.append(key)
                skipSpace()
                guard current == UInt8(ascii: ":") else { throw fail("expected ':'") }
                index += 1
                skipSpace()
                if depth == 0, current == UInt8(ascii: "\"") {
                    object.strings[key] = try string()
                } else {
                    _ = try value(depth: depth + 1)
                }
                skipSpace()
                if current == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard current == UInt8(ascii: "}") else { throw fail("expected ',' or '}'") }
                index += 1
                return object
            }
        }

        mutating func array(depth: Int) throws(Failure) {
            index += 1
            skipSpace()
            if current == UInt8(ascii: "]") {
                index += 1
                return
            }
            while true {
                skipSpace()
                if current == UInt8(ascii: "]") { throw fail("trailing comma") }
                _ = try value(depth: depth + 1)
                skipSpace()
                if current == UInt8(ascii: ",") {
                    index += 1
                    continue
                }
                guard current == UInt8(ascii: "]") else { throw fail("expected ',' or ']'") }
                index += 1
                return
            }
        }

        mutating func string() throws(Failure) -> String {
            index += 1
            var scalars = String.UnicodeScalarView()
            var start = index
            func flush(_ parser: Parser, upTo end: Int) throws(Failure) {
                guard let text = String(validating: parser.bytes[start..<end], as: UTF8.self) else {
                    throw parser.fail("invalid UTF-8 in a string")
                }
                scalars.append(contentsOf: text.unicodeScalars)
            }
            while true {
                guard let byte = current else { throw fail("unterminated string") }
                switch byte {
                case UInt8(ascii: "\""):
                    try flush(self, upTo: index)
                    index += 1
                    return String(scalars)
                case UInt8(ascii: "\\"):
                    try flush(self, upTo: index)
                    index += 1
                    guard let escape = current else { throw fail("unterminated string") }
                    index += 1
                    switch escape {
                    case UInt8(ascii: "\""): scalars.append("\"")
                    case UInt8(ascii: "\\"): scalars.append("\\")
                    case UInt8(ascii: "/"): scalars.append("/")
                    case UInt8(ascii: "b"): scalars.append("\u{08}")
                    case UInt8(ascii: "f"): scalars.append("\u{0C}")
                    case UInt8(ascii: "n"): scalars.append("\n")
                    case UInt8(ascii: "r"): scalars.append("\r")
                    case UInt8(ascii: "t"): scalars.append("\t")
                    case UInt8(ascii: "u"):
                        var unit = try hex4()
                        if (0xD800...0xDBFF).contains(unit) {
                            guard current == UInt8(ascii: "\\") else { throw fail("lone surrogate") }
                            index += 1
                            guard current == UInt8(ascii: "u") else { throw fail("lone surrogate") }
                            index += 1
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("lone surrogate") }
                            unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(unit) {
                            throw fail("lone surrogate")
                        }
                        guard let scalar = Unicode.Scalar(unit) else { throw fail("invalid escape") }
                        // Valid JSON, but text with U+0000 cannot be stored on PostgreSQL: refused the same on
                        // every store, before any.
                        guard unit != 0 else { throw fail("U+0000 in a string") }
                        scalars.append(scalar)
                    default: throw fail("invalid escape")
                    }
                    start = index
                case 0x00..<0x20:
                    throw fail("control character in a string")
                default:
                    index += 1
                }
            }
        }

        mutating func hex4() throws(Failure) -> UInt32 {
            var value: UInt32 = 0
            for _ in 0..<4 {
                guard let byte = current else { throw fail("invalid escape") }
                let digit: UInt32
                switch byte {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = UInt32(byte - UInt8(ascii: "0"))
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = UInt32(byte - UInt8(ascii: "a") + 10)
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = UInt32(byte - UInt8(ascii: "A") + 10)
                default: throw fail("invalid escape")
                }
                value = value * 16 + digit
                index += 1
            }
            return value
        }

        mutating func digits() -> Int {
            let start = index
            while let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
            return index - start
        }

        mutating func number() throws(Failure) {
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
                if let byte = current, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) {
                    throw fail("leading zero")
                }
            } else if digits() == 0 {
                throw fail("invalid number")
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("invalid number") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("invalid number") }
            }
        }
    }
}

/// Writing JSON by hand where a hot answer is built without `JSONEncoder`.
enum JSONText {
    private static let hexDigits = Array("0123456789abcdef".utf8)

    /// Writes `text` as a JSON string, quoted, escaping `"`, `\` and control characters (RFC 8259 §7).
    static func write(_ text: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeStaticString(#"\""#)
            case UInt8(ascii: "\\"): buffer.writeStaticString(#"\\"#)
            case 0x0A: buffer.writeStaticString(#"\n"#)
            case 0x0D: buffer.writeStaticString(#"\r"#)
            case 0x09: buffer.writeStaticString(#"\t"#)
            case 0x00..<0x20:
                buffer.writeStaticString(#"\u00"#)
                buffer.writeInteger(hexDigits[Int(byte >> 4)])
                buffer.writeInteger(hexDigits[Int(byte & 0x0F)])
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}
