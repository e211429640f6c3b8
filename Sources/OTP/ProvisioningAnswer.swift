/// The answer to a software token's setup (`POST /app/v1/provision`): what the server sends once and the app
/// reads. One definition for both ends (the server's `AppProvisioningController`, the app's `Provisioned`).
public struct ProvisioningAnswer: Codable, Sendable, Hashable {
    /// The token's serial (`SKTS…`).
    public var serial: String
    /// The seed in base32 (RFC 4648, no padding).
    public var secret: String
    /// `SHA1`, `SHA256` or `SHA512`.
    public var algorithm: String
    public var digits: Int
    public var period: Int
    /// The bank's name, shown by the app.
    public var issuer: String
    /// The same token as an `otpauth://` Key URI (for the bank's records; the app does not need it).
    public var otpauthUri: String?
    /// The OCRA suite for transaction signing (取引認証), when the token has one.
    public var ocraSuite: String?

    public init(
        serial: String, secret: String, algorithm: String, digits: Int, period: Int, issuer: String,
        otpauthUri: String?, ocraSuite: String?
    ) {
        self.serial = serial
        self.secret = secret
        self.algorithm = algorithm
        self.digits = digits
        self.period = period
        self.issuer = issuer
        self.otpauthUri = otpauthUri
        self.ocraSuite = ocraSuite
    }
}
