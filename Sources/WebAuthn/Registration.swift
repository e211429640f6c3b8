/// Registration, W3C WebAuthn L3 §7.1: checks every relying-party step in order and returns what to store.
///
/// Steps checked, each refusing with its own code:
/// - 5–6: `clientDataJSON` parses (`.malformedClientData`);
/// - 7: `type` is `webauthn.create` (`.wrongType`);
/// - 8: `challenge` is the one issued, compared in constant time (`.challengeMismatch`);
/// - 9: `origin` is exactly one of the relying party's (`.originNotAllowed`);
/// - 10–11: no `crossOrigin` true, no `topOrigin`: Ichigo never runs a ceremony in an iframe (`.crossOrigin`);
/// - 13: the attestation object and its authenticator data parse strictly (`.malformedCBOR`,
///   `.malformedAuthenticatorData`) and carry attested credential data (`.credentialMismatch`);
/// - 14: rpIdHash is SHA-256 of the RP ID (`.rpIDHashMismatch`);
/// - 15–17: UP set (`.userNotPresent`), UV set if required (`.userNotVerified`), BS only with BE
///   (`.invalidBackupFlags`);
/// - 20: the credential public key is a supported COSE key whose `alg` the bank allows (`.unsupportedKey`);
/// - 21–22: the format is `none` or `packed` (`.unsupportedAttestationFormat`) and its statement verifies
///   (`.attestationInvalid`);
/// - 24: a certificate chain leads to one of `trustedRoots` when the bank gives any (`.attestationInvalid`), and
///   the AAGUID is on the bank's allow-list when it keeps one (`.aaguidNotAllowed`);
/// - 25: the credential ID has at most 1023 bytes (`.credentialIDTooLong`);
/// - 27: the credential ID in the authenticator data is the response's (`.credentialMismatch`).
///
/// Step 26 (the credential ID is not registered yet) and storing the record are the caller's.
///
/// - Returns: the credential record's contents, with the public key exactly as the authenticator encoded it.
public func verifyRegistration(
    _ response: RegistrationResponse, expecting expectation: RegistrationExpectation
) throws(WebAuthnError) -> VerifiedRegistration {
    // Steps 5–11: the client data.
    let clientData = try within("§7.1 step 6") { () throws(WebAuthnError) in
        try CollectedClientData(json: response.clientDataJSON)
    }
    try clientData.check(
        type: "webauthn.create", challenge: expectation.challenge, relyingParty: expectation.relyingParty,
        steps: .registration)

    // Step 12 is clientData.hash; step 13: the attestation object.
    let attestation = try within("§7.1 step 13") { () throws(WebAuthnError) in
        try AttestationObject(bytes: response.attestationObject)
    }
    let authenticatorData = attestation.authenticatorData
    guard let credential = authenticatorData.attestedCredentialData else {
        throw WebAuthnError(
            .credentialMismatch,
            "§7.1 step 13: the authenticator data carries no attested credential data (AT is not set)")
    }

    // Step 14.
    guard authenticatorData.isForRelyingParty(expectation.relyingParty.id) else {
        throw WebAuthnError(
            .rpIDHashMismatch, "§7.1 step 14: rpIdHash is not SHA-256(\(quoted(expectation.relyingParty.id)))")
    }

    // Steps 15–17.
    try authenticatorData.checkFlags(
        userVerificationRequired: expectation.userVerificationRequired,
        steps: (up: "§7.1 step 15", uv: "§7.1 step 16", backup: "§7.1 step 17"))

    // Step 20: the credential public key and its algorithm.
    let key = try within("§7.1 step 20") { () throws(WebAuthnError) in try COSEKey(cbor: credential.publicKey) }
    guard expectation.allowedAlgorithms.contains(key.algorithm) else {
        throw WebAuthnError(
            .unsupportedKey,
            "§7.1 step 20: the credential key's alg \(key.algorithm) is not one the relying party allows")
    }

    // Steps 21–22: the attestation statement.
    let outcome = try attestation.verifyStatement(clientDataHash: clientData.hash, credentialKey: key)

    // Step 24: trust in the attestation, and the bank's allow-list of authenticator models.
    let attestationType: AttestationType
    switch outcome {
    case .none:
        attestationType = .none
    case .selfAttestation:
        attestationType = .self
    case .certificates(let chain):
        if expectation.trustedRoots.isEmpty {
            attestationType = .basicUnverified
        } else {
            try verifyTrustPath(chain, trustedRoots: expectation.trustedRoots)
            attestationType = .basic
        }
    }
    if let allowed = expectation.allowedAAGUIDs, !allowed.contains(credential.aaguid) {
        throw WebAuthnError(
            .aaguidNotAllowed, "§7.1 step 24: AAGUID \(credential.aaguid) is not on the relying party's allow-list")
    }

    // Step 25 (the authenticator data's own length field was bounded when it was read).
    guard response.credentialID.count <= AuthenticatorData.maximumCredentialIDLength else {
        throw WebAuthnError(
            .credentialIDTooLong,
            "§7.1 step 25: the credential ID has \(response.credentialID.count) bytes, at most 1023 are accepted")
    }

    // Step 27: the record's ID is the response's rawId; the key stored with it must be the one for that ID.
    guard credential.credentialID == response.credentialID else {
        throw WebAuthnError(
            .credentialMismatch, "§7.1 step 27: the authenticator data's credential ID is not the response's rawId")
    }

    return VerifiedRegistration(
        credentialID: credential.credentialID, publicKey: credential.publicKeyBytes, algorithm: key.algorithm,
        signCount: authenticatorData.signCount, aaguid: credential.aaguid, flags: authenticatorData.flags,
        attestationFormat: attestation.format, attestationType: attestationType, transports: response.transports)
}
