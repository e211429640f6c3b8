import Foundation

/// Why an OCRA suite was refused, or why a response could not be computed (RFC 6287).
///
/// The detail is for developers and logs; it never contains a key, a PIN or a response.
public struct OCRAError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code; its storage is private so new cases break nobody.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let value: String
        private init(_ value: String) { self.value = value }
        public var description: String { value }

        // MARK: The suite (RFC 6287 §6)

        /// Not three parts `Algorithm:CryptoFunction:DataInput`, or not printable ASCII.
        public static let malformedSuite = Code("ocra.malformed_suite")
        /// An algorithm other than `OCRA-1` (§6.1).
        public static let unknownVersion = Code("ocra.unknown_version")
        /// A crypto function that is not `HOTP-<hash>-<digits>` (§6.2).
        public static let unknownCryptoFunction = Code("ocra.unknown_crypto_function")
        /// A hash other than `SHA1`, `SHA256` or `SHA512`, in the crypto function or in `P` (§6.2, §6.3).
        public static let unknownHash = Code("ocra.unknown_hash")
        /// A truncation other than 0 (none) or 4 to 10 digits (§6.2).
        public static let digitsOutOfRange = Code("ocra.digits_out_of_range")
        /// `Q` not written `QFxx` with F one of `A`, `N`, `H` and xx two digits (§6.3).
        public static let malformedChallengeFormat = Code("ocra.malformed_challenge_format")
        /// A challenge length xx outside 04–64 (§6.3).
        public static let challengeLengthOutOfRange = Code("ocra.challenge_length_out_of_range")
        /// `S` not written `Snnn` with nnn three digits from 001 (§6.3).
        public static let malformedSessionLength = Code("ocra.malformed_session_length")
        /// `T` not written `TG` with G one of 1–59 `S`, 1–59 `M`, 1–48 `H` (§6.3).
        public static let badTimeStep = Code("ocra.bad_time_step")
        /// A data input given twice.
        public static let duplicateInput = Code("ocra.duplicate_input")
        /// Data inputs not in the order `C`, `Q`, `P`, `S`, `T` (§5.1).
        public static let inputOutOfOrder = Code("ocra.input_out_of_order")
        /// No `Q`: every OCRA computation has a challenge (§5.1).
        public static let missingChallenge = Code("ocra.missing_challenge")
        /// A data input that is none of `C`, `Q`, `P`, `S`, `T`, or `C` with a parameter.
        public static let unknownInput = Code("ocra.unknown_input")

        // MARK: Computing a response (RFC 6287 §5)

        /// A challenge empty, longer than the suite's xx, or with a character its format does not allow.
        public static let invalidChallenge = Code("ocra.invalid_challenge")
        /// The suite needs a counter, PIN, session or time that was not given.
        public static let missingInput = Code("ocra.missing_input")
        /// A counter, PIN, session or time given to a suite that does not use it.
        public static let unexpectedInput = Code("ocra.unexpected_input")
        /// A PIN hash or session of the wrong length, a time before 1970, a negative window.
        public static let invalidInput = Code("ocra.invalid_input")

        // MARK: Transaction signing (`TransactionChallenge`)

        /// A payee account that is not 7 digits, or an amount below 1 yen.
        public static let invalidTransaction = Code("ocra.invalid_transaction")
        /// The transaction's challenge is longer than the suite's xx, or the suite's challenges are not numeric.
        public static let transactionDoesNotFitSuite = Code("ocra.transaction_does_not_fit_suite")
    }

    public let code: Code
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(detail) (\(code))" }
}

/// The format of an OCRA challenge question (RFC 6287 §6.3, Table 2).
public enum OCRAChallengeFormat: String, Sendable, Hashable, CaseIterable {
    /// `A`: ASCII letters and digits, used as they are (their bytes).
    case alphanumeric = "A"
    /// `N`: decimal digits, read as one number and written in binary (RFC 6287 Appendix A).
    case numeric = "N"
    /// `H`: hexadecimal digits, written as the bytes they spell.
    case hexadecimal = "H"
}

/// An OCRA suite (RFC 6287 §6), e.g. `OCRA-1:HOTP-SHA256-8:C-QN08-PSHA1`: which inputs a response is computed from,
/// with which HMAC, and how many digits it has.
///
/// Parsed strictly as the RFC writes it: upper case, data inputs in the order `C`, `Q`, `P`, `S`, `T`, each at most
/// once, every parameter written out (`PSHA1`, `S064`, `T1M`, not bare `P`, `S`, `T`). The text is kept as given:
/// its bytes are the first part of every data input.
public struct OCRASuite: Sendable, Hashable, CustomStringConvertible {
    /// The suite as written; hashed as the start of the data input (§5.1).
    public let text: String
    /// The HMAC's hash function (`HOTP-SHA1`, `HOTP-SHA256`, `HOTP-SHA512`).
    public let algorithm: OTPAlgorithm
    /// Digits in a response: 4 to 10, or 0 for no truncation (the whole HMAC, see `OCRA`).
    public let digits: Int
    /// `C`: a counter takes part.
    public let usesCounter: Bool
    /// `Q` (always present): the challenge format.
    public let challengeFormat: OCRAChallengeFormat
    /// `Q`: the longest challenge, 4 to 64 characters.
    public let maximumChallengeLength: Int
    /// `P`: the PIN's hash, when a PIN takes part.
    public let pinHash: OTPAlgorithm?
    /// `S`: the session information's length in bytes, when it takes part.
    public let sessionLength: Int?
    /// `T`: the time step in seconds, when a time takes part.
    public let period: Int?

    /// Parses and checks a suite.
    /// - Throws: `OCRAError` naming the first malformed part.
    public init(_ text: String) throws(OCRAError) {
        let bytes = Array(text.utf8)
        guard !bytes.isEmpty, bytes.allSatisfy({ $0 > 0x20 && $0 < 0x7F }) else {
            throw OCRAError(.malformedSuite, "an OCRA suite is printable ASCII without spaces")
        }
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 3 else {
            throw OCRAError(
                .malformedSuite, "an OCRA suite has three parts Algorithm:CryptoFunction:DataInput, not \(parts.count)")
        }
        guard parts[0] == "OCRA-1" else {
            throw OCRAError(.unknownVersion, "algorithm \(parts[0].prefix(40)) (only OCRA-1 exists)")
        }
        self.text = text

        // CryptoFunction: HOTP-H-t (§6.2).
        let function = parts[1].split(separator: "-", omittingEmptySubsequences: false)
        guard function.count == 3, function[0] == "HOTP" else {
            throw OCRAError(
                .unknownCryptoFunction, "crypto function \(parts[1].prefix(40)) (HOTP-SHA1-6, HOTP-SHA256-8, …)")
        }
        guard let algorithm = Self.hash(function[1]) else {
            throw OCRAError(.unknownHash, "HMAC hash \(function[1].prefix(40)) (SHA1, SHA256 or SHA512)")
        }
        self.algorithm = algorithm
        guard let digits = Self.number(function[2], maximumDigits: 2), digits == 0 || (4...10).contains(digits) else {
            throw OCRAError(.digitsOutOfRange, "truncation \(function[2].prefix(40)) (0 for none, or 4 to 10 digits)")
        }
        self.digits = digits

        // DataInput: [C] | QFxx | [PH | Snnn | TG] (§6.3), in that order.
        let order: [Character] = ["C", "Q", "P", "S", "T"]
        var last = -1
        var seen: Set<Int> = []
        var usesCounter = false
        var challenge: (OCRAChallengeFormat, Int)?
        var pinHash: OTPAlgorithm?
        var sessionLength: Int?
        var period: Int?
        for element in parts[2].split(separator: "-", omittingEmptySubsequences: false) {
            guard let letter = element.first, let position = order.firstIndex(of: letter) else {
                throw OCRAError(
                    .unknownInput,
                    element.isEmpty
                        ? "an empty data input (two hyphens, or one at an end)"
                        : "data input \(element.prefix(40)) (C, QFxx, PH, Snnn or TG)")
            }
            guard !seen.contains(position) else {
                throw OCRAError(.duplicateInput, "data input \(letter) is given twice")
            }
            seen.insert(position)
            guard position > last else {
                throw OCRAError(
                    .inputOutOfOrder, "data input \(letter) comes after \(order[last]) (order C, Q, P, S, T)")
            }
            last = position
            let parameter = element.dropFirst()
            switch letter {
            case "C":
                guard parameter.isEmpty else {
                    throw OCRAError(.unknownInput, "data input \(element.prefix(40)) (the counter is a bare C)")
                }
                usesCounter = true
            case "Q":
                guard parameter.count == 3, let format = OCRAChallengeFormat(rawValue: String(parameter.prefix(1))),
                    let length = Self.number(parameter.dropFirst(), exactDigits: 2)
                else {
                    throw OCRAError(
                        .malformedChallengeFormat, "challenge \(element.prefix(40)) (QFxx: F is A, N or H, xx 04–64)")
                }
                guard (4...64).contains(length) else {
                    throw OCRAError(.challengeLengthOutOfRange, "challenge length \(length) (04 to 64)")
                }
                challenge = (format, length)
            case "P":
                guard let hash = Self.hash(parameter) else {
                    throw OCRAError(.unknownHash, "PIN hash \(element.prefix(40)) (PSHA1, PSHA256 or PSHA512)")
                }
                pinHash = hash
            case "S":
                guard let length = Self.number(parameter, exactDigits: 3), length > 0 else {
                    throw OCRAError(
                        .malformedSessionLength, "session \(element.prefix(40)) (Snnn, nnn in bytes: S064, S128, …)")
                }
                sessionLength = length
            default:  // "T"
                guard let unit = parameter.last, let count = Self.number(parameter.dropLast(), maximumDigits: 2) else {
                    throw OCRAError(.badTimeStep, "time step \(element.prefix(40)) (T30S, T1M, T24H, …)")
                }
                switch unit {
                case "S" where (1...59).contains(count): period = count
                case "M" where (1...59).contains(count): period = count * 60
                case "H" where (1...48).contains(count): period = count * 3600
                default:
                    throw OCRAError(.badTimeStep, "time step \(element.prefix(40)) (1–59 S, 1–59 M or 1–48 H)")
                }
            }
        }
        guard let challenge else {
            throw OCRAError(.missingChallenge, "data input \(parts[2].prefix(40)) has no challenge QFxx")
        }
        self.usesCounter = usesCounter
        self.challengeFormat = challenge.0
        self.maximumChallengeLength = challenge.1
        self.pinHash = pinHash
        self.sessionLength = sessionLength
        self.period = period
    }

    public var description: String { text }

    private static func hash(_ name: Substring) -> OTPAlgorithm? {
        switch name {
        case "SHA1": .sha1
        case "SHA256": .sha256
        case "SHA512": .sha512
        default: nil
        }
    }

    /// ASCII digits only (no sign, no spaces), 1 to `maximumDigits` of them, no leading zero except "0" itself.
    private static func number(_ text: Substring, maximumDigits: Int) -> Int? {
        let bytes = Array(text.utf8)
        guard (1...maximumDigits).contains(bytes.count), bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }),
            bytes.count == 1 || bytes[0] != 0x30
        else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    /// Exactly `exactDigits` ASCII digits (leading zeros are how `QN08` and `S064` are written).
    private static func number(_ text: Substring, exactDigits: Int) -> Int? {
        let bytes = Array(text.utf8)
        guard bytes.count == exactDigits, bytes.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return bytes.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    // MARK: Challenges

    /// Checks one challenge against the suite: 1 to `maximumChallengeLength` characters, each allowed by the format
    /// (`N`: 0–9; `A`: ASCII letters and digits; `H`: 0–9, a–f, A–F).
    /// - Throws: `OCRAError.Code.invalidChallenge`.
    public func validate(challenge: String) throws(OCRAError) {
        let bytes = Array(challenge.utf8)
        guard !bytes.isEmpty else { throw OCRAError(.invalidChallenge, "the challenge is empty") }
        guard bytes.count <= maximumChallengeLength else {
            throw OCRAError(
                .invalidChallenge,
                "the challenge has \(bytes.count) characters; \(text) allows up to \(maximumChallengeLength)")
        }
        let allowed: (UInt8) -> Bool
        let what: String
        switch challengeFormat {
        case .numeric:
            allowed = Self.isDigit
            what = "digits 0-9"
        case .alphanumeric:
            allowed = { Self.isDigit($0) || (($0 | 0x20) >= 0x61 && ($0 | 0x20) <= 0x7A) }
            what = "ASCII letters and digits"
        case .hexadecimal:
            allowed = { Self.hexValue($0) != nil }
            what = "hexadecimal digits 0-9, a-f, A-F"
        }
        guard bytes.allSatisfy(allowed) else {
            throw OCRAError(.invalidChallenge, "a Q\(challengeFormat.rawValue) challenge has only \(what)")
        }
    }

    /// Whether `challenge` may be asked under this suite (see `validate(challenge:)`).
    public func isValid(challenge: String) -> Bool {
        do {
            try validate(challenge: challenge)
            return true
        } catch {
            return false
        }
    }

    static func isDigit(_ byte: UInt8) -> Bool { byte >= 0x30 && byte <= 0x39 }

    static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case 0x30...0x39: byte - 0x30
        case 0x41...0x46: byte - 0x41 + 10
        case 0x61...0x66: byte - 0x61 + 10
        default: nil
        }
    }

    /// The 128-byte Q field of the data input for `question` (RFC 6287 §5.1 and the Appendix A reference code):
    ///
    /// - `N`: the decimal number written in hexadecimal (no leading zeros), then as bytes: an odd number of hex
    ///   digits is completed with a `0` digit on the right (the reference pads the hex text, left-aligned, to 256
    ///   digits). So leading zeros of a numeric challenge do not count: `00123` and `123` are the same challenge.
    /// - `A`: the characters' bytes.
    /// - `H`: the bytes the hex digits spell, an odd count completed with a `0` digit on the right likewise.
    ///
    /// Then zero bytes to 128. A mutual question's two challenges are concatenated first (§7.2).
    func questionField(_ question: OCRAQuestion) throws(OCRAError) -> [UInt8] {
        for challenge in question.challenges { try validate(challenge: challenge) }
        let text = Array(question.challenges.joined().utf8)
        var field: [UInt8]
        switch challengeFormat {
        case .alphanumeric:
            field = text
        case .hexadecimal:
            field = Self.packNibbles(text.map { Self.hexValue($0)! })
        case .numeric:
            field = Self.packNibbles(Self.hexDigits(ofDecimal: text))
        }
        field += [UInt8](repeating: 0, count: 128 - field.count)
        return field
    }

    /// Hex digits, first to last, completed with a 0 digit when odd, as bytes.
    static func packNibbles(_ nibbles: [UInt8]) -> [UInt8] {
        var padded = nibbles
        if padded.count % 2 == 1 { padded.append(0) }
        return stride(from: 0, to: padded.count, by: 2).map { padded[$0] << 4 | padded[$0 + 1] }
    }

    /// The hexadecimal digits of a decimal number given as ASCII digits, most significant first, without leading
    /// zeros (`[0]` for zero). Challenges run to 128 digits (two of 64), so this is arbitrary precision.
    static func hexDigits(ofDecimal digits: [UInt8]) -> [UInt8] {
        var limbs: [UInt32] = [0]  // little-endian, base 2^32
        for digit in digits {
            var carry = UInt64(digit - 0x30)
            for index in limbs.indices {
                let product = UInt64(limbs[index]) * 10 + carry
                limbs[index] = UInt32(truncatingIfNeeded: product)
                carry = product >> 32
            }
            if carry > 0 { limbs.append(UInt32(carry)) }
        }
        var nibbles: [UInt8] = []
        for limb in limbs.reversed() {
            for shift in stride(from: 28, through: 0, by: -4) {
                nibbles.append(UInt8((limb >> UInt32(shift)) & 0xF))
            }
        }
        let first = nibbles.firstIndex { $0 != 0 } ?? nibbles.count - 1
        return Array(nibbles[first...])
    }

    // MARK: Time

    /// The T value at `date`: whole time steps since 1970-01-01 00:00 UTC (§5.1), floor(unix time / period).
    /// - Throws: `.unexpectedInput` if the suite has no `T`; `.invalidInput` for a date before 1970.
    public func timeStep(at date: Date) throws(OCRAError) -> UInt64 {
        guard let period else { throw OCRAError(.unexpectedInput, "\(text) has no time step T") }
        let seconds = date.timeIntervalSince1970.rounded(.down)
        guard seconds >= 0, seconds < 1.8e19 else {
            throw OCRAError(.invalidInput, "OCRA time steps count from 1970; the time is out of range")
        }
        return UInt64(seconds) / UInt64(period)
    }
}
