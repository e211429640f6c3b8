import Foundation
import Testing
import WebAuthn

/// The WebAuthn Level 3 specification's own test vectors (§ "Test Vectors"): a registration and an authentication for
/// each of 15 credentials, copied verbatim into `Fixtures/webauthn-l3-test-vectors.json`.
@Suite("W3C WebAuthn L3 test vectors")
struct SpecVectorTests {
    struct Registration: Decodable, Sendable {
        var challenge: String
        var credentialID: String
        var clientDataJSON: String
        var attestationObject: String
    }

    struct Authentication: Decodable, Sendable {
        var challenge: String
        var authenticatorData: String
        var clientDataJSON: String
        var signature: String
    }

    struct Vector: Decodable, Sendable, CustomTestStringConvertible {
        var anchor: String
        var title: String
        var reg: Registration
        var auth: Authentication
        var testDescription: String { anchor }
    }

    struct File: Decodable {
        var rpID: String
        var origin: String
        var attestationRoot: String
        var vectors: [Vector]
    }

    static let file: File = {
        let url = Bundle.module.url(
            forResource: "webauthn-l3-test-vectors", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(File.self, from: Data(contentsOf: url))
    }()

    enum Outcome: Equatable {
        case accepted(AttestationType)
        case refused(WebAuthnError.Code)
    }

    /// What Ichigo answers to each registration, given the spec's attestation root.
    static let registrationOutcomes: [String: Outcome] = [
        "none-es256": .accepted(.none),
        "packed-self-es256": .accepted(.self),
        "none-es256-crossOrigin": .refused(.crossOrigin),  // Ichigo never runs in an iframe
        "none-es256-topOrigin": .refused(.crossOrigin),
        "none-es256-long-credential-id": .accepted(.none),  // 1023 bytes, the most allowed
        "packed-es256": .accepted(.basic),
        "packed-es384": .refused(.unsupportedKey),
        "packed-es512": .refused(.unsupportedKey),
        "packed-rs256": .accepted(.basic),
        "packed-eddsa": .accepted(.basic),
        "packed-ed448": .refused(.unsupportedKey),
        "tpm-es256": .refused(.unsupportedAttestationFormat),
        "android-key-es256": .refused(.unsupportedAttestationFormat),
        "apple-es256": .refused(.unsupportedAttestationFormat),
        "fido-u2f-es256": .refused(.unsupportedAttestationFormat),
    ]

    static var relyingParty: RelyingParty { RelyingParty(id: file.rpID, origins: [file.origin]) }

    static func registrationResponse(_ vector: Vector) -> RegistrationResponse {
        RegistrationResponse(
            credentialID: bytes(hex: vector.reg.credentialID), clientDataJSON: bytes(hex: vector.reg.clientDataJSON),
            attestationObject: bytes(hex: vector.reg.attestationObject))
    }

    /// The vectors' flags have UV at random; user verification is required only where a test says so.
    static func registrationExpectation(_ vector: Vector, roots: [[UInt8]]) -> RegistrationExpectation {
        RegistrationExpectation(
            challenge: bytes(hex: vector.reg.challenge), relyingParty: relyingParty, userVerificationRequired: false,
            trustedRoots: roots)
    }

    static func outcome(_ body: () throws(WebAuthnError) -> VerifiedRegistration) -> Outcome {
        do {
            return .accepted(try body().attestationType)
        } catch {
            return .refused(error.code)
        }
    }

    /// x5c[0] of a packed vector's statement.
    static func attestationCertificate(_ vector: Vector) -> [UInt8]? {
        guard vector.anchor.hasPrefix("packed-"),
            let statement = try? CBOR.decode(bytes(hex: vector.reg.attestationObject)).mapValue?[text: "attStmt"],
            case .array(let chain)? = statement.mapValue?[text: "x5c"]
        else { return nil }
        return chain.first?.bytesValue
    }

    @Test func everyVectorHasAnExpectedOutcome() {
        #expect(Set(Self.file.vectors.map(\.anchor)) == Set(Self.registrationOutcomes.keys))
    }

    @Test(arguments: file.vectors)
    func registration(_ vector: Vector) throws {
        let root = bytes(hex: Self.file.attestationRoot)
        let response = Self.registrationResponse(vector)
        let expected = try #require(Self.registrationOutcomes[vector.anchor])
        let outcome = Self.outcome { () throws(WebAuthnError) in
            try verifyRegistration(response, expecting: Self.registrationExpectation(vector, roots: [root]))
        }
        #expect(outcome == expected)
        guard case .accepted(let type) = expected else { return }

        let registered = try verifyRegistration(
            response, expecting: Self.registrationExpectation(vector, roots: [root]))
        #expect(registered.credentialID == bytes(hex: vector.reg.credentialID))
        #expect(registered.signCount == 0)
        // The stored key is exactly the bytes in authData.
        let authData = try AttestationObject(bytes: response.attestationObject).authenticatorData
        #expect(registered.publicKey == authData.attestedCredentialData?.publicKeyBytes)

        if type == .basic {
            // Without roots the chain is reported as unchecked; with another root it is refused.
            #expect(
                Self.outcome { () throws(WebAuthnError) in
                    try verifyRegistration(response, expecting: Self.registrationExpectation(vector, roots: []))
                } == .accepted(.basicUnverified))
            // The attestation certificate itself may be the trusted one (§7.1 step 24); another vector's is unrelated.
            let leaf = try #require(Self.attestationCertificate(vector))
            #expect(
                Self.outcome { () throws(WebAuthnError) in
                    try verifyRegistration(response, expecting: Self.registrationExpectation(vector, roots: [leaf]))
                } == .accepted(.basic))
            let other = try #require(
                Self.file.vectors.lazy.filter { $0.anchor != vector.anchor }.compactMap(Self.attestationCertificate)
                    .first)
            #expect(
                Self.outcome { () throws(WebAuthnError) in
                    try verifyRegistration(response, expecting: Self.registrationExpectation(vector, roots: [other]))
                } == .refused(.attestationInvalid))
        }

        // With user verification required, the vector passes exactly when its UV flag is set.
        var strict = Self.registrationExpectation(vector, roots: [root])
        strict.userVerificationRequired = true
        let strictOutcome = Self.outcome { () throws(WebAuthnError) in
            try verifyRegistration(response, expecting: strict)
        }
        #expect(strictOutcome == (authData.flags.userVerified ? expected : .refused(.userNotVerified)))
    }

    @Test(arguments: file.vectors)
    func authentication(_ vector: Vector) throws {
        // The stored key is the one the registration carries (even where Ichigo refuses that registration's format).
        let registration = Self.registrationResponse(vector)
        let credential = try #require(
            try AttestationObject(bytes: registration.attestationObject).authenticatorData.attestedCredentialData)
        let response = AuthenticationResponse(
            credentialID: registration.credentialID, clientDataJSON: bytes(hex: vector.auth.clientDataJSON),
            authenticatorData: bytes(hex: vector.auth.authenticatorData), signature: bytes(hex: vector.auth.signature),
            userHandle: nil)
        let expectation = AuthenticationExpectation(
            challenge: bytes(hex: vector.auth.challenge), relyingParty: Self.relyingParty,
            userVerificationRequired: false,
            credentialPublicKey: credential.publicKeyBytes, storedSignCount: 0)
        let expected: WebAuthnError.Code? =
            switch vector.anchor {
            case "none-es256-crossOrigin", "none-es256-topOrigin": .crossOrigin
            case "packed-es384", "packed-es512", "packed-ed448": .unsupportedKey
            default: nil
            }
        let error = refusal { () throws(WebAuthnError) in try verifyAuthentication(response, expecting: expectation) }
        #expect(error?.code == expected, "\(String(describing: error))")
        guard expected == nil else { return }

        // Tampering with any part is refused.
        var otherChallenge = expectation
        otherChallenge.challenge = bytes(hex: vector.reg.challenge)
        #expect(
            refusal { () throws(WebAuthnError) in try verifyAuthentication(response, expecting: otherChallenge) }?.code
                == .challengeMismatch)
        var flipped = response
        flipped.signature[flipped.signature.count / 2] ^= 0x01
        #expect(
            refusal { () throws(WebAuthnError) in try verifyAuthentication(flipped, expecting: expectation) }?.code
                == .badSignature)
        var counted = expectation
        counted.storedSignCount = 1
        #expect(
            refusal { () throws(WebAuthnError) in try verifyAuthentication(response, expecting: counted) }?.code
                == .signCountWentBackwards)
    }
}
