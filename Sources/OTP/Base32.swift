/// RFC 4648 §6 base32, used only at the edges (`otpauth://` secrets, user-typed seeds).
public enum Base32 {
    static let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567".utf8)

    static let decodeTable: [Int8] = {
        var table = [Int8](repeating: -1, count: 256)
        for (index, char) in alphabet.enumerated() {
            table[Int(char)] = Int8(index)
            // Accept lower case on input.
            if char >= 0x41 && char <= 0x5A { table[Int(char + 0x20)] = Int8(index) }
        }
        return table
    }()

    /// Encodes bytes as base32.
    /// - Parameter padding: append `=` to a multiple of 8 characters (RFC 4648 §6); `otpauth://` omits it.
    public static func encode(_ bytes: [UInt8], padding: Bool = true) -> String {
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 4) / 5 * 8)
        var buffer: UInt64 = 0
        var bits = 0
        for byte in bytes {
            buffer = (buffer << 8) | UInt64(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((buffer >> UInt64(bits)) & 0x1f)])
            }
        }
        if bits > 0 {
            out.append(alphabet[Int((buffer << UInt64(5 - bits)) & 0x1f)])
        }
        if padding {
            while out.count % 8 != 0 { out.append(0x3D) }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Decodes base32, case-insensitively, with or without `=` padding; spaces and hyphens are ignored.
    /// - Returns: the bytes, or `nil` if the text has a character outside the alphabet or an impossible length.
    public static func decode(_ text: String) -> [UInt8]? {
        var out: [UInt8] = []
        var buffer: UInt64 = 0
        var bits = 0
        var symbols = 0
        var seenPadding = false
        for char in text.utf8 {
            if char == 0x20 || char == 0x2D { continue }
            if char == 0x3D {
                seenPadding = true
                continue
            }
            if seenPadding { return nil }
            let value = decodeTable[Int(char)]
            guard value >= 0 else { return nil }
            buffer = (buffer << 5) | UInt64(value)
            bits += 5
            symbols += 1
            if bits >= 8 {
                bits -= 8
                out.append(UInt8((buffer >> UInt64(bits)) & 0xff))
            }
        }
        // Valid final group lengths (in symbols mod 8) are 0, 2, 4, 5, 7.
        guard [0, 2, 4, 5, 7].contains(symbols % 8) else { return nil }
        // Left-over bits must be zero (canonical encoding).
        if bits > 0 && (buffer & ((1 << UInt64(bits)) - 1)) != 0 { return nil }
        return out
    }
}
