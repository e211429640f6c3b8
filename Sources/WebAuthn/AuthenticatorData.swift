import Crypto

/// Authenticator data (W3C WebAuthn L3 §6.1): what the authenticator signs, read strictly.
///
/// Layout: rpIdHash (32 bytes), flags (1), signCount (4, big-endian); if AT, attested credential data (§6.5.1):
/// AAGUID (16), credentialIdLength (2, big-endian, at most 1023), credentialId, credentialPublicKey (one CBOR item);
/// if ED, extensions (one CBOR map). Nothing may follow.
public struct AuthenticatorData: Sendable {
    /// The credential an authenticator created, as registration carries it (§6.5.1).
    public struct AttestedCredentialData: Sendable {
        public var aaguid: AAGUID
        public var credentialID: [UInt8]
        /// The COSE_Key exactly as it was encoded in the authenticator data.
        public var publicKeyBytes: [UInt8]
        /// The same, decoded as CBOR (not yet checked as a COSE key).
        public var publicKey: CBOR
    }

    /// The largest credential ID a relying party accepts (§7.1 step 25; §6.5.1 bounds the length field).
    public static let maximumCredentialIDLength = 1023

    /// The bytes as received; signatures cover exactly these.
    public let bytes: [UInt8]
    public let rpIDHash: [UInt8]
    public let flags: AuthenticatorFlags
    public let signCount: UInt32
    public let attestedCredentialData: AttestedCredentialData?
    /// The extension outputs map, present when ED is set.
    public let extensions: CBORMap?

    /// Reads authenticator data.
    ///
    /// - Throws: `.malformedAuthenticatorData` (too short, fields cut off, trailing bytes, a CBOR item that is not
    ///   well formed, extensions that are not a map), `.credentialIDTooLong` for a credential ID over 1023 bytes.
    public init(bytes: [UInt8]) throws(WebAuthnError) {
        guard bytes.count >= 37 else {
            throw WebAuthnError(
                .malformedAuthenticatorData, "authenticator data has \(bytes.count) bytes, at least 37 are needed")
        }
        self.bytes = bytes
        rpIDHash = Array(bytes[0..<32])
        flags = AuthenticatorFlags(rawValue: bytes[32])
        signCount = bytes[33..<37].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
        var offset = 37

        if flags.attestedCredentialData {
            guard bytes.count >= offset + 18 else {
                throw WebAuthnError(
                    .malformedAuthenticatorData, "attested credential data is cut off before the credential ID length")
            }
            let aaguid = AAGUID(bytes: Array(bytes[offset..<offset + 16]))!
            let length = Int(bytes[offset + 16]) << 8 | Int(bytes[offset + 17])
            offset += 18
            guard length <= Self.maximumCredentialIDLength else {
                throw WebAuthnError(
                    .credentialIDTooLong,
                    "the credential ID has \(length) bytes, at most \(Self.maximumCredentialIDLength) are accepted"
                        + " (§7.1 step 25)")
            }
            guard bytes.count >= offset + length else {
                throw WebAuthnError(.malformedAuthenticatorData, "the credential ID runs past the end")
            }
            let credentialID = Array(bytes[offset..<offset + length])
            offset += length
            let key: CBOR
            let used: Int
            do {
                (key, used) = try CBOR.decodePrefix(bytes[offset...])
            } catch {
                throw WebAuthnError(.malformedAuthenticatorData, "credential public key: \(error.detail)")
            }
            attestedCredentialData = AttestedCredentialData(
                aaguid: aaguid, credentialID: credentialID, publicKeyBytes: Array(bytes[offset..<offset + used]),
                publicKey: key)
            offset += used
        } else {
            attestedCredentialData = nil
        }

        if flags.extensionData {
            guard offset < bytes.count else {
                throw WebAuthnError(.malformedAuthenticatorData, "ED is set but no extensions follow")
            }
            let item: CBOR
            let used: Int
            do {
                (item, used) = try CBOR.decodePrefix(bytes[offset...])
            } catch {
                throw WebAuthnError(.malformedAuthenticatorData, "extensions: \(error.detail)")
            }
            guard let map = item.mapValue else {
                throw WebAuthnError(.malformedAuthenticatorData, "extensions are not a CBOR map")
            }
            extensions = map
            offset += used
        } else {
            extensions = nil
        }

        guard offset == bytes.count else {
            throw WebAuthnError(
                .malformedAuthenticatorData,
                "\(bytes.count - offset) bytes follow the authenticator data"
                    + (flags.extensionData ? "" : " (extensions without ED?)"))
        }
    }

    /// Whether rpIdHash is SHA-256 of `rpID` (§7.1 step 14, §7.2 step 15). Not secret, but compared whole.
    public func isForRelyingParty(_ rpID: String) -> Bool {
        constantTimeEquals(rpIDHash, Array(SHA256.hash(data: Array(rpID.utf8))))
    }

    /// The flag checks shared by both ceremonies: UP, UV where required, BS only with BE.
    ///
    /// - Parameters:
    ///   - userVerificationRequired: whether UV must be set.
    ///   - steps: the UP, UV and BE/BS step numbers of the ceremony, for the error details.
    func checkFlags(userVerificationRequired: Bool, steps: (up: String, uv: String, backup: String))
        throws(WebAuthnError)
    {
        guard flags.userPresent else {
            throw WebAuthnError(.userNotPresent, "\(steps.up): the UP flag is not set")
        }
        guard flags.userVerified || !userVerificationRequired else {
            throw WebAuthnError(
                .userNotVerified, "\(steps.uv): the UV flag is not set and user verification is required")
        }
        guard flags.backupEligible || !flags.backedUp else {
            throw WebAuthnError(.invalidBackupFlags, "\(steps.backup): BS is set without BE (§6.1.3)")
        }
    }
}
