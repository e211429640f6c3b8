import Crypto
import Foundation

/// The question Q of an OCRA computation: one challenge, or the two challenges of a mutual challenge-response
/// concatenated (RFC 6287 §7.2: the server answers `QC | QS`, the client `QS | QC`).
public struct OCRAQuestion: Sendable, Hashable, ExpressibleByStringLiteral, CustomStringConvertible {
    /// The challenges in the order they are concatenated; each is checked against the suite on its own.
    public let challenges: [String]

    /// One challenge (one-way challenge-response, plain signature).
    public init(_ challenge: String) { self.challenges = [challenge] }

    public init(stringLiteral value: String) { self.init(value) }

    /// Two challenges concatenated, `first` then `second`, each up to the suite's length (RFC 6287 §7.2).
    public static func mutual(_ first: String, _ second: String) -> OCRAQuestion {
        OCRAQuestion(challenges: [first, second])
    }

    private init(challenges: [String]) { self.challenges = challenges }

    /// The question as concatenated. Challenges are not secret.
    public var description: String { challenges.joined() }
}

/// The PIN input P of an OCRA computation: the PIN itself (hashed here with the suite's hash) or its hash.
public struct OCRAPIN: Sendable, CustomStringConvertible {
    enum Storage: Sendable {
        case pin([UInt8])
        case hash([UInt8])
    }
    let storage: Storage

    /// A PIN or password, hashed as its UTF-8 bytes.
    public static func pin(_ text: String) -> OCRAPIN { OCRAPIN(storage: .pin(Array(text.utf8))) }

    /// The PIN's hash as the server stores it; its length must be the suite's PIN hash's (20, 32 or 64 bytes).
    public static func hash(_ bytes: [UInt8]) -> OCRAPIN { OCRAPIN(storage: .hash(bytes)) }

    /// Redacted, so a PIN never reaches a log through string interpolation.
    public var description: String { "OCRAPIN(redacted)" }

    func digest(_ algorithm: OTPAlgorithm) throws(OCRAError) -> [UInt8] {
        switch storage {
        case .pin(let bytes):
            switch algorithm {
            case .sha1: return Array(Insecure.SHA1.hash(data: bytes))
            case .sha256: return Array(SHA256.hash(data: bytes))
            case .sha512: return Array(SHA512.hash(data: bytes))
            }
        case .hash(let bytes):
            let expected = algorithm == .sha1 ? 20 : algorithm == .sha256 ? 32 : 64
            guard bytes.count == expected else {
                throw OCRAError(
                    .invalidInput, "a P\(algorithm.rawValue) PIN hash has \(expected) bytes, not \(bytes.count)")
            }
            return bytes
        }
    }
}

/// The time input T of an OCRA computation.
public enum OCRATime: Sendable, Hashable {
    /// The time step containing this instant (`OCRASuite.timeStep(at:)`).
    case at(Date)
    /// A time step counted already: whole periods since 1970-01-01 00:00 UTC, as RFC 6287 Appendix C gives T.
    case step(UInt64)
}

/// An OCRA response: decimal digits (4 to 10), or for a suite without truncation the whole HMAC in lowercase
/// hexadecimal. Leading zeros are kept; never an integer.
public struct OCRAResponse: Sendable, Hashable, CustomStringConvertible {
    /// The characters, as ASCII bytes (hex in lower case).
    let characters: [UInt8]

    /// Accepts 1 to 128 ASCII digits or hex letters (upper case is read as lower case).
    public init?(_ text: String) {
        var bytes = Array(text.utf8)
        guard (1...128).contains(bytes.count), bytes.allSatisfy({ OCRASuite.hexValue($0) != nil }) else { return nil }
        for index in bytes.indices where bytes[index] >= 0x41 && bytes[index] <= 0x46 { bytes[index] += 0x20 }
        self.characters = bytes
    }

    init(characters: [UInt8]) { self.characters = characters }

    /// The number of characters.
    public var count: Int { characters.count }

    /// The response as text. Treat it as a secret until used: do not log it.
    public var text: String { String(decoding: characters, as: UTF8.self) }

    /// Redacted, so a response never reaches a log through string interpolation.
    public var description: String { "OCRAResponse(\(characters.count) characters)" }

    /// Compares two responses in time independent of where they differ.
    public func isEqual(inConstantTime other: OCRAResponse) -> Bool {
        ConstantTime.isEqual(characters, other.characters)
    }
}

/// OCRA, the OATH challenge-response algorithm (RFC 6287): computes and verifies responses for one key and suite.
///
/// `OCRA(K, DataInput) = HOTP-H-t(K, OCRASuite | 00 | C | Q | P | S | T)` (§5): the HMAC of the suite's text, a zero
/// byte, then the inputs the suite names — counter as 8 bytes big-endian, the 128-byte question field, the PIN's
/// hash, the session bytes, the time step as 8 bytes big-endian — truncated as HOTP does (RFC 4226 §5.3) to the
/// suite's digits. With 0 digits ("no truncation", §5.2) the response is the whole HMAC; the RFC does not say how
/// to write it, and Ichigo writes it in lower-case hexadecimal.
///
/// The key schedule is computed once in `init`, so a verification window costs only the hashing.
public struct OCRA: Sendable {
    public let suite: OCRASuite
    let mac: KeyedHMAC

    /// - Parameters:
    ///   - seed: the shared secret as raw bytes.
    ///   - suite: the suite both sides agreed on.
    public init(seed: Seed, suite: OCRASuite) {
        self.suite = suite
        self.mac = KeyedHMAC(algorithm: suite.algorithm, key: seed.key)
    }

    /// The response to `question` (RFC 6287 §5).
    ///
    /// Give exactly the inputs the suite names: a missing one, or one the suite does not use, is an error, not
    /// silently ignored.
    /// - Parameters:
    ///   - question: the challenge (or two, for mutual challenge-response), checked against the suite.
    ///   - counter: C, for suites with `C`.
    ///   - pin: P, for suites with `P`.
    ///   - session: S, exactly the suite's `Snnn` bytes.
    ///   - time: T, for suites with `T`.
    /// - Throws: `OCRAError` for an invalid challenge or a missing, unexpected or malformed input.
    public func response(
        to question: OCRAQuestion, counter: UInt64? = nil, pin: OCRAPIN? = nil, session: [UInt8]? = nil,
        time: OCRATime? = nil
    ) throws(OCRAError) -> OCRAResponse {
        let message = try dataInput(question: question, counter: counter, pin: pin, session: session, time: time)
        return response(forDataInput: message)
    }

    /// Whether `response` answers `question` with these inputs, compared in constant time.
    /// - Throws: as `response(to:counter:pin:session:time:)`; a wrong response is `false`, not an error.
    public func isValid(
        _ response: OCRAResponse, for question: OCRAQuestion, counter: UInt64? = nil, pin: OCRAPIN? = nil,
        session: [UInt8]? = nil, time: OCRATime? = nil
    ) throws(OCRAError) -> Bool {
        let expected = try self.response(to: question, counter: counter, pin: pin, session: session, time: time)
        return expected.isEqual(inConstantTime: response)
    }

    /// For a suite with `T`: the time step within `centre ± window` at which `response` answers `question`.
    ///
    /// Tries `centre` first, then `centre+1`, `centre-1`, `centre+2`, … The caller must still refuse a step at or
    /// before the last one it accepted for this token, so a response works once.
    /// - Parameters:
    ///   - centre: the expected step, usually `suite.timeStep(at: now)` corrected by the token's known drift.
    ///   - window: how many steps either side to accept.
    /// - Returns: the matched step, or `nil`.
    /// - Throws: `.unexpectedInput` if the suite has no `T`; otherwise as `response(to:…)`.
    public func matchingTimeStep(
        for response: OCRAResponse, to question: OCRAQuestion, around centre: UInt64, window: Int = 1,
        counter: UInt64? = nil, pin: OCRAPIN? = nil, session: [UInt8]? = nil
    ) throws(OCRAError) -> UInt64? {
        guard suite.period != nil else { throw OCRAError(.unexpectedInput, "\(suite.text) has no time step T") }
        guard window >= 0 else { throw OCRAError(.invalidInput, "a negative window") }
        // T is the last 8 bytes of the data input: build it once, then write each step over them.
        var message = try dataInput(
            question: question, counter: counter, pin: pin, session: session, time: .step(centre))
        let offset = message.count - 8
        func matches(_ step: UInt64) -> Bool {
            Self.write(step, into: &message, at: offset)
            return self.response(forDataInput: message).isEqual(inConstantTime: response)
        }
        if matches(centre) { return centre }
        var distance: UInt64 = 1
        while distance <= UInt64(window) {
            if centre <= UInt64.max - distance, matches(centre + distance) { return centre + distance }
            if centre >= distance, matches(centre - distance) { return centre - distance }
            distance += 1
        }
        return nil
    }

    /// For a suite with `C`: the counter from `counter` to `counter + lookAhead` at which `response` answers
    /// `question`, trying them in increasing order.
    ///
    /// The caller stores the matched counter + 1 as the next expected one, so a response works once (RFC 6287 §5.1:
    /// the token's counter moves on every computation, the server's only on success).
    /// - Returns: the matched counter, or `nil`.
    /// - Throws: `.unexpectedInput` if the suite has no `C`; otherwise as `response(to:…)`.
    public func matchingCounter(
        for response: OCRAResponse, to question: OCRAQuestion, from counter: UInt64, lookAhead: Int = 0,
        pin: OCRAPIN? = nil, session: [UInt8]? = nil, time: OCRATime? = nil
    ) throws(OCRAError) -> UInt64? {
        guard suite.usesCounter else { throw OCRAError(.unexpectedInput, "\(suite.text) has no counter C") }
        guard lookAhead >= 0 else { throw OCRAError(.invalidInput, "a negative look-ahead") }
        // C comes right after the suite and its zero byte.
        var message = try dataInput(question: question, counter: counter, pin: pin, session: session, time: time)
        let offset = suite.text.utf8.count + 1
        var candidate = counter
        for _ in 0...lookAhead {
            Self.write(candidate, into: &message, at: offset)
            if self.response(forDataInput: message).isEqual(inConstantTime: response) { return candidate }
            guard candidate < UInt64.max else { break }
            candidate += 1
        }
        return nil
    }

    // MARK: The data input (RFC 6287 §5.1)

    /// `OCRASuite | 00 | C | Q | P | S | T`, with each input checked against the suite.
    func dataInput(
        question: OCRAQuestion, counter: UInt64?, pin: OCRAPIN?, session: [UInt8]?, time: OCRATime?
    ) throws(OCRAError) -> [UInt8] {
        var message = Array(suite.text.utf8)
        message.append(0)
        if suite.usesCounter {
            guard let counter else { throw OCRAError(.missingInput, "\(suite.text) needs the counter C") }
            Self.append(counter, to: &message)
        } else if counter != nil {
            throw OCRAError(.unexpectedInput, "\(suite.text) has no counter C")
        }
        message += try suite.questionField(question)
        if let pinHash = suite.pinHash {
            guard let pin else { throw OCRAError(.missingInput, "\(suite.text) needs the PIN P") }
            message += try pin.digest(pinHash)
        } else if pin != nil {
            throw OCRAError(.unexpectedInput, "\(suite.text) has no PIN P")
        }
        if let sessionLength = suite.sessionLength {
            guard let session else { throw OCRAError(.missingInput, "\(suite.text) needs the session S") }
            guard session.count == sessionLength else {
                throw OCRAError(
                    .invalidInput, "\(suite.text) needs \(sessionLength) session bytes, not \(session.count)")
            }
            message += session
        } else if session != nil {
            throw OCRAError(.unexpectedInput, "\(suite.text) has no session S")
        }
        if suite.period != nil {
            guard let time else { throw OCRAError(.missingInput, "\(suite.text) needs the time T") }
            switch time {
            case .step(let step): Self.append(step, to: &message)
            case .at(let date): Self.append(try suite.timeStep(at: date), to: &message)
            }
        } else if time != nil {
            throw OCRAError(.unexpectedInput, "\(suite.text) has no time step T")
        }
        return message
    }

    /// HMAC and truncation of a data input.
    func response(forDataInput message: [UInt8]) -> OCRAResponse {
        let hmac = mac.authenticationCode(for: message)
        guard suite.digits > 0 else {
            let hex = Array("0123456789abcdef".utf8)
            return OCRAResponse(characters: hmac.flatMap { [hex[Int($0 >> 4)], hex[Int($0 & 0xF)]] })
        }
        var value = UInt64(hmac.withUnsafeBytes(KeyedHMAC.dynamicTruncation))
        var out = [UInt8](repeating: 0x30, count: suite.digits)
        for index in stride(from: suite.digits - 1, through: 0, by: -1) {
            out[index] = 0x30 + UInt8(value % 10)
            value /= 10
        }
        return OCRAResponse(characters: out)
    }

    static func append(_ value: UInt64, to message: inout [UInt8]) {
        for shift in stride(from: 56, through: 0, by: -8) {
            message.append(UInt8(truncatingIfNeeded: value >> UInt64(shift)))
        }
    }

    static func write(_ value: UInt64, into message: inout [UInt8], at offset: Int) {
        for index in 0..<8 { message[offset + index] = UInt8(truncatingIfNeeded: value >> UInt64(56 - 8 * index)) }
    }
}

extension KeyedHMAC {
    /// The whole HMAC of `message`.
    func authenticationCode(for message: [UInt8]) -> [UInt8] {
        switch self {
        case .sha1(var mac):
            mac.update(data: message)
            return Array(mac.finalize())
        case .sha256(var mac):
            mac.update(data: message)
            return Array(mac.finalize())
        case .sha512(var mac):
            mac.update(data: message)
            return Array(mac.finalize())
        }
    }
}
