import Crypto
import CryptoExtras
import SwiftASN1
import X509

/// An attestation object (W3C WebAuthn L3 §6.5.4): a CBOR map of exactly `fmt` (text), `attStmt` (map) and
/// `authData` (bytes), as the browser builds it.
public struct AttestationObject: Sendable {
    /// The attestation statement format identifier (§8.1), matched case-sensitively.
    public let format: String
    public let statement: CBORMap
    public let authenticatorData: AuthenticatorData

    /// Reads an attestation object that fills `bytes` exactly.
    ///
    /// - Throws: `.malformedCBOR` for CBOR or structure at fault (another key, a missing one, a wrong type),
    ///   `.malformedAuthenticatorData` / `.credentialIDTooLong` from the authenticator data.
    public init(bytes: [UInt8]) throws(WebAuthnError) {
        guard let map = try CBOR.decode(bytes).mapValue else {
            throw WebAuthnError(.malformedCBOR, "the attestation object is not a CBOR map")
        }
        let known: Set<CBOR> = [.text("fmt"), .text("attStmt"), .text("authData")]
        if let other = map.entries.first(where: { !known.contains($0.key) }) {
            throw WebAuthnError(
                .malformedCBOR,
                "the attestation object has a key other than fmt, attStmt and authData: "
                    + (other.key.textValue.map(quoted) ?? "a key that is not text"))
        }
        guard let format = map[text: "fmt"]?.textValue else {
            throw WebAuthnError(.malformedCBOR, "the attestation object's fmt is missing or not a text string")
        }
        guard let statement = map[text: "attStmt"]?.mapValue else {
            throw WebAuthnError(.malformedCBOR, "the attestation object's attStmt is missing or not a map")
        }
        guard let authenticatorData = map[text: "authData"]?.bytesValue else {
            throw WebAuthnError(.malformedCBOR, "the attestation object's authData is missing or not a byte string")
        }
        self.format = format
        self.statement = statement
        self.authenticatorData = try AuthenticatorData(bytes: authenticatorData)
    }
}

/// What an attestation statement's verification procedure (§8) yields: its type and trust path.
enum AttestationOutcome {
    /// `none` (§8.7).
    case none
    /// `packed` signed with the credential key (§8.2, self attestation).
    case selfAttestation
    /// `packed` with `x5c`: the attestation certificate first, then the chain the authenticator sent.
    case certificates([Certificate])
}

/// The ID of the FIDO extension that names the authenticator model in an attestation certificate (§8.2.1).
let fidoGenCEAAGUID: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4]

/// The most certificates an `x5c` may hold: an attestation certificate and a few intermediates.
let maximumCertificateChainLength = 8

extension AttestationObject {
    /// The attestation statement format's verification procedure (§7.1 steps 21–22).
    ///
    /// - Parameters:
    ///   - clientDataHash: SHA-256 of `clientDataJSON`.
    ///   - credentialKey: the credential public key in the authenticator data, already checked.
    /// - Throws: `.unsupportedAttestationFormat` for a format other than `none` and `packed`,
    ///   `.attestationInvalid` when the statement is malformed or does not verify.
    func verifyStatement(clientDataHash: [UInt8], credentialKey: COSEKey) throws(WebAuthnError) -> AttestationOutcome {
        switch format {
        case "none":
            guard statement.count == 0 else {
                throw WebAuthnError(
                    .attestationInvalid, "§7.1 step 22: a none attestation statement must be empty (§8.7)")
            }
            return .none
        case "packed":
            return try verifyPacked(signed: authenticatorData.bytes + clientDataHash, credentialKey: credentialKey)
        default:
            throw WebAuthnError(
                .unsupportedAttestationFormat,
                "§7.1 step 21: attestation format \(quoted(format)) is not supported (none and packed are)")
        }
    }

    /// The packed verification procedure (§8.2).
    private func verifyPacked(signed: [UInt8], credentialKey: COSEKey) throws(WebAuthnError) -> AttestationOutcome {
        func invalid(_ detail: String) -> WebAuthnError {
            WebAuthnError(.attestationInvalid, "§7.1 step 22 (§8.2 packed): \(detail)")
        }
        let known: Set<CBOR> = [.text("alg"), .text("sig"), .text("x5c")]
        guard statement.entries.allSatisfy({ known.contains($0.key) }) else {
            throw invalid("attStmt has a key other than alg, sig and x5c")
        }
        guard let alg = statement[text: "alg"]?.intValue else { throw invalid("alg is missing or not an integer") }
        guard let signature = statement[text: "sig"]?.bytesValue else {
            throw invalid("sig is missing or not a byte string")
        }
        let algorithm = COSEAlgorithm(rawValue: alg)

        guard let x5c = statement[text: "x5c"] else {
            // Self attestation.
            guard algorithm == credentialKey.algorithm else {
                throw invalid(
                    "self attestation's alg \(algorithm) is not the credential key's \(credentialKey.algorithm)")
            }
            guard credentialKey.isValidSignature(signature, for: signed) else {
                throw invalid("the self attestation signature does not verify with the credential public key")
            }
            return .selfAttestation
        }

        guard case .array(let items) = x5c, !items.isEmpty, items.count <= maximumCertificateChainLength else {
            throw invalid("x5c is not an array of 1 to \(maximumCertificateChainLength) certificates")
        }
        var certificates: [Certificate] = []
        for (index, item) in items.enumerated() {
            guard let der = item.bytesValue, let certificate = try? Certificate(derEncoded: der) else {
                throw invalid("x5c[\(index)] is not a DER X.509 certificate")
            }
            certificates.append(certificate)
        }
        let leaf = certificates[0]
        guard let attestationKey = COSEKey(certificateKey: leaf.publicKey, algorithm: algorithm) else {
            throw invalid(
                "the attestation certificate's key cannot verify alg \(algorithm)"
                    + " (ES256, EdDSA or RS256 with a key of that kind)")
        }
        guard attestationKey.isValidSignature(signature, for: signed) else {
            throw invalid("the signature does not verify with the attestation certificate's key")
        }
        // §8.2.1, the parts a relying party can check.
        guard leaf.version == .v3 else { throw invalid("the attestation certificate is not X.509 version 3 (§8.2.1)") }
        let constraints: BasicConstraints?
        do {
            constraints = try leaf.extensions.basicConstraints
        } catch {
            throw invalid("the attestation certificate's basic constraints do not parse")
        }
        if case .isCertificateAuthority = constraints {
            throw invalid("the attestation certificate's basic constraints say CA (§8.2.1)")
        }
        if let extensionValue = leaf.extensions[oid: fidoGenCEAAGUID] {
            // The extension's value is an OCTET STRING holding the 16-byte AAGUID (DER: 04 10 …), never critical.
            let value = Array(extensionValue.value)
            guard !extensionValue.critical, value.count == 18, value[0] == 0x04, value[1] == 0x10 else {
                throw invalid(
                    "the id-fido-gen-ce-aaguid extension is critical or is not a 16-byte OCTET STRING (§8.2.1)")
            }
            guard let credential = authenticatorData.attestedCredentialData,
                Array(value[2...]) == credential.aaguid.bytes
            else {
                throw invalid(
                    "the certificate's id-fido-gen-ce-aaguid is not the authenticator data's AAGUID (§8.2.1)")
            }
        }
        return .certificates(certificates)
    }
}

extension COSEKey {
    /// An attestation certificate's key as a verifier for `algorithm`, when the key is of the algorithm's kind.
    init?(certificateKey: Certificate.PublicKey, algorithm: COSEAlgorithm) {
        switch algorithm {
        case .es256:
            guard let key = P256.Signing.PublicKey(certificateKey) else { return nil }
            self.init(algorithm: algorithm, storage: .p256(key))
        case .edDSA:
            guard let key = Curve25519.Signing.PublicKey(certificateKey) else { return nil }
            self.init(algorithm: algorithm, storage: .ed25519(key))
        case .rs256:
            guard let key = _RSA.Signing.PublicKey(certificateKey), key.keySizeInBits >= 2048 else { return nil }
            self.init(algorithm: algorithm, storage: .rsa(key))
        default:
            return nil
        }
    }
}

/// The trust path check of §7.1 step 24 for an `x5c` chain.
///
/// swift-certificates' `Verifier` is `async` and the ceremonies are synchronous (and must not block a thread on a
/// task), so the path is checked here with X509's parts: `x5c` is already in order (§8.2: the attestation
/// certificate, then each one's issuer), so each certificate's issuer must be the next one's subject and the next
/// one's key must have signed it; every issuer must be a CA (basic constraints, path length, keyCertSign if key usage
/// is given); no certificate may carry a critical extension not understood here; and the last certificate must be one
/// of the trusted roots or be signed by one.
///
/// Validity periods are not checked: this target has no clock, and attestation certificates outlive the
/// authenticators they are burnt into (FIDO metadata revokes a model, not a date).
func verifyTrustPath(_ chain: [Certificate], trustedRoots: [[UInt8]]) throws(WebAuthnError) {
    func untrusted(_ detail: String) -> WebAuthnError {
        WebAuthnError(.attestationInvalid, "§7.1 step 24: \(detail)")
    }
    var roots: [Certificate] = []
    for (index, der) in trustedRoots.enumerated() {
        guard let root = try? Certificate(derEncoded: der) else {
            throw untrusted("trusted root \(index) is not a DER X.509 certificate")
        }
        roots.append(root)
    }
    let understood: Set<ASN1ObjectIdentifier> = [
        .X509ExtensionID.basicConstraints, .X509ExtensionID.keyUsage,
    ]
    for (index, certificate) in chain.enumerated()
    where certificate.extensions.contains(where: { $0.critical && !understood.contains($0.oid) }) {
        throw untrusted("x5c[\(index)] has a critical extension this verifier does not understand")
    }
    for index in chain.indices.dropFirst() {
        let issuer = chain[index]
        let child = chain[index - 1]
        guard child.issuer == issuer.subject, issuer.publicKey.isValidSignature(child.signature, for: child) else {
            throw untrusted("x5c[\(index)] did not issue x5c[\(index - 1)]")
        }
        // Intermediates below this issuer, the attestation certificate not counted (RFC 5280 §4.2.1.9).
        try requireAuthority(issuer, intermediatesBelow: index - 1, name: "x5c[\(index)]")
    }
    let tip = chain[chain.count - 1]
    if roots.contains(tip) { return }
    for root in roots where root.subject == tip.issuer && root.publicKey.isValidSignature(tip.signature, for: tip) {
        if (try? requireAuthority(root, intermediatesBelow: chain.count - 1, name: "the root")) != nil { return }
    }
    throw untrusted("the x5c chain does not lead to one of the trusted roots")
}

/// An issuing certificate must say it is a CA (RFC 5280 §4.2.1.9), allow this many intermediates below it, and
/// allow certificate signing if it limits its key usage (§4.2.1.3).
private func requireAuthority(_ certificate: Certificate, intermediatesBelow: Int, name: String) throws(WebAuthnError) {
    func untrusted(_ detail: String) -> WebAuthnError {
        WebAuthnError(.attestationInvalid, "§7.1 step 24: \(name) \(detail)")
    }
    let constraints: BasicConstraints?
    let usage: KeyUsage?
    do {
        constraints = try certificate.extensions.basicConstraints
        usage = try certificate.extensions.keyUsage
    } catch {
        throw untrusted("has basic constraints or key usage that do not parse")
    }
    guard case .isCertificateAuthority(let maximumPathLength) = constraints else {
        throw untrusted("is not a CA (basic constraints)")
    }
    if let maximumPathLength, intermediatesBelow > maximumPathLength {
        throw untrusted("allows \(maximumPathLength) intermediates below it, not \(intermediatesBelow)")
    }
    if let usage, !usage.keyCertSign {
        throw untrusted("may not sign certificates (key usage)")
    }
}
