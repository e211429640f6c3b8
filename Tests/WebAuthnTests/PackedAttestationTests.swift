import Crypto
import Testing
import WebAuthn

/// Packed attestation with an x5c chain (W3C WebAuthn L3 §8.2, §8.2.1, §7.1 step 24), signed with the test PKI that
/// `scripts/make-webauthn-cases` made (root → intermediate with path length 0 → attestation certificates) and wrote
/// into `Fixtures/cases.json` with its private keys.
@Suite("Packed attestation with a certificate chain")
struct PackedAttestationTests {
    static let pki = AgreementFixture.shared.pki

    static func certificate(_ name: String) -> [UInt8] { base64URL(pki.certificates[name]!) }

    static func signingKey(_ name: String) -> P256.Signing.PrivateKey {
        try! P256.Signing.PrivateKey(rawRepresentation: bytes(hex: pki.privateKeys[name]!))
    }

    /// A registration whose packed statement `signer` signs and whose x5c holds `chain`.
    static func registration(signer: String, chain: [String], alg: Int = -7) -> (Ceremony, RegistrationResponse) {
        var ceremony = Ceremony()
        ceremony.aaguid = bytes(hex: pki.aaguid)
        let key = signingKey(signer)
        let response = ceremony.registration(format: "packed") { authData, hash in
            .map([
                (.text("alg"), .int(alg)),
                (.text("sig"), .bytes(Array(try! key.signature(for: authData + hash).derRepresentation))),
                (.text("x5c"), .array(chain.map { .bytes(certificate($0)) })),
            ])
        }
        return (ceremony, response)
    }

    static func outcome(signer: String, chain: [String], roots: [String] = ["root"], alg: Int = -7)
        -> Result<AttestationType, WebAuthnError>
    {
        let (ceremony, response) = registration(signer: signer, chain: chain, alg: alg)
        do throws(WebAuthnError) {
            let expectation = ceremony.registrationExpectation { $0.trustedRoots = roots.map(certificate) }
            return .success(try verifyRegistration(response, expecting: expectation).attestationType)
        } catch {
            return .failure(error)
        }
    }

    @Test func chainToATrustedRootIsBasic() {
        #expect(Self.outcome(signer: "leaf", chain: ["leaf", "intermediate"]) == .success(.basic))
        #expect(Self.outcome(signer: "leafUnderRoot", chain: ["leafUnderRoot"]) == .success(.basic))
        #expect(Self.outcome(signer: "leaf", chain: ["leaf", "intermediate", "root"]) == .success(.basic))
        #expect(Self.outcome(signer: "noAAGUID", chain: ["noAAGUID", "intermediate"]) == .success(.basic))
        // The intermediate itself may be the trust anchor, or the attestation certificate (§7.1 step 24).
        #expect(
            Self.outcome(signer: "leaf", chain: ["leaf", "intermediate"], roots: ["intermediate"]) == .success(.basic))
        #expect(Self.outcome(signer: "leaf", chain: ["leaf"], roots: ["leaf"]) == .success(.basic))
        #expect(
            Self.outcome(signer: "leaf", chain: ["leaf", "intermediate"], roots: ["otherRoot", "root"])
                == .success(.basic))
    }

    @Test func withoutRootsTheChainIsReportedUnverified() {
        #expect(Self.outcome(signer: "leaf", chain: ["leaf", "intermediate"], roots: []) == .success(.basicUnverified))
        // The signature and the attestation certificate are still checked.
        #expect(Self.code(signer: "leafUnderRoot", chain: ["leaf", "intermediate"], roots: []) == .attestationInvalid)
        #expect(Self.code(signer: "caLeaf", chain: ["caLeaf", "intermediate"], roots: []) == .attestationInvalid)
    }

    static func code(signer: String, chain: [String], roots: [String] = ["root"], alg: Int = -7) -> WebAuthnError.Code?
    {
        if case .failure(let error) = outcome(signer: signer, chain: chain, roots: roots, alg: alg) {
            error.code
        } else {
            nil
        }
    }

    struct Refusal: Sendable, CustomTestStringConvertible {
        var why: String
        var signer: String
        var chain: [String]
        var roots = ["root"]
        var alg = -7
        var testDescription: String { why }
    }

    @Test(arguments: [
        Refusal(why: "intermediate missing", signer: "leaf", chain: ["leaf"]),
        Refusal(why: "chain out of order", signer: "leaf", chain: ["intermediate", "leaf"]),
        Refusal(why: "another root", signer: "untrusted", chain: ["untrusted"]),
        Refusal(
            why: "only another root trusted", signer: "leaf", chain: ["leaf", "intermediate"], roots: ["otherRoot"]),
        Refusal(
            why: "intermediate's path length 0 exceeded", signer: "deep",
            chain: ["deep", "intermediate2", "intermediate"]),
        Refusal(
            why: "issued by a certificate that is not a CA", signer: "underLeaf",
            chain: ["underLeaf", "leaf", "intermediate"]),
        Refusal(
            why: "unknown critical extension", signer: "criticalUnknown", chain: ["criticalUnknown", "intermediate"]),
        Refusal(why: "attestation certificate is a CA (§8.2.1)", signer: "caLeaf", chain: ["caLeaf", "intermediate"]),
        Refusal(
            why: "id-fido-gen-ce-aaguid names another AAGUID (§8.2.1)", signer: "otherAAGUID",
            chain: ["otherAAGUID", "intermediate"]),
        Refusal(why: "signed by another key", signer: "leafUnderRoot", chain: ["leaf", "intermediate"]),
        Refusal(why: "alg EdDSA with a P-256 certificate", signer: "leaf", chain: ["leaf", "intermediate"], alg: -8),
        Refusal(why: "alg RS256 with a P-256 certificate", signer: "leaf", chain: ["leaf", "intermediate"], alg: -257),
    ])
    func refuses(_ refusal: Refusal) {
        #expect(
            Self.code(signer: refusal.signer, chain: refusal.chain, roots: refusal.roots, alg: refusal.alg)
                == .attestationInvalid)
    }

    @Test func tooManyCertificatesAreRefused() {
        let chain = ["leaf"] + Array(repeating: "intermediate", count: 8)
        let error = refusal { () throws(WebAuthnError) in
            let (ceremony, response) = Self.registration(signer: "leaf", chain: chain)
            return try verifyRegistration(
                response, expecting: ceremony.registrationExpectation { $0.trustedRoots = [Self.certificate("root")] })
        }
        #expect(error?.code == .attestationInvalid)
        #expect(error?.detail.contains("1 to 8 certificates") == true)
    }

    @Test func malformedTrustedRootIsRefused() {
        let (ceremony, response) = Self.registration(signer: "leaf", chain: ["leaf", "intermediate"])
        let error = refusal { () throws(WebAuthnError) in
            try verifyRegistration(
                response, expecting: ceremony.registrationExpectation { $0.trustedRoots = [[0x30, 0x03]] })
        }
        #expect(error?.code == .attestationInvalid)
    }

    @Test func aaguidAllowListAppliesToCertifiedAuthenticators() throws {
        let (ceremony, response) = Self.registration(signer: "leaf", chain: ["leaf", "intermediate"])
        let model = try #require(AAGUID(bytes: bytes(hex: Self.pki.aaguid)))
        let registered = try verifyRegistration(
            response,
            expecting: ceremony.registrationExpectation {
                $0.trustedRoots = [Self.certificate("root")]
                $0.allowedAAGUIDs = [model]
            })
        #expect(registered.aaguid == model)
        #expect(registered.attestationType == .basic)
        let error = refusal { () throws(WebAuthnError) in
            try verifyRegistration(
                response,
                expecting: ceremony.registrationExpectation {
                    $0.trustedRoots = [Self.certificate("root")]
                    $0.allowedAAGUIDs = [.zero]
                })
        }
        #expect(error?.code == .aaguidNotAllowed)
    }
}
