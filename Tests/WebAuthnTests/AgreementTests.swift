import Foundation
import Testing
import WebAuthn

/// The fixture `scripts/make-webauthn-cases` writes: responses from a software authenticator built on the pip
/// package `fido2`, mutated, each with the verdict of py_webauthn (`webauthn` 3.0.1). e2e/test_webauthn_cases.py
/// proves the file is what those packages say.
struct AgreementFixture: Decodable {
    struct PKI: Decodable {
        var aaguid: String
        /// base64url DER by name: root, intermediate, leaf, …
        var certificates: [String: String]
        /// P-256 private keys by name, hex scalars (test keys).
        var privateKeys: [String: String]
    }

    struct Case: Decodable {
        var id: Int
        var kind: String
        var mutation: String
        var alg: Int
        var fmt: String?
        var rpID: String
        var origins: [String]
        var challenge: String
        var credentialID: String
        var clientDataJSON: String
        var attestationObject: String?
        var trustedRoots: [String]?
        var authenticatorData: String?
        var signature: String?
        var credentialPublicKey: String?
        var storedSignCount: UInt32?
        /// "accept" or "refuse".
        var pyWebauthn: String
        /// Ichigo's verdict where it departs from py_webauthn by design, and why.
        var ichigo: String?
        var why: String?
    }

    var pki: PKI
    var cases: [Case]

    static let shared: AgreementFixture = {
        let url = Bundle.module.url(forResource: "cases", withExtension: "json", subdirectory: "Fixtures")!
        return try! JSONDecoder().decode(AgreementFixture.self, from: Data(contentsOf: url))
    }()
}

func base64URL(_ text: String) -> [UInt8] { Base64URL.decode(text)! }

@Suite("WebAuthn agreement with py_webauthn")
struct WebAuthnAgreementTests {
    /// The code Ichigo must refuse each mutation with (both ceremonies name their mutations alike).
    static let codes: [String: Set<WebAuthnError.Code>] = [
        "flags.UP": [.userNotPresent], "flags.UV": [.userNotVerified], "flags.BS-without-BE": [.invalidBackupFlags],
        "flags.AT": [.malformedAuthenticatorData], "flags.ED-without-extensions": [.malformedAuthenticatorData],
        "extensions-without-ED": [.malformedAuthenticatorData], "rpIdHash": [.rpIDHashMismatch],
        "origin": [.originNotAllowed], "challenge": [.challengeMismatch], "type": [.wrongType],
        "crossOrigin": [.crossOrigin], "topOrigin": [.crossOrigin], "clientDataJSON.malformed": [.malformedClientData],
        "credentialID.mismatch": [.credentialMismatch], "credentialID.1024": [.credentialIDTooLong],
        "fmt.unsupported": [.unsupportedAttestationFormat], "none.statement": [.attestationInvalid],
        "packed.alg-mismatch": [.attestationInvalid], "packed.signature": [.attestationInvalid],
        "packed.missing-field": [.attestationInvalid], "alg.unsupported": [.unsupportedKey],
        "alg.rsa1024": [.unsupportedKey], "cbor.trailing": [.malformedCBOR], "cbor.truncated": [.malformedCBOR],
        "cbor.indefinite-map": [.malformedCBOR], "cbor.indefinite-authData": [.malformedCBOR],
        "cbor.duplicate-key": [.malformedCBOR], "cbor.duplicate-credential-key-label": [.malformedAuthenticatorData],
        "cbor.tag": [.malformedCBOR], "cbor.too-deep": [.malformedAuthenticatorData],
        "authData.trailing": [.malformedAuthenticatorData], "authData.truncated": [.malformedAuthenticatorData],
        "authData.ED-without-extensions": [.malformedAuthenticatorData], "fmt.not-text": [.malformedCBOR],
        "x5c.missing-intermediate": [.attestationInvalid], "x5c.wrong-order": [.attestationInvalid],
        "x5c.untrusted-root": [.attestationInvalid], "x5c.path-length": [.attestationInvalid],
        "x5c.issuer-not-ca": [.attestationInvalid], "x5c.critical-unknown-extension": [.attestationInvalid],
        "x5c.ca-leaf": [.attestationInvalid], "x5c.aaguid-mismatch": [.attestationInvalid],
        "x5c.signature": [.attestationInvalid], "x5c.signed-by-another-key": [.attestationInvalid],
        "x5c.alg-mismatch": [.attestationInvalid], "x5c.garbage": [.attestationInvalid],
        "counter.equal": [.signCountWentBackwards], "counter.lower": [.signCountWentBackwards],
        "counter.zero-after-nonzero": [.signCountWentBackwards], "signature.flip": [.badSignature],
        "signature.truncated": [.badSignature], "signature.empty": [.badSignature],
        "signature.other-key": [.badSignature], "signature.without-client-data": [.badSignature],
        "signature.raw-ecdsa": [.badSignature], "storedKey.other": [.badSignature],
        // A flipped bit in rpIdHash is caught there; in the flags or the counter, by the signature.
        "authData.tampered": [.badSignature, .rpIDHashMismatch],
    ]

    enum Verdict: Equatable {
        case accepted
        case refused(WebAuthnError)

        var word: String {
            if case .accepted = self { "accept" } else { "refuse" }
        }
    }

    /// Ichigo's verdict on a case, with what an acceptance must carry checked on the way.
    static func verdict(_ item: AgreementFixture.Case) -> (Verdict, problem: String?) {
        let relyingParty = RelyingParty(id: item.rpID, origins: Set(item.origins))
        do throws(WebAuthnError) {
            if item.kind == "registration" {
                let response = RegistrationResponse(
                    credentialID: base64URL(item.credentialID), clientDataJSON: base64URL(item.clientDataJSON),
                    attestationObject: base64URL(item.attestationObject!))
                let roots = (item.trustedRoots ?? []).map(base64URL)
                let registered = try verifyRegistration(
                    response,
                    expecting: RegistrationExpectation(
                        challenge: base64URL(item.challenge), relyingParty: relyingParty, trustedRoots: roots))
                let expectedType: AttestationType =
                    item.fmt == "none"
                    ? .none : item.mutation.hasPrefix("x5c.") ? (roots.isEmpty ? .basicUnverified : .basic) : .self
                let sentKey = try AttestationObject(bytes: response.attestationObject).authenticatorData
                    .attestedCredentialData?.publicKeyBytes
                if registered.attestationType != expectedType || registered.publicKey != sentKey
                    || registered.algorithm.rawValue != item.alg
                {
                    return (.accepted, "accepted as \(registered.attestationType), \(registered.algorithm)")
                }
            } else {
                let response = AuthenticationResponse(
                    credentialID: base64URL(item.credentialID), clientDataJSON: base64URL(item.clientDataJSON),
                    authenticatorData: base64URL(item.authenticatorData!), signature: base64URL(item.signature!),
                    userHandle: nil)
                let verified = try verifyAuthentication(
                    response,
                    expecting: AuthenticationExpectation(
                        challenge: base64URL(item.challenge), relyingParty: relyingParty,
                        credentialPublicKey: base64URL(item.credentialPublicKey!),
                        storedSignCount: item.storedSignCount!))
                let counter = response.authenticatorData[33..<37].reduce(UInt32(0)) { $0 << 8 | UInt32($1) }
                if verified.signCount != counter {
                    return (.accepted, "new counter \(verified.signCount), sent \(counter)")
                }
            }
            return (.accepted, nil)
        } catch {
            let wanted = codes[item.mutation]
            if let wanted, !wanted.contains(error.code) { return (.refused(error), "refused with \(error.code)") }
            if wanted == nil { return (.refused(error), "refused a mutation that has no refusal code: \(error)") }
            return (.refused(error), nil)
        }
    }

    /// One test over every case (a parameterised test would print 3,000 lines); each disagreement is reported.
    @Test func everyCaseAgreesWithPyWebauthn() {
        let cases = AgreementFixture.shared.cases
        #expect(cases.count >= 3000)
        var tally: [String: [String: Int]] = [:]
        var disagreementsByDesign = 0
        for item in cases {
            let (verdict, problem) = Self.verdict(item)
            let expected = item.ichigo ?? item.pyWebauthn
            if item.ichigo != nil, item.ichigo != item.pyWebauthn { disagreementsByDesign += 1 }
            #expect(
                verdict.word == expected,
                """
                case \(item.id) \(item.kind) \(item.mutation): Ichigo says \(verdict.word) (\(verdict)), expected \
                \(expected) (py_webauthn: \(item.pyWebauthn)\(item.why.map { "; by design: " + $0 } ?? ""))
                """)
            if let problem, verdict.word == expected {
                Issue.record("case \(item.id) \(item.kind) \(item.mutation): \(problem)")
            }
            tally["\(item.kind) \(item.mutation)", default: [:]][verdict.word, default: 0] += 1
        }
        // Both verdicts occur, and the recorded disagreements are the only ones.
        #expect(tally.values.contains { $0["accept"] != nil } && tally.values.contains { $0["refuse"] != nil })
        #expect(disagreementsByDesign == cases.count(where: { $0.ichigo != nil }))
        // Every refusal code above is exercised by some case.
        let mutations = Set(cases.map(\.mutation))
        #expect(Set(Self.codes.keys).subtracting(mutations).isEmpty, "\(Set(Self.codes.keys).subtracting(mutations))")
    }
}
