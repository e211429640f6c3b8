/// Authentication, W3C WebAuthn L3 §7.2: checks every relying-party step in order against the stored credential.
///
/// Steps checked, each refusing with its own code:
/// - 8–9: `clientDataJSON` parses (`.malformedClientData`);
/// - 10: `type` is `webauthn.get` (`.wrongType`);
/// - 11: `challenge` is the one issued, compared in constant time (`.challengeMismatch`);
/// - 12: `origin` is exactly one of the relying party's (`.originNotAllowed`);
/// - 13–14: no `crossOrigin` true, no `topOrigin` (`.crossOrigin`);
/// - the authenticator data parses strictly (`.malformedAuthenticatorData`); attested credential data, which an
///   assertion should not carry (§6.3.3 step 11 leaves it out), is read and ignored as py_webauthn does: the
///   signature covers it and nothing is taken from it;
/// - 15: rpIdHash is SHA-256 of the RP ID (`.rpIDHashMismatch`);
/// - 16–18: UP set (`.userNotPresent`), UV set if required (`.userNotVerified`), BS only with BE
///   (`.invalidBackupFlags`);
/// - 21: the signature over authenticatorData ‖ SHA-256(clientDataJSON) verifies with the stored key
///   (`.badSignature`; a stored key that does not read is `.unsupportedKey` or `.malformedCBOR`);
/// - 22: if either counter is non-zero, the new one is greater than the stored one (`.signCountWentBackwards`):
///   the spec leaves the decision to the relying party; Ichigo, a bank, refuses a possible clone.
///
/// Steps 5–6 (which credential, which user) are the caller's: it looked the stored key up by the credential ID.
///
/// - Returns: the new counter and flags to store.
public func verifyAuthentication(
    _ response: AuthenticationResponse, expecting expectation: AuthenticationExpectation
) throws(WebAuthnError) -> VerifiedAuthentication {
    // Steps 8–14: the client data.
    let clientData = try within("§7.2 step 9") { () throws(WebAuthnError) in
        try CollectedClientData(json: response.clientDataJSON)
    }
    try clientData.check(
        type: "webauthn.get", challenge: expectation.challenge, relyingParty: expectation.relyingParty,
        steps: .authentication)

    // Step 7 names the authenticator data; it is read here, strictly.
    let authenticatorData = try within("§7.2 step 7") { () throws(WebAuthnError) in
        try AuthenticatorData(bytes: response.authenticatorData)
    }

    // Step 15.
    guard authenticatorData.isForRelyingParty(expectation.relyingParty.id) else {
        throw WebAuthnError(
            .rpIDHashMismatch, "§7.2 step 15: rpIdHash is not SHA-256(\(quoted(expectation.relyingParty.id)))")
    }

    // Steps 16–18.
    try authenticatorData.checkFlags(
        userVerificationRequired: expectation.userVerificationRequired,
        steps: (up: "§7.2 step 16", uv: "§7.2 step 17", backup: "§7.2 step 18"))

    // Steps 20–21: the signature with the stored credential public key.
    let key = try within("§7.2 step 21: the stored credential public key") { () throws(WebAuthnError) in
        try COSEKey(bytes: expectation.credentialPublicKey)
    }
    guard key.isValidSignature(response.signature, for: authenticatorData.bytes + clientData.hash) else {
        throw WebAuthnError(
            .badSignature, "§7.2 step 21: the signature does not verify with the stored \(key.algorithm) key")
    }

    // Step 22: the signature counter.
    let stored = expectation.storedSignCount
    let new = authenticatorData.signCount
    if (new != 0 || stored != 0) && new <= stored {
        throw WebAuthnError(
            .signCountWentBackwards,
            "§7.2 step 22: the signature counter \(new) is not greater than the stored \(stored);"
                + " the authenticator may be cloned")
    }

    return VerifiedAuthentication(
        credentialID: response.credentialID, signCount: new, flags: authenticatorData.flags)
}
