import Foundation
import OTP

/// The rules for accepting codes, kept apart from any token (Keycloak's `OTPPolicy` idea).
public struct OTPPolicy: Sendable, Hashable, Codable {
    /// Algorithm, digits and period of new tokens.
    public var parameters: TOTPParameters
    /// Steps accepted either side of the expected step. Default 1.
    public var window: Int
    /// Consecutive wrong codes that lock a token. Default 5.
    public var lockoutThreshold: Int
    /// The largest clock offset, in steps, remembered for a token. Default 5 (five minutes at 60 s).
    public var maxDriftSteps: Int

    public init(
        parameters: TOTPParameters = .ichigoDefault, window: Int = 1, lockoutThreshold: Int = 5, maxDriftSteps: Int = 5
    ) {
        self.parameters = parameters
        self.window = window
        self.lockoutThreshold = lockoutThreshold
        self.maxDriftSteps = maxDriftSteps
    }

    /// Ichigo's default: SHA-1, 6 digits, 60 s, window ±1, lock after 5, drift ±5 steps.
    public static let standard = OTPPolicy()

    /// Checks the policy is one Ichigo can honour.
    public func validated() throws(IchigoError) -> OTPPolicy {
        guard OTPCode.allowedLengths.contains(parameters.digits) else {
            throw IchigoError(.invalidInput, field: "otp.digits", detail: "digits must be 6 to 8")
        }
        guard parameters.period >= 10 && parameters.period <= 300 else {
            throw IchigoError(.invalidInput, field: "otp.period", detail: "period must be 10 to 300 seconds")
        }
        guard (0...10).contains(window) else {
            throw IchigoError(.invalidInput, field: "otp.window", detail: "window must be 0 to 10 steps")
        }
        guard (1...100).contains(lockoutThreshold) else {
            throw IchigoError(.invalidInput, field: "otp.lockout", detail: "lockout threshold must be 1 to 100")
        }
        guard (0...60).contains(maxDriftSteps) else {
            throw IchigoError(.invalidInput, field: "otp.max_drift", detail: "max drift must be 0 to 60 steps")
        }
        return self
    }
}

/// A token as stored: its identity, lifecycle state and counters. The seed stays sealed.
public struct Token: Sendable, Hashable {
    public var id: TokenID
    public var serial: SerialNumber
    public var kind: TokenKind
    public var state: TokenState
    /// The seed, sealed with the master key (`SeedVault`).
    public var sealedSeed: SealedSeed
    /// Algorithm, digits and period this token generates with.
    public var parameters: TOTPParameters
    /// The last time step accepted; a code must be for a later step. `-1` before the first.
    public var lastAcceptedStep: Int64
    /// Consecutive wrong codes since the last accepted one.
    public var failureCount: Int
    /// The token's clock offset in steps, learned from accepted codes.
    public var driftSteps: Int
    public var createdAt: Date
    public var updatedAt: Date
    /// When a code was last accepted.
    public var lastUsedAt: Date?
    /// The contract the token belongs to: the customer it was issued or registered for. `nil` for a hardware
    /// token in the bank's inventory (not yet handed to anyone).
    public var contractID: ContractID?
    /// While locked: the state it was locked from (`issued` or `active`), where unlocking returns it.
    public var lockedFrom: TokenState?
    /// The OCRA suite (RFC 6287) the token signs transactions with (取引認証), e.g. `OCRA-1:HOTP-SHA1-6:QN20-T1M`;
    /// `nil` for a token that cannot sign.
    public var ocraSuite: String?
    /// The last OCRA time step (T suites) or counter (C suites) accepted for a signature; a signature must be for a
    /// later one, so each works once. `-1` before the first.
    public var lastSignatureStep: Int64

    public init(
        id: TokenID, serial: SerialNumber, kind: TokenKind, state: TokenState, sealedSeed: SealedSeed,
        parameters: TOTPParameters, lastAcceptedStep: Int64 = -1, failureCount: Int = 0, driftSteps: Int = 0,
        contractID: ContractID? = nil, lockedFrom: TokenState? = nil, createdAt: Date, updatedAt: Date? = nil,
        lastUsedAt: Date? = nil, ocraSuite: String? = nil, lastSignatureStep: Int64 = -1
    ) {
        self.ocraSuite = ocraSuite
        self.lastSignatureStep = lastSignatureStep
        self.contractID = contractID
        self.lockedFrom = lockedFrom
        self.id = id
        self.serial = serial
        self.kind = kind
        self.state = state
        self.sealedSeed = sealedSeed
        self.parameters = parameters
        self.lastAcceptedStep = lastAcceptedStep
        self.failureCount = failureCount
        self.driftSteps = driftSteps
        self.createdAt = createdAt
        self.updatedAt = updatedAt ?? createdAt
        self.lastUsedAt = lastUsedAt
    }
}
