import Foundation

// The public face of the WebAuthn relying-party verifier (W3C WebAuthn Level 3, §7.1 and §7.2).
// Pure: no I/O, no clock, no storage. The caller keeps challenges (single use, expiring, tied to a session),
// credentials and counters; this target checks what the browser sent against what the caller expected.

/// The bank as a WebAuthn relying party: its RP ID (a registrable domain, e.g. `bank.example` or `localhost`) and the
/// exact origins its pages are served from (`https://ib.bank.example`, `http://localhost:8080`).
public struct RelyingParty: Sendable, Hashable {
    public var id: String
    public var origins: Set<String>
    public init(id: String, origins: Set<String>) {
        self.id = id
        self.origins = origins
    }
}

/// An authenticator model's AAGUID (16 bytes; all zero when the authenticator does not say).
public struct AAGUID: Sendable, Hashable, CustomStringConvertible {
    public let bytes: [UInt8]
    public init?(bytes: [UInt8]) {
        guard bytes.count == 16 else { return nil }
        self.bytes = bytes
    }
    /// `8-4-4-4-12` lower-case hex, as FIDO metadata writes it.
    public init?(_ text: String) {
        let hex = text.replacingOccurrences(of: "-", with: "").lowercased()
        guard hex.count == 32 else { return nil }
        var out: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            guard let byte = UInt8(hex[index..<next], radix: 16) else { return nil }
            out.append(byte)
            index = next
        }
        self.bytes = out
    }
    public static let zero = AAGUID(bytes: [UInt8](repeating: 0, count: 16))!
    public var description: String {
        let hex = bytes.map { String(format: "%02x", $0) }.joined()
        let parts = [0..<8, 8..<12, 12..<16, 16..<20, 20..<32].map { range in
            String(hex[hex.index(hex.startIndex, offsetBy: range.lowerBound)..<hex.index(hex.startIndex, offsetBy: range.upperBound)])
        }
        return parts.joined(separator: "-")
    }
}

/// The authenticator data's flags (WebAuthn L3 §6.1).
public struct AuthenticatorFlags: Sendable, Hashable {
    public var rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }
    /// UP, bit 0.
    public var userPresent: Bool { rawValue & 0x01 != 0 }
    /// UV, bit 2.
    public var userVerified: Bool { rawValue & 0x04 != 0 }
    /// BE, bit 3: the credential may be backed up (a synced passkey).
    public var backupEligible: Bool { rawValue & 0x08 != 0 }
    /// BS, bit 4: the credential is backed up now.
    public var backedUp: Bool { rawValue & 0x10 != 0 }
    /// AT, bit 6: attested credential data follows.
    public var attestedCredentialData: Bool { rawValue & 0x40 != 0 }
    /// ED, bit 7: extensions follow.
    public var extensionData: Bool { rawValue & 0x80 != 0 }
}

/// What the browser returned from `navigator.credentials.create()`, decoded from base64url by the caller.
public struct RegistrationResponse: Sendable {
    public var credentialID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]
    public var transports: [String]
    public init(credentialID: [UInt8], clientDataJSON: [UInt8], attestationObject: [UInt8], transports: [String] = []) {
        self.credentialID = credentialID
        self.clientDataJSON = clientDataJSON
        self.attestationObject = attestationObject
        self.transports = transports
    }
}

/// What the relying party expects of a registration.
public struct RegistrationExpectation: Sendable {
    /// The challenge the server issued for this ceremony (raw bytes, not base64url).
    public var challenge: [UInt8]
    public var relyingParty: RelyingParty
    /// User verification required (§7.1 step 15); Ichigo always requires it.
    public var userVerificationRequired: Bool
    /// Bank policy: only these authenticator models may register. `nil` allows every AAGUID.
    public var allowedAAGUIDs: Set<AAGUID>?
    /// Bank policy: DER-encoded root certificates for `packed` attestation with a certificate chain. Empty: a
    /// certificate-chain attestation is accepted as `basic` without a trust path check (recorded as such).
    public var trustedRoots: [[UInt8]]
    /// COSE algorithms the bank accepts (default ES256, EdDSA, RS256).
    public var allowedAlgorithms: Set<COSEAlgorithm>
    public init(
        challenge: [UInt8], relyingParty: RelyingParty, userVerificationRequired: Bool = true,
        allowedAAGUIDs: Set<AAGUID>? = nil, trustedRoots: [[UInt8]] = [],
        allowedAlgorithms: Set<COSEAlgorithm> = [.es256, .edDSA, .rs256]
    ) {
        self.challenge = challenge
        self.relyingParty = relyingParty
        self.userVerificationRequired = userVerificationRequired
        self.allowedAAGUIDs = allowedAAGUIDs
        self.trustedRoots = trustedRoots
        self.allowedAlgorithms = allowedAlgorithms
    }
}

/// COSE algorithm identifiers (RFC 9053, IANA COSE registry).
public struct COSEAlgorithm: Sendable, Hashable, CustomStringConvertible {
    public let rawValue: Int
    public init(rawValue: Int) { self.rawValue = rawValue }
    public static let es256 = COSEAlgorithm(rawValue: -7)
    public static let edDSA = COSEAlgorithm(rawValue: -8)
    public static let rs256 = COSEAlgorithm(rawValue: -257)
    public var description: String {
        switch rawValue {
        case -7: "ES256"
        case -8: "EdDSA"
        case -257: "RS256"
        default: "COSE(\(rawValue))"
        }
    }
}

/// How the authenticator vouched for itself.
public enum AttestationType: String, Sendable, Hashable {
    /// `none`: no statement.
    case none
    /// `packed` signed by the credential's own key.
    case `self`
    /// `packed` with a certificate chain that was not checked against roots (the bank gave none).
    case basicUnverified = "basic-unverified"
    /// `packed` with a certificate chain that ends at one of the bank's roots.
    case basic
}

/// A registration that passed every check of §7.1: what the caller stores.
public struct VerifiedRegistration: Sendable {
    public var credentialID: [UInt8]
    /// The credential public key exactly as the authenticator encoded it (a COSE_Key in CBOR); store these bytes.
    public var publicKey: [UInt8]
    public var algorithm: COSEAlgorithm
    public var signCount: UInt32
    public var aaguid: AAGUID
    public var flags: AuthenticatorFlags
    public var attestationFormat: String
    public var attestationType: AttestationType
    public var transports: [String]
}

/// What the browser returned from `navigator.credentials.get()`, decoded from base64url by the caller.
public struct AuthenticationResponse: Sendable {
    public var credentialID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var authenticatorData: [UInt8]
    public var signature: [UInt8]
    public var userHandle: [UInt8]?
    public init(
        credentialID: [UInt8], clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8],
        userHandle: [UInt8]?
    ) {
        self.credentialID = credentialID
        self.clientDataJSON = clientDataJSON
        self.authenticatorData = authenticatorData
        self.signature = signature
        self.userHandle = userHandle
    }
}

/// What the relying party expects of an authentication: the stored credential it is checked against.
public struct AuthenticationExpectation: Sendable {
    public var challenge: [UInt8]
    public var relyingParty: RelyingParty
    public var userVerificationRequired: Bool
    /// The stored COSE_Key bytes from `VerifiedRegistration.publicKey`.
    public var credentialPublicKey: [UInt8]
    /// The counter stored after the last ceremony (0 if the authenticator keeps none).
    public var storedSignCount: UInt32
    public init(
        challenge: [UInt8], relyingParty: RelyingParty, userVerificationRequired: Bool = true,
        credentialPublicKey: [UInt8], storedSignCount: UInt32
    ) {
        self.challenge = challenge
        self.relyingParty = relyingParty
        self.userVerificationRequired = userVerificationRequired
        self.credentialPublicKey = credentialPublicKey
        self.storedSignCount = storedSignCount
    }
}

/// An authentication that passed every check of §7.2.
public struct VerifiedAuthentication: Sendable {
    public var credentialID: [UInt8]
    /// The new counter to store.
    public var signCount: UInt32
    public var flags: AuthenticatorFlags
}
