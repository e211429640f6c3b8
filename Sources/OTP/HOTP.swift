import Crypto

/// An HMAC-based one-time password generator (RFC 4226), keyed once for a given seed.
///
/// Build one per verification and ask it for as many counters as needed: the key schedule is
/// computed once in `init`, so each further counter costs two hash compressions (SHA-1).
public struct HOTP: Sendable {
    @usableFromInline
    let mac: KeyedHMAC
    /// Number of digits in each code, 6–8.
    public let digits: Int

    /// - Parameters:
    ///   - seed: the shared secret as raw bytes (never as text).
    ///   - algorithm: the HMAC hash function.
    ///   - digits: code length, 6 to 8.
    public init(seed: Seed, algorithm: OTPAlgorithm = .sha1, digits: Int = 6) {
        precondition(OTPCode.allowedLengths.contains(digits), "HOTP codes have 6 to 8 digits")
        self.mac = KeyedHMAC(algorithm: algorithm, key: seed.key)
        self.digits = digits
    }

    /// The code for `counter` (RFC 4226 §5.3).
    @inlinable
    public func code(for counter: UInt64) -> OTPCode {
        OTPCode(value: mac.truncatedValue(counter: counter) % OTPCode.modulus(digits: digits), digits: digits)
    }

    /// Whether `code` is the code for `counter`, compared in constant time.
    @inlinable
    public func isValid(_ code: OTPCode, for counter: UInt64) -> Bool {
        guard code.count == digits else { return false }
        return code.matches(value: mac.truncatedValue(counter: counter) % OTPCode.modulus(digits: digits))
    }
}
