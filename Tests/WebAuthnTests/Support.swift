import Crypto
import Foundation
import Testing
import WebAuthn

// Test-only helpers: hex, a CBOR encoder, and a software authenticator that builds registration and authentication
// responses with swift-crypto keys, so each test can break exactly one thing.

/// Bytes from hex text (spaces allowed), for test data.
func bytes(hex: String) -> [UInt8] {
    let digits = Array(hex.utf8.filter { $0 != 0x20 && $0 != 0x0A })
    precondition(digits.count % 2 == 0, "odd hex")
    return stride(from: 0, to: digits.count, by: 2).map {
        UInt8(String(decoding: digits[$0...$0 + 1], as: UTF8.self), radix: 16)!
    }
}

func hex(_ bytes: [UInt8]) -> String { bytes.map { String(format: "%02x", $0) }.joined() }

extension CBOR {
    /// Preferred serialization (RFC 8949 §4.1) of definite-length items; map pairs in the order given.
    var encoded: [UInt8] {
        switch self {
        case .unsigned(let value): return Self.head(0, value)
        case .negative(let value): return Self.head(1, value)
        case .bytes(let bytes): return Self.head(2, UInt64(bytes.count)) + bytes
        case .text(let text): return Self.head(3, UInt64(text.utf8.count)) + Array(text.utf8)
        case .array(let items): return Self.head(4, UInt64(items.count)) + items.flatMap(\.encoded)
        case .map(let map):
            return Self.head(5, UInt64(map.count)) + map.entries.flatMap { $0.key.encoded + $0.value.encoded }
        case .bool(let value): return [value ? 0xF5 : 0xF4]
        case .null: return [0xF6]
        case .undefined: return [0xF7]
        case .float(let value):
            let bits = value.bitPattern
            return [0xFB] + (0..<8).map { UInt8(truncatingIfNeeded: bits >> (56 - 8 * $0)) }
        }
    }

    static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        let type = major << 5
        switch value {
        case 0..<24: return [type | UInt8(value)]
        case 24...0xFF: return [type | 24, UInt8(value)]
        case 0x100...0xFFFF: return [type | 25] + (0..<2).map { UInt8(truncatingIfNeeded: value >> (8 - 8 * $0)) }
        case 0x1_0000...0xFFFF_FFFF:
            return [type | 26] + (0..<4).map { UInt8(truncatingIfNeeded: value >> (24 - 8 * $0)) }
        default: return [type | 27] + (0..<8).map { UInt8(truncatingIfNeeded: value >> (56 - 8 * $0)) }
        }
    }

    /// A map from pairs, in this order.
    static func map(_ pairs: [(CBOR, CBOR)]) -> CBOR {
        .map(CBORMap(pairs.map { CBORMap.Entry(key: $0.0, value: $0.1) }))
    }
}

/// A credential private key of one of the kinds tests sign with (RSA comes from the spec's and py_webauthn's cases).
enum TestKey: CustomTestStringConvertible {
    case p256(P256.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)

    var testDescription: String { "\(algorithm) key" }

    /// The COSE_Key of the public key, in CTAP2 canonical order.
    var coseKey: CBOR {
        switch self {
        case .p256(let key):
            let point = Array(key.publicKey.x963Representation)
            return .map([
                (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                (.int(-2), .bytes(Array(point[1..<33]))), (.int(-3), .bytes(Array(point[33..<65]))),
            ])
        case .ed25519(let key):
            return .map([
                (.int(1), .int(1)), (.int(3), .int(-8)), (.int(-1), .int(6)),
                (.int(-2), .bytes(Array(key.publicKey.rawRepresentation))),
            ])
        }
    }

    var algorithm: COSEAlgorithm {
        switch self {
        case .p256: .es256
        case .ed25519: .edDSA
        }
    }

    func sign(_ message: [UInt8]) -> [UInt8] {
        switch self {
        case .p256(let key): Array(try! key.signature(for: message).derRepresentation)
        case .ed25519(let key): Array(try! key.signature(for: message))
        }
    }
}

/// The relying party every built ceremony expects unless a test changes it.
let testRelyingParty = RelyingParty(id: "localhost", origins: ["http://localhost:8080", "https://ib.bank.example"])

/// A software authenticator and browser in one: builds the bytes of a ceremony from parts a test may break.
struct Ceremony {
    var key: TestKey = .p256(P256.Signing.PrivateKey())
    var credentialID: [UInt8] = Array(repeating: 0xC1, count: 32)
    var aaguid: [UInt8] = Array(repeating: 0xAA, count: 16)
    var rpID = "localhost"
    var challenge: [UInt8] = (0..<32).map { UInt8($0) }
    var origin = "http://localhost:8080"
    var type: String? = nil
    /// JSON members appended after crossOrigin, e.g. `,"topOrigin":"https://x.example"`.
    var clientDataExtra = ""
    var crossOrigin = false
    /// UP | UV by default; AT is added for registration.
    var flags: UInt8 = 0x05
    var signCount: UInt32 = 0
    var extensions: CBOR? = nil
    /// The credential public key as encoded in authData; the key's own COSE_Key unless a test replaces it.
    var coseKeyBytes: [UInt8]? = nil

    func clientDataJSON(_ defaultType: String) -> [UInt8] {
        let json =
            "{\"type\":\"\(type ?? defaultType)\",\"challenge\":\"\(Base64URL.encode(challenge))\","
            + "\"origin\":\"\(origin)\",\"crossOrigin\":\(crossOrigin)\(clientDataExtra)}"
        return Array(json.utf8)
    }

    func authenticatorData(attested: Bool) -> [UInt8] {
        var flags = flags
        var data = Array(SHA256.hash(data: Array(rpID.utf8)))
        if attested { flags |= 0x40 }
        if extensions != nil { flags |= 0x80 }
        data.append(flags)
        data += withUnsafeBytes(of: signCount.bigEndian, Array.init)
        if attested {
            data += aaguid
            data += [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)]
            data += credentialID
            data += coseKeyBytes ?? key.coseKey.encoded
        }
        if let extensions { data += extensions.encoded }
        return data
    }

    /// An attestation object of `format` whose statement `statement` makes from authData and the client data hash.
    func registration(
        format: String = "none",
        statement: (_ authData: [UInt8], _ clientDataHash: [UInt8]) -> CBOR = { _, _ in .map([]) },
        authenticatorData: [UInt8]? = nil
    ) -> RegistrationResponse {
        let clientData = clientDataJSON("webauthn.create")
        let authData = authenticatorData ?? self.authenticatorData(attested: true)
        let attestation = CBOR.map([
            (.text("fmt"), .text(format)),
            (.text("attStmt"), statement(authData, Array(SHA256.hash(data: clientData)))),
            (.text("authData"), .bytes(authData)),
        ])
        return RegistrationResponse(
            credentialID: credentialID, clientDataJSON: clientData, attestationObject: attestation.encoded)
    }

    /// A packed self attestation signed with the credential key (alg the key's unless a test says otherwise).
    func packedSelf(alg: COSEAlgorithm? = nil) -> RegistrationResponse {
        registration(format: "packed") { authData, hash in
            .map([
                (.text("alg"), .int((alg ?? key.algorithm).rawValue)),
                (.text("sig"), .bytes(key.sign(authData + hash))),
            ])
        }
    }

    func registrationExpectation(_ change: (inout RegistrationExpectation) -> Void = { _ in })
        -> RegistrationExpectation
    {
        var expectation = RegistrationExpectation(challenge: challenge, relyingParty: testRelyingParty)
        change(&expectation)
        return expectation
    }

    /// An assertion signed by the credential key over authData ‖ SHA-256(clientDataJSON).
    func authentication(authenticatorData: [UInt8]? = nil, signature: [UInt8]? = nil) -> AuthenticationResponse {
        let clientData = clientDataJSON("webauthn.get")
        let authData = authenticatorData ?? self.authenticatorData(attested: false)
        return AuthenticationResponse(
            credentialID: credentialID, clientDataJSON: clientData, authenticatorData: authData,
            signature: signature ?? key.sign(authData + Array(SHA256.hash(data: clientData))), userHandle: nil)
    }

    func authenticationExpectation(
        storedSignCount: UInt32 = 0, _ change: (inout AuthenticationExpectation) -> Void = { _ in }
    )
        -> AuthenticationExpectation
    {
        var expectation = AuthenticationExpectation(
            challenge: challenge, relyingParty: testRelyingParty, credentialPublicKey: key.coseKey.encoded,
            storedSignCount: storedSignCount)
        change(&expectation)
        return expectation
    }
}

/// The code a throwing call refused with, or nil if it did not throw.
func refusal<T>(_ body: () throws(WebAuthnError) -> T) -> WebAuthnError? {
    do {
        _ = try body()
        return nil
    } catch {
        return error
    }
}
