import Crypto
import Foundation
import Ichigo
import WebAuthn

/// A software passkey authenticator for tests (ES256, attestation `none`, a resident credential per RP): it answers
/// the options Ichigo's pages and API hand out as a browser and platform authenticator would, so the screens and
/// services can be driven in-process. Python's `fido2` and Chromium's virtual authenticator are the independent peers
/// (e2e/); this one writes its CBOR by hand (RFC 8949, definite lengths) and knows nothing of the verifier's code.
public final class SoftPasskeyAuthenticator: @unchecked Sendable {
    public let key = P256.Signing.PrivateKey()
    public let credentialID: [UInt8]
    public var signCount: UInt32 = 0
    /// The origin the "browser" reports in client data.
    public var origin: String
    public var rpID: String
    public var userHandle: [UInt8]?
    /// Flags to send: UP, UV, BE, BS.
    public var flags: UInt8 = 0x01 | 0x04 | 0x08 | 0x10

    public init(origin: String = "http://localhost:8080", rpID: String = "localhost") {
        self.origin = origin
        self.rpID = rpID
        credentialID = Array((0..<16).map { _ in UInt8.random(in: 0...255) })
    }

    // MARK: CBOR (enough for a COSE key and an attestation object)

    static func head(_ major: UInt8, _ value: UInt64) -> [UInt8] {
        switch value {
        case 0..<24: [major << 5 | UInt8(value)]
        case 24..<256: [major << 5 | 24, UInt8(value)]
        case 256..<65536: [major << 5 | 25, UInt8(value >> 8), UInt8(value & 0xff)]
        default: [major << 5 | 26] + (0..<4).reversed().map { UInt8((value >> (UInt64($0) * 8)) & 0xff) }
        }
    }
    static func int(_ value: Int) -> [UInt8] { value >= 0 ? head(0, UInt64(value)) : head(1, UInt64(-1 - value)) }
    static func bytes(_ value: [UInt8]) -> [UInt8] { head(2, UInt64(value.count)) + value }
    static func text(_ value: String) -> [UInt8] { head(3, UInt64(value.utf8.count)) + Array(value.utf8) }
    static func map(_ pairs: [([UInt8], [UInt8])]) -> [UInt8] {
        head(5, UInt64(pairs.count)) + pairs.flatMap { $0.0 + $0.1 }
    }

    /// The credential public key as a COSE_Key (EC2, P-256, ES256).
    public var coseKey: [UInt8] {
        let raw = Array(key.publicKey.x963Representation)  // 04 || x || y
        return Self.map([
            (Self.int(1), Self.int(2)), (Self.int(3), Self.int(-7)), (Self.int(-1), Self.int(1)),
            (Self.int(-2), Self.bytes(Array(raw[1..<33]))), (Self.int(-3), Self.bytes(Array(raw[33..<65]))),
        ])
    }

    func authenticatorData(attested: Bool) -> [UInt8] {
        var data = Array(SHA256.hash(data: Array(rpID.utf8)))
        data.append(flags | (attested ? 0x40 : 0))
        data += withUnsafeBytes(of: signCount.bigEndian) { Array($0) }
        if attested {
            data += [UInt8](repeating: 0, count: 16)
            data += [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xff)] + credentialID
            data += coseKey
        }
        return data
    }

    func clientData(_ type: String, challenge: String, crossOrigin: Bool = false) -> [UInt8] {
        Array(#"{"type":"\#(type)","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":\#(crossOrigin)}"#.utf8)
    }

    /// `navigator.credentials.create()` for `options`.
    public func register(_ options: PasskeyCreationOptions) -> PasskeyRegistrationJSON {
        userHandle = Base64URL.decode(options.user.id)
        let attestation = Self.map([
            (Self.text("fmt"), Self.text("none")), (Self.text("attStmt"), Self.map([])),
            (Self.text("authData"), Self.bytes(authenticatorData(attested: true))),
        ])
        let id = Base64URL.encode(credentialID)
        return PasskeyRegistrationJSON(
            id: id, rawId: id, type: "public-key",
            response: .init(
                clientDataJSON: Base64URL.encode(clientData("webauthn.create", challenge: options.challenge)),
                attestationObject: Base64URL.encode(attestation), transports: ["internal"]))
    }

    /// `navigator.credentials.get()` for `options` (the counter goes up by one first).
    public func assert(_ options: PasskeyRequestOptions, challenge: String? = nil) -> PasskeyAssertionJSON {
        signCount += 1
        let authData = authenticatorData(attested: false)
        let client = clientData("webauthn.get", challenge: challenge ?? options.challenge)
        let signed = authData + Array(SHA256.hash(data: client))
        let signature = (try? key.signature(for: signed).derRepresentation).map(Array.init) ?? []
        let id = Base64URL.encode(credentialID)
        return PasskeyAssertionJSON(
            id: id, rawId: id, type: "public-key",
            response: .init(
                clientDataJSON: Base64URL.encode(client), authenticatorData: Base64URL.encode(authData),
                signature: Base64URL.encode(signature), userHandle: userHandle.map(Base64URL.encode)))
    }
}
