/// A one-time password as the user types it: 6 to 8 ASCII digits, leading zeros kept.
///
/// Codes are never integers: `012345` and `12345` are different codes.
public struct OTPCode: Sendable, Hashable, CustomStringConvertible {
    /// The digits, as ASCII bytes.
    @usableFromInline
    let digits: [UInt8]

    /// Accepts only half-width ASCII digits, 6 to 8 of them.
    public init?(_ text: String) {
        let bytes = Array(text.utf8)
        guard OTPCode.allowedLengths.contains(bytes.count), bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else {
            return nil
        }
        self.digits = bytes
    }

    /// Formats `value` with exactly `digits` digits (RFC 4226 §5.3: `Snum mod 10^Digit`).
    @usableFromInline
    init(value: UInt32, digits: Int) {
        var out = [UInt8](repeating: 0x30, count: digits)
        var remaining = value
        for index in stride(from: digits - 1, through: 0, by: -1) {
            out[index] = 0x30 + UInt8(remaining % 10)
            remaining /= 10
        }
        self.digits = out
    }

    /// The lengths Ichigo's policies allow.
    public static let allowedLengths = 6...8

    /// The number of digits.
    public var count: Int { digits.count }

    /// The code as text. Treat it as a secret: do not log it.
    public var text: String { String(decoding: digits, as: UTF8.self) }

    /// Redacted, so a code never reaches a log through string interpolation.
    public var description: String { "OTPCode(\(digits.count) digits)" }

    /// Compares two codes in time independent of where they differ.
    public func isEqual(inConstantTime other: OTPCode) -> Bool {
        ConstantTime.isEqual(digits, other.digits)
    }

    /// Whether `value`, written with this code's number of digits, is this code. Constant time.
    @usableFromInline
    func matches(value: UInt32) -> Bool {
        var remaining = value
        var difference: UInt32 = 0
        for index in stride(from: digits.count - 1, through: 0, by: -1) {
            difference |= UInt32(digits[index]) ^ (0x30 + remaining % 10)
            remaining /= 10
        }
        return difference == 0
    }
}

extension OTPCode {
    /// `10^digits` for the allowed lengths.
    @usableFromInline
    static func modulus(digits: Int) -> UInt32 {
        switch digits {
        case 6: 1_000_000
        case 7: 10_000_000
        default: 100_000_000
        }
    }
}
