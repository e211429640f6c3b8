import Crypto
import Testing
import WebAuthn

@Suite("COSE keys: ES256, EdDSA, RS256 and refusals")
struct COSEKeyTests {
    @Test func es256KeyVerifiesADERSignatureOnly() throws {
        let key = P256.Signing.PrivateKey()
        let cose = try COSEKey(bytes: TestKey.p256(key).coseKey.encoded)
        #expect(cose.algorithm == .es256)
        let message: [UInt8] = Array("authData‖hash".utf8)
        let signature = try key.signature(for: message)
        #expect(cose.isValidSignature(Array(signature.derRepresentation), for: message))
        #expect(!cose.isValidSignature(Array(signature.rawRepresentation), for: message))  // r‖s is not DER
        #expect(!cose.isValidSignature(Array(signature.derRepresentation), for: message + [0]))
        #expect(!cose.isValidSignature([], for: message))
    }

    @Test func edDSAKeyVerifies() throws {
        let key = Curve25519.Signing.PrivateKey()
        let cose = try COSEKey(bytes: TestKey.ed25519(key).coseKey.encoded)
        #expect(cose.algorithm == .edDSA)
        let message: [UInt8] = [1, 2, 3]
        let signature = Array(try key.signature(for: message))
        #expect(cose.isValidSignature(signature, for: message))
        var flipped = signature
        flipped[10] ^= 1
        #expect(!cose.isValidSignature(flipped, for: message))
        #expect(!cose.isValidSignature(Array(signature.dropLast()), for: message))
    }

    /// The RSA key of the WebAuthn L3 test vectors (§16, packed.RS256): n = (2^1279 - 1)(2^2203 - 1), e = 65537.
    static let rsaModulus: [UInt8] = {
        // (2^1279 - 1)(2^2203 - 1) = 2^3482 - 2^2203 - 2^1279 + 1: bits 0, 1279…2202 and 2204…3481 set.
        var value = [UInt8](repeating: 0, count: 436)
        for bit in [0] + Array(1279...2202) + Array(2204...3481) { value[435 - bit / 8] |= 1 << (bit % 8) }
        return value
    }()

    static func rsaKey(modulus: [UInt8], alg: Int = -257) -> CBOR {
        .map([(.int(1), .int(3)), (.int(3), .int(alg)), (.int(-1), .bytes(modulus)), (.int(-2), .bytes([1, 0, 1]))])
    }

    @Test func rs256KeyReads() throws {
        #expect(Self.rsaModulus[0] == 0x03)  // 3482 bits
        let key = try COSEKey(cbor: Self.rsaKey(modulus: Self.rsaModulus))
        #expect(key.algorithm == .rs256)
    }

    @Test func rs256KeyUnder2048BitsIsRefused() {
        let modulus = [UInt8](repeating: 0xFF, count: 255)  // 2040 bits
        let error = refusal { () throws(WebAuthnError) in try COSEKey(cbor: Self.rsaKey(modulus: modulus)) }
        #expect(error?.code == .unsupportedKey)
        #expect(error?.detail.contains("2040 bits") == true)
    }

    struct BadKey: Sendable, CustomTestStringConvertible {
        var why: String
        var key: CBOR
        var testDescription: String { why }
    }

    static let point: (x: [UInt8], y: [UInt8]) = {
        let raw = Array(P256.Signing.PrivateKey().publicKey.x963Representation)
        return (Array(raw[1..<33]), Array(raw[33..<65]))
    }()

    static func ec2(_ pairs: [(CBOR, CBOR)]) -> CBOR { .map(pairs) }

    static let badKeys: [BadKey] = {
        let (x, y) = point
        let ed = Array(Curve25519.Signing.PrivateKey().publicKey.rawRepresentation)
        return [
            BadKey(why: "not a map", key: .array([.int(1)])),
            BadKey(
                why: "no kty",
                key: .map([(.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)), (.int(-3), .bytes(y))])),
            BadKey(
                why: "no alg",
                key: .map([(.int(1), .int(2)), (.int(-1), .int(1)), (.int(-2), .bytes(x)), (.int(-3), .bytes(y))])),
            BadKey(
                why: "ES384 (alg -35)",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-35)), (.int(-1), .int(2)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(y)),
                ])),
            BadKey(
                why: "ES256 on kty OKP",
                key: .map([
                    (.int(1), .int(1)), (.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(y)),
                ])),
            BadKey(
                why: "ES256 on P-384",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(2)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(y)),
                ])),
            BadKey(
                why: "compressed point",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)),
                    (.int(-3), .bool(true)),
                ])),
            BadKey(
                why: "x of 31 bytes",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(Array(x.dropFirst()))), (.int(-3), .bytes(y)),
                ])),
            BadKey(
                why: "point not on the curve",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(x)),
                ])),
            BadKey(
                why: "private d present",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(y)), (.int(-4), .bytes(x)),
                ])),
            BadKey(
                why: "EdDSA on Ed448 (crv 7)",
                key: .map([(.int(1), .int(1)), (.int(3), .int(-8)), (.int(-1), .int(7)), (.int(-2), .bytes(ed))])),
            BadKey(
                why: "EdDSA on kty EC2",
                key: .map([(.int(1), .int(2)), (.int(3), .int(-8)), (.int(-1), .int(6)), (.int(-2), .bytes(ed))])),
            BadKey(
                why: "Ed25519 x of 33 bytes",
                key: .map([
                    (.int(1), .int(1)), (.int(3), .int(-8)), (.int(-1), .int(6)), (.int(-2), .bytes(ed + [0])),
                ])),
            BadKey(
                why: "RS256 on kty EC2",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .int(-257)), (.int(-1), .bytes(COSEKeyTests.rsaModulus)),
                    (.int(-2), .bytes([1, 0, 1])),
                ])),
            BadKey(
                why: "RSA with private d",
                key: .map([
                    (.int(1), .int(3)), (.int(3), .int(-257)), (.int(-1), .bytes(COSEKeyTests.rsaModulus)),
                    (.int(-2), .bytes([1, 0, 1])), (.int(-3), .bytes([1])),
                ])),
            BadKey(
                why: "RSA without e",
                key: .map([(.int(1), .int(3)), (.int(3), .int(-257)), (.int(-1), .bytes(COSEKeyTests.rsaModulus))])),
            BadKey(why: "PS256 (alg -37)", key: rsaKey(modulus: COSEKeyTests.rsaModulus, alg: -37)),
            BadKey(
                why: "Ed25519 fully specified (alg -19)",
                key: .map([(.int(1), .int(1)), (.int(3), .int(-19)), (.int(-1), .int(6)), (.int(-2), .bytes(ed))])),
            BadKey(
                why: "alg as text",
                key: .map([
                    (.int(1), .int(2)), (.int(3), .text("ES256")), (.int(-1), .int(1)), (.int(-2), .bytes(x)),
                    (.int(-3), .bytes(y)),
                ])),
        ]
    }()

    @Test(arguments: badKeys)
    func refuses(_ bad: BadKey) {
        let error = refusal { () throws(WebAuthnError) in try COSEKey(cbor: bad.key) }
        #expect(error?.code == .unsupportedKey, "\(bad.why): \(String(describing: error))")
    }

    @Test func storedKeyBytesMustBeOneWholeItem() {
        let encoded = TestKey.p256(P256.Signing.PrivateKey()).coseKey.encoded
        #expect(refusal { () throws(WebAuthnError) in try COSEKey(bytes: encoded + [0]) }?.code == .malformedCBOR)
        #expect(
            refusal { () throws(WebAuthnError) in try COSEKey(bytes: Array(encoded.dropLast())) }?.code
                == .malformedCBOR)
    }
}
