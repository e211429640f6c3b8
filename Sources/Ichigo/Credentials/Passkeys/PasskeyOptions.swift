import Foundation
import WebAuthn

/// `PublicKeyCredentialCreationOptionsJSON` (WebAuthn L3 §5.4, JSON form): what the page hands to
/// `navigator.credentials.create()`, binary fields in base64url.
public struct PasskeyCreationOptions: Sendable, Codable, Hashable {
    public struct RP: Sendable, Codable, Hashable {
        public var id: String
        public var name: String
    }
    public struct UserEntity: Sendable, Codable, Hashable {
        public var id: String
        public var name: String
        public var displayName: String
    }
    public struct Parameter: Sendable, Codable, Hashable {
        public var type = "public-key"
        public var alg: Int
    }
    public struct Descriptor: Sendable, Codable, Hashable {
        public var type = "public-key"
        public var id: String
        public var transports: [String]?
    }
    public struct Selection: Sendable, Codable, Hashable {
        public var residentKey = "required"
        public var requireResidentKey = true
        public var userVerification = "required"
    }

    public var challenge: String
    public var rp: RP
    public var user: UserEntity
    public var pubKeyCredParams: [Parameter]
    /// Milliseconds.
    public var timeout: Int
    public var excludeCredentials: [Descriptor]
    public var authenticatorSelection: Selection
    public var attestation: String
}

/// `PublicKeyCredentialRequestOptionsJSON` (WebAuthn L3 §5.5, JSON form), for `navigator.credentials.get()`.
public struct PasskeyRequestOptions: Sendable, Codable, Hashable {
    public var challenge: String
    public var rpId: String
    /// Milliseconds.
    public var timeout: Int
    /// Empty for a login (discoverable credentials: the authenticator offers the bank's passkeys); the user's own for
    /// an approval.
    public var allowCredentials: [PasskeyCreationOptions.Descriptor]
    public var userVerification = "required"
}

/// What the browser posts back from `create()` (`RegistrationResponseJSON`, L3 §5.1), binary fields in base64url.
public struct PasskeyRegistrationJSON: Sendable, Codable, Hashable {
    public struct Response: Sendable, Codable, Hashable {
        public var clientDataJSON: String
        public var attestationObject: String
        public var transports: [String]?
        public init(clientDataJSON: String, attestationObject: String, transports: [String]?) {
            self.clientDataJSON = clientDataJSON
            self.attestationObject = attestationObject
            self.transports = transports
        }
    }
    public var id: String
    public var rawId: String
    public var type: String
    public var response: Response

    public init(id: String, rawId: String, type: String, response: Response) {
        self.id = id
        self.rawId = rawId
        self.type = type
        self.response = response
    }

    /// The verifier's input; `nil` if a field is not base64url or the type is not `public-key`.
    public var decoded: RegistrationResponse? {
        guard type == "public-key", id == rawId, let credentialID = Base64URL.decode(rawId),
            let clientData = Base64URL.decode(response.clientDataJSON),
            let attestation = Base64URL.decode(response.attestationObject)
        else { return nil }
        return RegistrationResponse(
            credentialID: credentialID, clientDataJSON: clientData, attestationObject: attestation,
            transports: (response.transports ?? []).filter { $0.count <= 32 }.prefix(8).map { $0 })
    }
}

/// What the browser posts back from `get()` (`AuthenticationResponseJSON`, L3 §5.1), binary fields in base64url.
public struct PasskeyAssertionJSON: Sendable, Codable, Hashable {
    public struct Response: Sendable, Codable, Hashable {
        public var clientDataJSON: String
        public var authenticatorData: String
        public var signature: String
        public var userHandle: String?
        public init(clientDataJSON: String, authenticatorData: String, signature: String, userHandle: String?) {
            self.clientDataJSON = clientDataJSON
            self.authenticatorData = authenticatorData
            self.signature = signature
            self.userHandle = userHandle
        }
    }
    public var id: String
    public var rawId: String
    public var type: String
    public var response: Response

    public init(id: String, rawId: String, type: String, response: Response) {
        self.id = id
        self.rawId = rawId
        self.type = type
        self.response = response
    }

    /// The verifier's input; `nil` if a field is not base64url or the type is not `public-key`.
    public var decoded: AuthenticationResponse? {
        guard type == "public-key", id == rawId, let credentialID = Base64URL.decode(rawId),
            let clientData = Base64URL.decode(response.clientDataJSON),
            let authenticatorData = Base64URL.decode(response.authenticatorData),
            let signature = Base64URL.decode(response.signature)
        else { return nil }
        var userHandle: [UInt8]? = nil
        if let text = response.userHandle, !text.isEmpty {
            guard let bytes = Base64URL.decode(text) else { return nil }
            userHandle = bytes
        }
        return AuthenticationResponse(
            credentialID: credentialID, clientDataJSON: clientData, authenticatorData: authenticatorData,
            signature: signature, userHandle: userHandle)
    }
}

/// Names of authenticator models by AAGUID, for the passkey list (the community list of passkey providers'
/// AAGUIDs; an unknown model shows no name).
public enum AuthenticatorNames {
    static let table: [String: String] = [
        "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4": "Google Password Manager",
        "adce0002-35bc-c60a-648b-0b25f1f05503": "Chrome on Mac",
        "08987058-cadc-4b81-b6e1-30de50dcbe96": "Windows Hello",
        "9ddd1817-af5a-4672-a2b9-3e3dd95000a9": "Windows Hello",
        "6028b017-b1d4-4c02-b4b3-afcdafc96bb2": "Windows Hello",
        "fbfc3007-154e-4ecc-8c0b-6e020557d7bd": "iCloud Keychain",
        "dd4ec289-e01d-41c9-bb89-70fa845d4bf2": "iCloud Keychain (Managed)",
        "bada5566-a7aa-401f-bd96-45619a55120d": "1Password",
        "d548826e-79b4-db40-a3d8-11116f7e8349": "Bitwarden",
        "53414d53-554e-4700-0000-000000000000": "Samsung Pass",
        "cb69481e-8ff7-4039-93ec-0a2729a154a8": "YubiKey 5 Series",
        "ee882879-721c-4913-9775-3dfcce97072a": "YubiKey 5 Series",
        "fa2b99dc-9e39-4257-8f92-4a30d23c4118": "YubiKey 5 Series with NFC",
        "2fc0579f-8113-47ea-b116-bb5a8db9202a": "YubiKey 5 Series with NFC",
        "531126d6-e717-415c-9320-3d9aa6981239": "Dashlane",
        "b84e4048-15dc-4dd0-8640-f4f60813c8af": "NordPass",
        "0ea242b4-43c4-4a1b-8b17-dd6d0b6baec6": "Keeper",
    ]

    /// The model's name, or `nil` when the AAGUID is unknown or all zero.
    public static func name(of aaguid: String) -> String? { table[aaguid.lowercased()] }
}
