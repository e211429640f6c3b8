import Foundation

/// The parameters a TOTP generator and its verifier share (RFC 6238 §4).
public struct TOTPParameters: Sendable, Hashable, Codable {
    /// The HMAC hash function.
    public var algorithm: OTPAlgorithm
    /// Code length, 6 to 8.
    public var digits: Int
    /// The time step X in seconds. Ichigo's default is 60.
    public var period: Int

    /// Ichigo's default: SHA-1, 6 digits, 60-second step.
    public static let ichigoDefault = TOTPParameters(algorithm: .sha1, digits: 6, period: 60)

    public init(algorithm: OTPAlgorithm = .sha1, digits: Int = 6, period: Int = 60) {
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
    }

    /// The time step containing `date`: `floor((unixTime - T0) / X)` with T0 = 0 (RFC 6238 §4.2).
    public func step(at date: Date) -> Int64 {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        return seconds >= 0 ? seconds / Int64(period) : (seconds - Int64(period) + 1) / Int64(period)
    }

    /// Seconds left in the step containing `date`.
    public func secondsRemaining(at date: Date) -> Int {
        let seconds = Int64(date.timeIntervalSince1970.rounded(.down))
        let into = Int(((seconds % Int64(period)) + Int64(period)) % Int64(period))
        return period - into
    }
}

/// A time-based one-time password generator and verifier (RFC 6238), keyed once.
public struct TOTP: Sendable {
    /// The underlying HOTP generator; the counter is the time step.
    public let hotp: HOTP
    /// Algorithm, digits and period.
    public let parameters: TOTPParameters

    public init(seed: Seed, parameters: TOTPParameters = .ichigoDefault) {
        precondition(parameters.period > 0, "TOTP period must be positive")
        self.hotp = HOTP(seed: seed, algorithm: parameters.algorithm, digits: parameters.digits)
        self.parameters = parameters
    }

    /// The code for a time step.
    public func code(forStep step: Int64) -> OTPCode {
        hotp.code(for: UInt64(bitPattern: step))
    }

    /// The code valid at `date`.
    public func code(at date: Date) -> OTPCode {
        code(forStep: parameters.step(at: date))
    }

    /// Finds the step within `centre ± window` whose code is `code`.
    ///
    /// Tries `centre` first, then `centre+1`, `centre-1`, `centre+2`, … so the common case costs one HMAC.
    /// The caller must still refuse a step at or before the last one it accepted (RFC 6238 §5.2).
    ///
    /// - Parameters:
    ///   - code: the code the user typed.
    ///   - centre: the expected step (the current step, corrected by the token's known drift).
    ///   - window: how many steps either side to accept; 1 by default.
    /// - Returns: the matched step, or `nil`.
    public func matchingStep(for code: OTPCode, around centre: Int64, window: Int = 1) -> Int64? {
        guard code.count == parameters.digits else { return nil }
        if hotp.isValid(code, for: UInt64(bitPattern: centre)) { return centre }
        var distance: Int64 = 1
        while distance <= Int64(window) {
            if hotp.isValid(code, for: UInt64(bitPattern: centre + distance)) { return centre + distance }
            if hotp.isValid(code, for: UInt64(bitPattern: centre - distance)) { return centre - distance }
            distance += 1
        }
        return nil
    }
}
