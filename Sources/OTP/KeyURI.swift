import Foundation

/// An `otpauth://totp/...` Key URI, the format standard authenticator apps read from a QR code.
///
/// See Google Authenticator's "Key Uri Format". The secret is base32 without padding.
public struct KeyURI: Sendable, Equatable {
    /// Who issued the token, e.g. the bank's name.
    public var issuer: String
    /// The account label, e.g. the user's login ID.
    public var account: String
    /// The shared secret.
    public var seed: Seed
    /// Algorithm, digits and period.
    public var parameters: TOTPParameters

    public init(issuer: String, account: String, seed: Seed, parameters: TOTPParameters = .ichigoDefault) {
        self.issuer = issuer
        self.account = account
        self.seed = seed
        self.parameters = parameters
    }

    /// Characters allowed unescaped in a path segment or query value of the URI.
    private static let unreserved = CharacterSet(
        charactersIn:
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    private static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: unreserved) ?? text
    }

    /// The URI text. It contains the secret: show it once, never log it.
    public var uri: String {
        let label = "\(Self.escape(issuer)):\(Self.escape(account))"
        return "otpauth://totp/\(label)?secret=\(seed.base32)&issuer=\(Self.escape(issuer))"
            + "&algorithm=\(parameters.algorithm.rawValue)&digits=\(parameters.digits)&period=\(parameters.period)"
    }

    /// Parses an `otpauth://totp/` URI.
    /// - Returns: `nil` if it is not a TOTP Key URI with a valid base32 secret.
    public init?(parsing text: String) {
        guard let components = URLComponents(string: text), components.scheme == "otpauth",
            components.host == "totp"
        else { return nil }
        let label = String(components.path.dropFirst())  // already percent-decoded
        var query: [String: String] = [:]
        for item in components.queryItems ?? [] { query[item.name.lowercased()] = item.value ?? "" }
        guard let secret = query["secret"], let bytes = Base32.decode(secret), !bytes.isEmpty else { return nil }
        var parameters = TOTPParameters.ichigoDefault
        parameters.period = 30  // the Key URI format's default when `period` is absent
        if let name = query["algorithm"] {
            guard let algorithm = OTPAlgorithm(name: name) else { return nil }
            parameters.algorithm = algorithm
        } else {
            parameters.algorithm = .sha1
        }
        if let digits = query["digits"] {
            guard let value = Int(digits), OTPCode.allowedLengths.contains(value) else { return nil }
            parameters.digits = value
        } else {
            parameters.digits = 6
        }
        if let period = query["period"] {
            guard let value = Int(period), value > 0 else { return nil }
            parameters.period = value
        }
        let labelIssuer: String?
        let account: String
        if let colon = label.firstIndex(of: ":") {
            labelIssuer = String(label[..<colon])
            account = String(label[label.index(after: colon)...]).trimmingCharacters(in: .whitespaces)
        } else {
            labelIssuer = nil
            account = label
        }
        self.init(
            issuer: query["issuer"] ?? labelIssuer ?? "", account: account,
            seed: Seed(bytes: bytes), parameters: parameters)
    }
}
