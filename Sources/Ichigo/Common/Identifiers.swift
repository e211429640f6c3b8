import Crypto
import Foundation

/// Generates the random part of identifiers from the system's secure generator.
enum RandomText {
    /// `count` random decimal digits.
    static func digits(_ count: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return String((0..<count).map { _ in Character(String(Int.random(in: 0...9, using: &generator))) })
    }

    /// `byteCount` random bytes as lower-case hex.
    static func hex(byteCount: Int) -> String {
        SymmetricKey(size: .init(bitCount: byteCount * 8)).withUnsafeBytes { $0.hexString }
    }
}

private let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

extension Sequence where Element == UInt8 {
    /// The bytes as lower-case hex, two digits each.
    public var hexString: String {
        let bytes = Array(self)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            for (index, byte) in bytes.enumerated() {
                buffer[2 * index] = hexDigits[Int(byte >> 4)]
                buffer[2 * index + 1] = hexDigits[Int(byte & 0x0f)]
            }
            return bytes.count * 2
        }
    }
}

extension String {
    /// The string padded on the left with `pad` to `length` characters (unchanged if already as long).
    public func leftPadded(to length: Int, with pad: Character = "0") -> String {
        count >= length ? self : String(repeating: pad, count: length - count) + self
    }
}

/// Identifies an internet-banking user (a retail customer or a user of a corporate contract).
public struct UserID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A new random identifier, `U` and 24 hex digits.
    public static func random() -> UserID { UserID(rawValue: "U" + RandomText.hex(byteCount: 12)) }
    public var description: String { rawValue }
}

/// Identifies a contract: one retail customer, or a corporate contract with several users.
public struct ContractID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> ContractID { ContractID(rawValue: "C" + RandomText.hex(byteCount: 12)) }
    public var description: String { rawValue }
}

/// Identifies a token internally. Customers see its `SerialNumber`.
public struct TokenID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> TokenID { TokenID(rawValue: "T" + RandomText.hex(byteCount: 12)) }
    public var description: String { rawValue }
}

/// The login ID a user types (ログインID): 1–32 half-width letters, digits, `.`, `_`, `-`, `@`.
public struct LoginID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init?(rawValue: String) {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-@")
        guard (1...32).contains(rawValue.count), rawValue.allSatisfy(allowed.contains) else { return nil }
        self.rawValue = rawValue
    }
    public var description: String { rawValue }
}

/// The kind of a token, which its serial's prefix tells.
public enum TokenKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// A smartphone app (or `ichigo-token`): serial `SKTS` + digits, one per app installation.
    case software
    /// A key-fob with the serial printed on its back: `SKTH` + digits.
    case hardware

    /// The serial prefix for this kind.
    public var serialPrefix: String {
        switch self {
        case .software: "SKTS"
        case .hardware: "SKTH"
        }
    }
}

/// A token's serial number (シリアル番号): `SKTS` or `SKTH` followed by 4–16 digits.
public struct SerialNumber: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    /// The kind of token the prefix denotes.
    public let kind: TokenKind

    public init?(rawValue: String) {
        guard rawValue.utf8.allSatisfy({ $0 < 0x80 }) else { return nil }  // "ſ" would upper-case to "S"
        let text = rawValue.uppercased()
        guard let kind = TokenKind.allCases.first(where: { text.hasPrefix($0.serialPrefix) }) else { return nil }
        let digits = text.dropFirst(4)
        guard (4...16).contains(digits.count), digits.isASCIIDigits else { return nil }
        self.rawValue = text
        self.kind = kind
    }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let serial = SerialNumber(rawValue: text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "bad serial"))
        }
        self = serial
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }

    /// A new random software-token serial: `SKTS` and 10 digits.
    public static func randomSoftware() -> SerialNumber {
        SerialNumber(rawValue: "SKTS" + RandomText.digits(10))!
    }

    public var description: String { rawValue }
}

extension StringProtocol {
    /// Whether this is one or more half-width (ASCII) digits: what every numeric field of the screens takes (PINs,
    /// serial digits, bank, branch and account numbers, amounts and limits), so full-width digits are refused.
    public var isASCIIDigits: Bool { !isEmpty && allSatisfy { $0.isASCII && $0.isNumber } }
}

/// Identifies a deposit account (預金口座): `A` and 24 hex digits. Customers see its branch and number.
public struct AccountID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> AccountID { AccountID(rawValue: "A" + RandomText.hex(byteCount: 12)) }
    /// 1 to 64 characters, as an account ID another system names may be.
    public var isWellFormed: Bool { (1...64).contains(rawValue.utf8.count) }
    public var description: String { rawValue }
}

/// Identifies a transfer: a retail 振込 (`X` and 24 hex digits, made when its input screen is confirmed, so a
/// second submission is recognised) or corporate transfer data (`K` and 24 hex digits). An API caller may choose its
/// own (the passkey approval's transaction ID).
public struct TransferID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    /// A new retail transfer's.
    public static func retail() -> TransferID { TransferID(rawValue: "X" + RandomText.hex(byteCount: 12)) }
    /// New corporate transfer data's.
    public static func corporate() -> TransferID { TransferID(rawValue: "K" + RandomText.hex(byteCount: 12)) }
    /// An ID a caller chose (the JSON API's passkey approval): 1 to 64 ASCII letters, digits, `-` or `_`; `nil`
    /// otherwise.
    public init?(callerChosen text: String) {
        guard (1...64).contains(text.utf8.count),
            text.utf8.allSatisfy({
                ($0 >= 0x30 && $0 <= 0x39) || ($0 | 0x20 >= 0x61 && $0 | 0x20 <= 0x7A) || $0 == 0x2D || $0 == 0x5F
            })
        else { return nil }
        self.init(rawValue: text)
    }
    public var description: String { rawValue }
}

/// Identifies a transaction-signing challenge (取引認証): `S` and 24 hex digits.
public struct ChallengeID: RawRepresentable, Sendable, Hashable, Codable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public static func random() -> ChallengeID { ChallengeID(rawValue: "S" + RandomText.hex(byteCount: 12)) }
    public var description: String { rawValue }
}
