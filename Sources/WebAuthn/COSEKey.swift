import Crypto
import CryptoExtras

/// A credential public key in COSE_Key form (RFC 9052 §7) of one of the three kinds W3C WebAuthn L3 §5.8.5 asks
/// relying parties to support: ES256 (EC2, P-256, RFC 9053 §2.1 and §7.1), EdDSA (OKP, Ed25519, RFC 9053 §2.2 and
/// §7.2) and RS256 (RSA PKCS#1 v1.5 with SHA-256, RFC 8812 §2 and RFC 8230 §4).
///
/// Strict: `alg` must be present (WebAuthn L3 §6.5.1.1), the key type and curve must be the algorithm's, EC2 points
/// uncompressed with 32-byte coordinates, no private parameter, RSA moduli of at least 2048 bits. Anything else is
/// refused with `.unsupportedKey`. Whether the relying party allows the algorithm is the ceremony's check.
public struct COSEKey: Sendable {
    /// COSE_Key common parameters (RFC 9052 §7.1) and key type parameters (RFC 9053 §7, RFC 8230 §4).
    enum Label {
        static let kty = 1
        static let alg = 3
        static let crv = -1
        static let x = -2
        static let y = -3
        static let d = -4
        static let n = -1
        static let e = -2
    }

    enum Storage: Sendable {
        case p256(P256.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    /// The key's `alg` (label 3).
    public let algorithm: COSEAlgorithm
    let storage: Storage

    init(algorithm: COSEAlgorithm, storage: Storage) {
        self.algorithm = algorithm
        self.storage = storage
    }

    /// Reads a COSE_Key that fills `bytes` exactly (as `VerifiedRegistration.publicKey` stores it).
    ///
    /// - Throws: `.malformedCBOR` if the bytes are not one CBOR item, `.unsupportedKey` for any other refusal.
    public init(bytes: [UInt8]) throws(WebAuthnError) {
        try self.init(cbor: try CBOR.decode(bytes))
    }

    /// Reads a COSE_Key from its decoded CBOR map.
    ///
    /// - Throws: `.unsupportedKey`, with a detail that names the parameter at fault (a public key is not secret).
    public init(cbor: CBOR) throws(WebAuthnError) {
        guard let map = cbor.mapValue else { throw Self.refusal("a COSE_Key is a CBOR map") }
        guard let kty = map[label: Label.kty]?.intValue else {
            throw Self.refusal("kty (label 1) is missing or not an integer")
        }
        guard let alg = map[label: Label.alg]?.intValue else {
            throw Self.refusal("alg (label 3) is missing or not an integer (W3C WebAuthn L3 §6.5.1.1)")
        }
        let algorithm = COSEAlgorithm(rawValue: alg)
        self.algorithm = algorithm
        switch algorithm {
        case .es256:
            guard kty == 2 else { throw Self.refusal("ES256 needs kty 2 (EC2), not \(kty)") }
            guard map[label: Label.crv]?.intValue == 1 else { throw Self.refusal("ES256 needs crv 1 (P-256)") }
            guard map[label: Label.d] == nil else { throw Self.refusal("a public key must not carry d") }
            guard let x = map[label: Label.x]?.bytesValue, x.count == 32 else {
                throw Self.refusal("EC2 P-256 x must be a 32-byte string")
            }
            guard let y = map[label: Label.y]?.bytesValue, y.count == 32 else {
                throw Self.refusal(
                    "EC2 P-256 y must be a 32-byte string (uncompressed point, W3C WebAuthn L3 §6.5.1.1)")
            }
            do {
                storage = .p256(try P256.Signing.PublicKey(x963Representation: [0x04] + x + y))
            } catch {
                throw Self.refusal("x, y is not a point on P-256")
            }
        case .edDSA:
            guard kty == 1 else { throw Self.refusal("EdDSA needs kty 1 (OKP), not \(kty)") }
            guard map[label: Label.crv]?.intValue == 6 else {
                throw Self.refusal("EdDSA is supported with crv 6 (Ed25519) only")
            }
            guard map[label: Label.d] == nil else { throw Self.refusal("a public key must not carry d") }
            guard let x = map[label: Label.x]?.bytesValue, x.count == 32 else {
                throw Self.refusal("OKP Ed25519 x must be a 32-byte string")
            }
            do {
                storage = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: x))
            } catch {
                throw Self.refusal("x is not an Ed25519 public key")
            }
        case .rs256:
            guard kty == 3 else { throw Self.refusal("RS256 needs kty 3 (RSA), not \(kty)") }
            // RFC 8230 §4: -3 is d, -4 … -12 the other private parameters.
            guard map.entries.allSatisfy({ ($0.key.intValue ?? 0) > -3 || ($0.key.intValue ?? 0) < -12 }) else {
                throw Self.refusal("a public key must not carry RSA private parameters (labels -3 to -12)")
            }
            guard let n = map[label: Label.n]?.bytesValue, let e = map[label: Label.e]?.bytesValue, !e.isEmpty else {
                throw Self.refusal("RSA n and e must be byte strings")
            }
            let modulus = Array(n.drop(while: { $0 == 0 }))
            let bits = modulus.isEmpty ? 0 : modulus.count * 8 - modulus[0].leadingZeroBitCount
            guard bits >= 2048 else { throw Self.refusal("an RSA modulus of \(bits) bits; at least 2048 are required") }
            do {
                storage = .rsa(try _RSA.Signing.PublicKey(n: modulus, e: e))
            } catch {
                throw Self.refusal("n, e is not an RSA public key")
            }
        default:
            throw Self.refusal("algorithm \(algorithm) is not supported (ES256, EdDSA and RS256 are)")
        }
    }

    /// Whether `signature` is this key's signature over `message` with its algorithm: an ASN.1 DER ECDSA signature
    /// for ES256 (W3C WebAuthn L3 §6.5.5), 64 bytes for EdDSA, PKCS#1 v1.5 with SHA-256 for RS256.
    public func isValidSignature(_ signature: [UInt8], for message: [UInt8]) -> Bool {
        switch storage {
        case .p256(let key):
            guard let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return key.isValidSignature(ecdsa, for: message)
        case .ed25519(let key):
            return key.isValidSignature(signature, for: message)
        case .rsa(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
        }
    }

    static func refusal(_ detail: String) -> WebAuthnError {
        WebAuthnError(.unsupportedKey, "COSE_Key: \(detail)")
    }
}
