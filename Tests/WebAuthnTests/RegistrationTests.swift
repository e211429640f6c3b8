import Crypto
import Foundation
import Testing
import WebAuthn

@Suite("Registration, W3C WebAuthn L3 §7.1: each step refuses what it must")
struct RegistrationTests {
    func verify(
        _ ceremony: Ceremony, _ response: RegistrationResponse? = nil,
        _ change: (inout RegistrationExpectation) -> Void = { _ in }
    ) throws(WebAuthnError) -> VerifiedRegistration {
        try verifyRegistration(response ?? ceremony.registration(), expecting: ceremony.registrationExpectation(change))
    }

    func code(
        _ ceremony: Ceremony, _ response: RegistrationResponse? = nil,
        _ change: (inout RegistrationExpectation) -> Void = { _ in }
    ) -> WebAuthnError.Code? {
        refusal { () throws(WebAuthnError) in try verify(ceremony, response, change) }?.code
    }

    @Test(arguments: [TestKey.p256(P256.Signing.PrivateKey()), .ed25519(Curve25519.Signing.PrivateKey())])
    func acceptsNoneAndPackedSelfAttestation(key: TestKey) throws {
        var ceremony = Ceremony()
        ceremony.key = key
        ceremony.signCount = 7
        let none = try verify(ceremony)
        #expect(none.credentialID == ceremony.credentialID)
        #expect(none.publicKey == key.coseKey.encoded)
        #expect(none.algorithm == key.algorithm)
        #expect(none.signCount == 7)
        #expect(none.aaguid.bytes == ceremony.aaguid)
        #expect(none.attestationFormat == "none")
        #expect(none.attestationType == .none)
        #expect(none.flags.userVerified && none.flags.attestedCredentialData)
        let packed = try verify(ceremony, ceremony.packedSelf())
        #expect(packed.attestationFormat == "packed")
        #expect(packed.attestationType == .self)
        #expect(packed.publicKey == none.publicKey)
    }

    @Test func detailNamesTheStep() {
        var ceremony = Ceremony()
        ceremony.rpID = "evil.example"
        let error = refusal { () throws(WebAuthnError) in try verify(ceremony) }
        #expect(error?.code == .rpIDHashMismatch)
        #expect(error?.detail == "§7.1 step 14: rpIdHash is not SHA-256(\"localhost\")")
    }

    // MARK: Client data, steps 5–11

    @Test func malformedClientDataIsRefused() {
        let ceremony = Ceremony()
        var response = ceremony.registration()
        for json in [
            "", "[]", "{", "{\"type\":\"webauthn.create\"}", "{\"type\":1,\"challenge\":\"AA\",\"origin\":\"x\"}",
            "{\"type\":\"webauthn.create\",\"challenge\":\"AA\",\"origin\":\"x\",\"crossOrigin\":\"false\"}",
        ] {
            response.clientDataJSON = Array(json.utf8)
            #expect(code(ceremony, response) == .malformedClientData, "\(json)")
        }
    }

    @Test(arguments: ["webauthn.get", "webauthn.create ", "WebAuthn.create", ""])
    func wrongTypeIsRefused(type: String) {
        var ceremony = Ceremony()
        ceremony.type = type
        #expect(code(ceremony) == .wrongType)
    }

    @Test func mismatchedOrReusedChallengeIsRefused() {
        let ceremony = Ceremony()
        // The response answers another challenge (e.g. one already used up and replaced by the server).
        #expect(code(ceremony) { $0.challenge = Array(repeating: 9, count: 32) } == .challengeMismatch)
        #expect(code(ceremony) { $0.challenge = Array(ceremony.challenge.dropLast()) } == .challengeMismatch)
        #expect(code(ceremony) { $0.challenge = [] } == .challengeMismatch)
        var response = ceremony.registration()
        response.clientDataJSON = Array(
            String(decoding: response.clientDataJSON, as: UTF8.self)
                .replacingOccurrences(of: Base64URL.encode(ceremony.challenge), with: "!!notbase64!!").utf8)
        #expect(code(ceremony, response) == .challengeMismatch)
    }

    @Test(arguments: [
        "https://localhost:8080", "http://localhost:8080/", "http://localhost", "http://LOCALHOST:8080",
        "https://evil.example", "https://ib.bank.example.evil.example", "null",
    ])
    func originNotExactlyAllowedIsRefused(origin: String) {
        var ceremony = Ceremony()
        ceremony.origin = origin
        #expect(code(ceremony) == .originNotAllowed)
    }

    @Test func everyAllowedOriginIsAccepted() throws {
        var ceremony = Ceremony()
        ceremony.origin = "https://ib.bank.example"
        _ = try verify(ceremony)
    }

    @Test func crossOriginAndTopOriginAreRefused() {
        var ceremony = Ceremony()
        ceremony.crossOrigin = true
        #expect(code(ceremony) == .crossOrigin)
        ceremony.crossOrigin = false
        ceremony.clientDataExtra = ",\"topOrigin\":\"https://shop.example\""
        #expect(code(ceremony) == .crossOrigin)
        ceremony.clientDataExtra = ",\"topOrigin\":null"
        #expect(code(ceremony) == .crossOrigin)
        ceremony.clientDataExtra = ",\"other\":{\"nested\":[1,2]}"
        #expect(code(ceremony) == nil)  // unknown members are ignored (§5.8.1.2)
    }

    // MARK: Attestation object and authenticator data, steps 13–20

    @Test func malformedCBORIsRefused() {
        let ceremony = Ceremony()
        let good = ceremony.registration()
        var response = good
        response.attestationObject = good.attestationObject + [0x00]
        #expect(code(ceremony, response) == .malformedCBOR)
        response.attestationObject = Array(good.attestationObject.dropLast())
        #expect(code(ceremony, response) == .malformedCBOR)
        response.attestationObject = [0xBF] + good.attestationObject.dropFirst() + [0xFF]  // indefinite map
        #expect(code(ceremony, response) == .malformedCBOR)
        response.attestationObject =
            [0xA4] + good.attestationObject.dropFirst() + CBOR.text("fmt").encoded
            + CBOR.text("none").encoded  // fmt twice
        #expect(code(ceremony, response) == .malformedCBOR)
        response.attestationObject = [0xA4] + good.attestationObject.dropFirst() + CBOR.text("x").encoded + [0]
        #expect(code(ceremony, response) == .malformedCBOR)  // a fourth key
        response.attestationObject = CBOR.array([]).encoded
        #expect(code(ceremony, response) == .malformedCBOR)
    }

    @Test func malformedAuthenticatorDataIsRefused() {
        let ceremony = Ceremony()
        let good = ceremony.authenticatorData(attested: true)
        let cases: [(String, [UInt8])] = [
            ("too short", Array(good.prefix(36))),
            ("cut in the AAGUID", Array(good.prefix(45))),
            ("cut in the credential ID", Array(good.prefix(60))),
            ("cut in the key", Array(good.dropLast())),
            ("trailing byte", good + [0]),
            ("extensions without ED", good + CBOR.map([(.text("credProtect"), .int(2))]).encoded),
            ("ED without extensions", Array(good[0..<32]) + [good[32] | 0x80] + Array(good[33...])),
            (
                "key with an indefinite map",
                Array(good.prefix(good.count - 77)) + [0xBF] + Array(good.suffix(76)) + [0xFF]
            ),
        ]
        for (why, authData) in cases {
            #expect(
                code(ceremony, ceremony.registration(authenticatorData: authData)) == .malformedAuthenticatorData,
                "\(why)")
        }
    }

    @Test func extensionsMustBeOneMap() throws {
        var ceremony = Ceremony()
        ceremony.extensions = .map([(.text("credProtect"), .int(2))])
        _ = try verify(ceremony)
        ceremony.extensions = .array([])
        #expect(code(ceremony) == .malformedAuthenticatorData)
    }

    @Test func registrationWithoutAttestedCredentialDataIsRefused() {
        let ceremony = Ceremony()
        #expect(
            code(ceremony, ceremony.registration(authenticatorData: ceremony.authenticatorData(attested: false)))
                == .credentialMismatch)
    }

    @Test func wrongRPIDIsRefused() {
        var ceremony = Ceremony()
        ceremony.rpID = "bank.example"
        #expect(code(ceremony) == .rpIDHashMismatch)
    }

    @Test func missingUserPresenceIsRefused() {
        var ceremony = Ceremony()
        ceremony.flags = 0x04
        #expect(code(ceremony) == .userNotPresent)
    }

    @Test func missingUserVerificationIsRefusedWhenRequired() throws {
        var ceremony = Ceremony()
        ceremony.flags = 0x01
        #expect(code(ceremony) == .userNotVerified)
        _ = try verify(ceremony) { $0.userVerificationRequired = false }
    }

    @Test(arguments: [(UInt8(0x10), false), (0x08, true), (0x18, true)])
    func backedUpWithoutBackupEligibleIsRefused(backupFlags: UInt8, accepted: Bool) {
        var ceremony = Ceremony()
        ceremony.flags = 0x05 | backupFlags
        #expect(code(ceremony) == (accepted ? nil : .invalidBackupFlags))
    }

    @Test func algorithmNotAllowedIsRefused() {
        let ceremony = Ceremony()
        #expect(code(ceremony) { $0.allowedAlgorithms = [.edDSA, .rs256] } == .unsupportedKey)
    }

    @Test func unsupportedCredentialKeyIsRefused() {
        var ceremony = Ceremony()
        let raw = Array(P256.Signing.PrivateKey().publicKey.x963Representation)
        ceremony.coseKeyBytes =
            CBOR.map([
                (.int(1), .int(2)), (.int(3), .int(-35)), (.int(-1), .int(2)),
                (.int(-2), .bytes(Array(raw[1..<33]))), (.int(-3), .bytes(Array(raw[33...]))),
            ]).encoded
        #expect(code(ceremony) == .unsupportedKey)
    }

    @Test func nonMinimalKeyEncodingIsAcceptedAndStoredAsSent() throws {
        var ceremony = Ceremony()
        var key = ceremony.key.coseKey.encoded
        // kty 2 written as 0x18 0x02 (RFC 8949 §4.2 deterministic encoding is not required).
        key.replaceSubrange(2..<3, with: [0x18, 0x02])
        ceremony.coseKeyBytes = key
        let registered = try verify(ceremony)
        #expect(registered.publicKey == key)
        var login = ceremony
        login.signCount = 1
        _ = try verifyAuthentication(
            login.authentication(),
            expecting: login.authenticationExpectation { $0.credentialPublicKey = registered.publicKey })
    }

    // MARK: Attestation, steps 21–24

    @Test(arguments: ["fido-u2f", "tpm", "android-key", "apple", "Packed", "NONE", ""])
    func unsupportedFormatIsRefused(format: String) {
        let ceremony = Ceremony()
        #expect(code(ceremony, ceremony.registration(format: format)) == .unsupportedAttestationFormat)
    }

    @Test func noneWithAStatementIsRefused() {
        let ceremony = Ceremony()
        let response = ceremony.registration { _, _ in .map([(.text("sig"), .bytes([1]))]) }
        #expect(code(ceremony, response) == .attestationInvalid)
    }

    @Test func packedSelfAttestationWithWrongAlgIsRefused() {
        let ceremony = Ceremony()
        #expect(code(ceremony, ceremony.packedSelf(alg: .rs256)) == .attestationInvalid)
        #expect(code(ceremony, ceremony.packedSelf(alg: .edDSA)) == .attestationInvalid)
    }

    @Test func packedSelfAttestationWithBadSignatureIsRefused() {
        var ceremony = Ceremony()
        let other = Ceremony()
        let response = ceremony.registration(format: "packed") { authData, hash in
            .map([(.text("alg"), .int(-7)), (.text("sig"), .bytes(other.key.sign(authData + hash)))])
        }
        #expect(code(ceremony, response) == .attestationInvalid)
        // Signed over another client data hash.
        ceremony.origin = "https://ib.bank.example"
        let replayed = ceremony.registration(format: "packed") { authData, _ in
            .map([
                (.text("alg"), .int(-7)),
                (.text("sig"), .bytes(ceremony.key.sign(authData + [UInt8](repeating: 0, count: 32)))),
            ])
        }
        #expect(code(ceremony, replayed) == .attestationInvalid)
    }

    @Test func packedStatementMalformedIsRefused() {
        let ceremony = Ceremony()
        let statements: [CBOR] = [
            .map([(.text("sig"), .bytes([1]))]),
            .map([(.text("alg"), .int(-7))]),
            .map([(.text("alg"), .text("ES256")), (.text("sig"), .bytes([1]))]),
            .map([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("ecdaaKeyId"), .bytes([1]))]),
            .map([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .array([]))]),
            .map([
                (.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .array([.bytes([0x30, 0x00])])),
            ]),
            .map([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .bytes([0x30]))]),
        ]
        for statement in statements {
            #expect(
                code(ceremony, ceremony.registration(format: "packed") { _, _ in statement }) == .attestationInvalid)
        }
    }

    @Test func aaguidNotOnTheAllowListIsRefused() throws {
        let ceremony = Ceremony()
        let allowed = try #require(AAGUID(bytes: ceremony.aaguid))
        let other = try #require(AAGUID("ee882879-721c-4913-9775-3dfcce97072a"))
        #expect(code(ceremony) { $0.allowedAAGUIDs = [other] } == .aaguidNotAllowed)
        #expect(code(ceremony) { $0.allowedAAGUIDs = [] } == .aaguidNotAllowed)
        #expect(code(ceremony) { $0.allowedAAGUIDs = [other, allowed] } == nil)
        #expect(code(ceremony, ceremony.packedSelf()) { $0.allowedAAGUIDs = [other] } == .aaguidNotAllowed)
    }

    // MARK: Credential ID, steps 25 and 27

    @Test func credentialIDMismatchIsRefused() {
        let ceremony = Ceremony()
        var response = ceremony.registration()
        response.credentialID = Array(repeating: 0xC2, count: 32)
        #expect(code(ceremony, response) == .credentialMismatch)
        response.credentialID = Array(ceremony.credentialID.dropLast())
        #expect(code(ceremony, response) == .credentialMismatch)
    }

    @Test func credentialIDOver1023BytesIsRefused() throws {
        var ceremony = Ceremony()
        ceremony.credentialID = Array(repeating: 0x5A, count: 1023)
        #expect(try verify(ceremony).credentialID.count == 1023)
        ceremony.credentialID.append(0x5A)
        #expect(code(ceremony) == .credentialIDTooLong)
        // A response whose rawId alone is too long.
        ceremony.credentialID = Array(repeating: 0x5A, count: 16)
        var response = ceremony.registration()
        response.credentialID = Array(repeating: 0x5A, count: 1024)
        #expect(code(ceremony, response) == .credentialIDTooLong)
    }

    @Test func transportsArePassedOn() throws {
        let ceremony = Ceremony()
        var response = ceremony.registration()
        response.transports = ["internal", "hybrid"]
        #expect(try verify(ceremony, response).transports == ["internal", "hybrid"])
    }
}
