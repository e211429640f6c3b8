import Crypto
import Foundation

/// The client data a browser collected for a ceremony (W3C WebAuthn L3 §5.8.1, `CollectedClientData`), read from
/// the exact `clientDataJSON` bytes it sent.
public struct CollectedClientData: Sendable, Hashable {
    /// `webauthn.create` or `webauthn.get` (or anything else the client wrote; the ceremony checks).
    public var type: String
    /// The challenge as the client wrote it: base64url text.
    public var challenge: String
    public var origin: String
    /// `crossOrigin`; absent reads as `false`.
    public var crossOrigin: Bool
    /// `topOrigin`, present only when the ceremony ran in a cross-origin iframe.
    public var topOrigin: String?
    /// Whether the JSON had a `topOrigin` member at all (even `null`).
    public var hasTopOrigin: Bool

    /// SHA-256 of the raw bytes (§7.1 step 12, §7.2 step 20): what the authenticator signed along with its data.
    public let hash: [UInt8]

    private struct JSON: Decodable {
        var type: String
        var challenge: String
        var origin: String
        var crossOrigin: Bool?
        var topOrigin: String?
        var hasTopOrigin: Bool

        enum CodingKeys: String, CodingKey {
            case type, challenge, origin, crossOrigin, topOrigin
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            type = try container.decode(String.self, forKey: .type)
            challenge = try container.decode(String.self, forKey: .challenge)
            origin = try container.decode(String.self, forKey: .origin)
            crossOrigin = try container.decodeIfPresent(Bool.self, forKey: .crossOrigin)
            hasTopOrigin = container.contains(.topOrigin)
            topOrigin = try container.decodeIfPresent(String.self, forKey: .topOrigin)
        }
    }

    /// Parses `clientDataJSON` (§7.1 steps 5–6, §7.2 steps 8–9): UTF-8 JSON, an object with string `type`,
    /// `challenge` and `origin`; `crossOrigin`, if present, a boolean; `topOrigin`, if present, a string. Other
    /// members are ignored (clients may add some, §5.8.1.2).
    ///
    /// - Throws: `.malformedClientData`.
    public init(json bytes: [UInt8]) throws(WebAuthnError) {
        let parsed: JSON
        do {
            parsed = try JSONDecoder().decode(JSON.self, from: Data(bytes))
        } catch {
            throw WebAuthnError(
                .malformedClientData,
                "clientDataJSON is not a JSON object with string type, challenge and origin, boolean crossOrigin"
                    + " and string topOrigin if present")
        }
        type = parsed.type
        challenge = parsed.challenge
        origin = parsed.origin
        crossOrigin = parsed.crossOrigin ?? false
        topOrigin = parsed.topOrigin
        hasTopOrigin = parsed.hasTopOrigin
        hash = Array(SHA256.hash(data: bytes))
    }

    /// Checks the client data as §7.1 steps 7–11 and §7.2 steps 10–14 ask, for a relying party that never runs a
    /// ceremony inside an iframe: the type, the challenge (constant time), the origin exactly, no `crossOrigin`
    /// true and no `topOrigin`.
    ///
    /// - Parameters:
    ///   - type: `webauthn.create` or `webauthn.get`.
    ///   - challenge: the raw challenge issued for this ceremony.
    ///   - relyingParty: whose origins are allowed.
    ///   - steps: the step numbers of the ceremony, for the error details.
    func check(
        type expectedType: String, challenge expected: [UInt8], relyingParty: RelyingParty,
        steps: ClientDataSteps
    ) throws(WebAuthnError) {
        guard type == expectedType else {
            throw WebAuthnError(.wrongType, "\(steps.type): type is not \"\(expectedType)\"")
        }
        guard let challenge = Base64URL.decode(challenge),
            constantTimeEquals(challenge, expected)
        else {
            throw WebAuthnError(
                .challengeMismatch, "\(steps.challenge): challenge is not the one issued for this ceremony")
        }
        guard relyingParty.origins.contains(origin) else {
            throw WebAuthnError(
                .originNotAllowed, "\(steps.origin): origin \(quoted(origin)) is not one of the relying party's")
        }
        guard !crossOrigin else {
            throw WebAuthnError(
                .crossOrigin, "\(steps.crossOrigin): crossOrigin is true; no ceremony runs in a cross-origin iframe")
        }
        guard !hasTopOrigin else {
            throw WebAuthnError(.crossOrigin, "\(steps.topOrigin): topOrigin is present; no ceremony runs in an iframe")
        }
    }
}

/// The step numbers of the client-data checks in one ceremony.
struct ClientDataSteps {
    var type: String
    var challenge: String
    var origin: String
    var crossOrigin: String
    var topOrigin: String

    /// §7.1 steps 7–11.
    static let registration = ClientDataSteps(
        type: "§7.1 step 7", challenge: "§7.1 step 8", origin: "§7.1 step 9", crossOrigin: "§7.1 step 10",
        topOrigin: "§7.1 step 11")
    /// §7.2 steps 10–14.
    static let authentication = ClientDataSteps(
        type: "§7.2 step 10", challenge: "§7.2 step 11", origin: "§7.2 step 12", crossOrigin: "§7.2 step 13",
        topOrigin: "§7.2 step 14")
}

/// Equal bytes, in time that depends on the lengths only (lengths are not secret; the contents are compared whole).
func constantTimeEquals(_ left: [UInt8], _ right: [UInt8]) -> Bool {
    guard left.count == right.count else { return false }
    var difference: UInt8 = 0
    for index in left.indices { difference |= left[index] ^ right[index] }
    return difference == 0
}

/// A client-supplied string for an error detail: quoted, cut at 64 characters, control characters escaped.
func quoted(_ text: String) -> String {
    let cut = text.count > 64 ? String(text.prefix(64)) + "…" : text
    return "\""
        + cut.unicodeScalars.map { $0.value < 0x20 || $0 == "\"" ? $0.escaped(asASCII: true) : String($0) }.joined()
        + "\""
}
