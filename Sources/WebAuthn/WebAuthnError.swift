/// Why a WebAuthn ceremony was refused. Each relying-party step of WebAuthn L3 §7.1/§7.2 has its own code.
///
/// The detail is for developers and logs; it never contains a key or a signature.
public struct WebAuthnError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code; its storage is private so new cases break nobody.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let value: String
        private init(_ value: String) { self.value = value }
        public var description: String { value }

        // MARK: Encodings
        /// CBOR that breaks RFC 8949 or our limits (indefinite lengths, duplicate keys, too deep, too long, trailing bytes).
        public static let malformedCBOR = Code("webauthn.malformed_cbor")
        /// clientDataJSON that is not a JSON object with string `type`, `challenge`, `origin`.
        public static let malformedClientData = Code("webauthn.malformed_client_data")
        /// Authenticator data too short, or its attested credential data / extensions do not parse.
        public static let malformedAuthenticatorData = Code("webauthn.malformed_authenticator_data")
        /// A COSE key that is malformed, of an unsupported type or algorithm, or not allowed by policy.
        public static let unsupportedKey = Code("webauthn.unsupported_key")

        // MARK: Client data (§7.1 steps 7–10, §7.2 steps 11–14)
        /// `type` is not `webauthn.create` / `webauthn.get`.
        public static let wrongType = Code("webauthn.wrong_type")
        /// `challenge` is not the one issued for this ceremony.
        public static let challengeMismatch = Code("webauthn.challenge_mismatch")
        /// `origin` is not one of the relying party's origins.
        public static let originNotAllowed = Code("webauthn.origin_not_allowed")
        /// `crossOrigin` is true (the ceremony ran in a cross-origin iframe).
        public static let crossOrigin = Code("webauthn.cross_origin")

        // MARK: Authenticator data (§7.1 steps 13–20, §7.2 steps 15–21)
        /// `rpIdHash` is not SHA-256 of the RP ID.
        public static let rpIDHashMismatch = Code("webauthn.rp_id_hash_mismatch")
        /// UP flag not set.
        public static let userNotPresent = Code("webauthn.user_not_present")
        /// UV flag not set where user verification is required.
        public static let userNotVerified = Code("webauthn.user_not_verified")
        /// BS set without BE (§6.1.3).
        public static let invalidBackupFlags = Code("webauthn.invalid_backup_flags")
        /// Registration without attested credential data, or its credential ID differs from the response's.
        public static let credentialMismatch = Code("webauthn.credential_mismatch")
        /// A credential ID longer than 1023 bytes (§7.1 step 24's bound).
        public static let credentialIDTooLong = Code("webauthn.credential_id_too_long")
        /// The signature counter did not grow although one of the two counters is non-zero: a possible clone (§7.2 step 22).
        public static let signCountWentBackwards = Code("webauthn.sign_count_went_backwards")

        // MARK: Signatures and attestation (§7.1 steps 19–23, §7.2 step 20; §8.2, §8.7)
        /// The assertion's signature does not verify with the stored key.
        public static let badSignature = Code("webauthn.bad_signature")
        /// An attestation format other than `none` and `packed`.
        public static let unsupportedAttestationFormat = Code("webauthn.unsupported_attestation_format")
        /// The attestation statement is malformed or its signature or certificate chain does not verify.
        public static let attestationInvalid = Code("webauthn.attestation_invalid")
        /// The authenticator model's AAGUID is not on the bank's allow-list.
        public static let aaguidNotAllowed = Code("webauthn.aaguid_not_allowed")
    }

    public let code: Code
    /// The step of WebAuthn L3 that refused, e.g. "§7.2 step 15", plus a developer's detail.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "\(code): \(detail)" }
}
