import Crypto
import Testing
import WebAuthn

@Suite("Authentication, W3C WebAuthn L3 §7.2: each step refuses what it must")
struct AuthenticationTests {
    func code(
        _ ceremony: Ceremony, _ response: AuthenticationResponse? = nil, storedSignCount: UInt32 = 0,
        _ change: (inout AuthenticationExpectation) -> Void = { _ in }
    ) -> WebAuthnError.Code? {
        refusal { () throws(WebAuthnError) in
            try verifyAuthentication(
                response ?? ceremony.authentication(),
                expecting: ceremony.authenticationExpectation(storedSignCount: storedSignCount, change))
        }?.code
    }

    @Test(arguments: [TestKey.p256(P256.Signing.PrivateKey()), .ed25519(Curve25519.Signing.PrivateKey())])
    func acceptsAGoodAssertion(key: TestKey) throws {
        var ceremony = Ceremony()
        ceremony.key = key
        ceremony.signCount = 42
        ceremony.flags = 0x1D  // UP, UV, BE, BS
        let verified = try verifyAuthentication(
            ceremony.authentication(), expecting: ceremony.authenticationExpectation(storedSignCount: 41))
        #expect(verified.signCount == 42)
        #expect(verified.credentialID == ceremony.credentialID)
        #expect(verified.flags.backedUp && verified.flags.backupEligible && verified.flags.userVerified)
    }

    @Test func detailNamesTheStep() {
        var ceremony = Ceremony()
        ceremony.rpID = "evil.example"
        let error = refusal { () throws(WebAuthnError) in
            try verifyAuthentication(ceremony.authentication(), expecting: ceremony.authenticationExpectation())
        }
        #expect(error?.detail == "§7.2 step 15: rpIdHash is not SHA-256(\"localhost\")")
    }

    @Test func wrongTypeIsRefused() {
        var ceremony = Ceremony()
        ceremony.type = "webauthn.create"
        #expect(code(ceremony) == .wrongType)
        ceremony.type = "payment.get"
        #expect(code(ceremony) == .wrongType)
    }

    @Test func mismatchedChallengeIsRefused() {
        let ceremony = Ceremony()
        // The registration's challenge, or any other, answered again.
        #expect(code(ceremony) { $0.challenge = Array(repeating: 1, count: 32) } == .challengeMismatch)
        #expect(code(ceremony) { $0.challenge = ceremony.challenge + [0] } == .challengeMismatch)
    }

    @Test func wrongOriginIsRefused() {
        var ceremony = Ceremony()
        ceremony.origin = "https://localhost:8080"
        #expect(code(ceremony) == .originNotAllowed)
        #expect(code(Ceremony()) { $0.relyingParty.origins = ["https://ib.bank.example"] } == .originNotAllowed)
    }

    @Test func crossOriginIsRefused() {
        var ceremony = Ceremony()
        ceremony.crossOrigin = true
        #expect(code(ceremony) == .crossOrigin)
        ceremony.crossOrigin = false
        ceremony.clientDataExtra = ",\"topOrigin\":\"http://localhost:8080\""
        #expect(code(ceremony) == .crossOrigin)
    }

    @Test func wrongRPIDIsRefused() {
        var ceremony = Ceremony()
        ceremony.rpID = "localhost."
        #expect(code(ceremony) == .rpIDHashMismatch)
        #expect(code(Ceremony()) { $0.relyingParty.id = "bank.example" } == .rpIDHashMismatch)
    }

    @Test func missingUserPresenceIsRefused() {
        var ceremony = Ceremony()
        ceremony.flags = 0x04
        #expect(code(ceremony) == .userNotPresent)
    }

    @Test func missingUserVerificationIsRefusedWhenRequired() {
        var ceremony = Ceremony()
        ceremony.flags = 0x01
        #expect(code(ceremony) == .userNotVerified)
        #expect(code(ceremony) { $0.userVerificationRequired = false } == nil)
    }

    @Test func backedUpWithoutBackupEligibleIsRefused() {
        var ceremony = Ceremony()
        ceremony.flags = 0x15
        #expect(code(ceremony) == .invalidBackupFlags)
    }

    struct Counters: Sendable, CustomTestStringConvertible {
        var stored: UInt32
        var new: UInt32
        var accepted: Bool
        var testDescription: String { "stored \(stored), new \(new)" }
    }

    @Test(arguments: [
        Counters(stored: 0, new: 0, accepted: true),  // an authenticator without a counter
        Counters(stored: 0, new: 1, accepted: true),
        Counters(stored: 5, new: 6, accepted: true),
        Counters(stored: 5, new: 1000, accepted: true),
        Counters(stored: 5, new: 5, accepted: false),
        Counters(stored: 5, new: 4, accepted: false),
        Counters(stored: 5, new: 0, accepted: false),
        Counters(stored: UInt32.max, new: UInt32.max, accepted: false),
        Counters(stored: UInt32.max - 1, new: UInt32.max, accepted: true),
    ])
    func counterMustGrowUnlessBothAreZero(_ counters: Counters) {
        var ceremony = Ceremony()
        ceremony.signCount = counters.new
        #expect(code(ceremony, storedSignCount: counters.stored) == (counters.accepted ? nil : .signCountWentBackwards))
    }

    @Test func badSignatureIsRefused() {
        let ceremony = Ceremony()
        let good = ceremony.authentication()
        var flipped = good.signature
        flipped[flipped.count - 1] ^= 1
        let other = Ceremony()
        let signatures: [[UInt8]] = [
            flipped, [], Array(good.signature.dropLast()), good.signature + [0],
            other.key.sign(good.authenticatorData + Array(SHA256.hash(data: good.clientDataJSON))),
            ceremony.key.sign(good.authenticatorData),  // without the client data hash
        ]
        for signature in signatures {
            #expect(code(ceremony, ceremony.authentication(signature: signature)) == .badSignature)
        }
        // The right signature checked against another credential's key.
        #expect(code(ceremony) { $0.credentialPublicKey = other.key.coseKey.encoded } == .badSignature)
        // A signature over other authenticator data (counter changed after signing).
        var tampered = good
        tampered.authenticatorData[36] ^= 1
        #expect(code(ceremony, tampered) == .badSignature)
    }

    @Test func malformedAuthenticatorDataIsRefused() {
        let ceremony = Ceremony()
        let good = ceremony.authenticatorData(attested: false)
        for authData in [Array(good.prefix(36)), good + [0], [], Array(good[0..<32]) + [0x85] + Array(good[33...])] {
            #expect(code(ceremony, ceremony.authentication(authenticatorData: authData)) == .malformedAuthenticatorData)
        }
    }

    @Test func attestedCredentialDataInAnAssertionIsReadAndIgnored() throws {
        // §6.3.3 leaves it out; py_webauthn accepts it when well formed and so does Ichigo (the signature covers it).
        let ceremony = Ceremony()
        let withCredential = ceremony.authenticatorData(attested: true)
        #expect(code(ceremony, ceremony.authentication(authenticatorData: withCredential)) == nil)
        #expect(
            code(ceremony, ceremony.authentication(authenticatorData: Array(withCredential.dropLast())))
                == .malformedAuthenticatorData)
    }

    @Test func extensionsAreAccepted() {
        var ceremony = Ceremony()
        ceremony.extensions = .map([(.text("largeBlob"), .map([(.text("written"), .bool(true))]))])
        #expect(code(ceremony) == nil)
    }

    @Test func malformedStoredKeyIsRefused() {
        let ceremony = Ceremony()
        #expect(code(ceremony) { $0.credentialPublicKey = [] } == .malformedCBOR)
        #expect(code(ceremony) { $0.credentialPublicKey = CBOR.map([]).encoded } == .unsupportedKey)
    }

    @Test func malformedClientDataIsRefused() {
        let ceremony = Ceremony()
        var response = ceremony.authentication()
        response.clientDataJSON = Array("not json".utf8)
        #expect(code(ceremony, response) == .malformedClientData)
        response.clientDataJSON = [0xFF, 0xFE]
        #expect(code(ceremony, response) == .malformedClientData)
    }
}
