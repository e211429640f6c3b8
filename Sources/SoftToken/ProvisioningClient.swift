import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NIOSSL
import OTP

/// What the server returned at setup.
public struct Provisioned: Sendable {
    public var serial: String
    public var seed: Seed
    public var parameters: TOTPParameters
    public var issuer: String
    /// The OCRA suite for transaction signing (`ocraSuite` in the answer), when the bank gives one.
    public var ocraSuite: OCRASuite?
    /// An `ocraSuite` the answer carried that is not a valid OCRA suite: the token is still set up (its seed is
    /// delivered once), without transaction signing, and the customer is told.
    public var refusedOCRASuite: OCRAError?

    /// Reads the server's answer (`POST /app/v1/provision`, status 200).
    /// - Throws: `SetupError` `.server(200, …)` for an answer without a usable serial, secret or TOTP parameters.
    public init(answer data: Data) throws(SetupError) {
        guard let body = try? JSONDecoder().decode(ProvisioningAnswer.self, from: data), let bytes = Base32.decode(body.secret),
            !bytes.isEmpty, let algorithm = OTPAlgorithm(name: body.algorithm)
        else { throw SetupError(kind: .server(200, "malformed provisioning answer")) }
        self.serial = body.serial
        self.seed = Seed(bytes: bytes)
        self.parameters = TOTPParameters(algorithm: algorithm, digits: body.digits, period: body.period)
        self.issuer = body.issuer
        if let text = body.ocraSuite {
            do {
                self.ocraSuite = try OCRASuite(text)
            } catch {
                self.refusedOCRASuite = error
            }
        }
    }
}

/// Why a setup failed, in words for the customer.
public struct SetupError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        case wrongActivationPassword(triesLeft: Int?)
        case notFound
        case expired
        case void
        case consentRequired
        case unreachable(String)
        case tls(String)
        case server(Int, String)
    }
    public let kind: Kind
    public init(kind: Kind) { self.kind = kind }

    public func message(japanese: Bool) -> String {
        switch kind {
        case .wrongActivationPassword(let left):
            let tail = left.map { japanese ? "（あと\($0)回誤るとトークンは無効になります）" : " (\($0) tries left before the token is void)" } ?? ""
            return (japanese ? "利用開始パスワードが正しくありません。" : "The activation password is not correct.") + tail
        case .notFound:
            return japanese
                ? "サービスIDまたはユーザIDが正しくないか、既に初期設定済みです。"
                : "The service ID or user ID is not correct, or this token is already set up."
        case .expired:
            return japanese
                ? "初期設定の有効期限が切れました。インターネットバンキングで再度トークン発行を行ってください。"
                : "The set-up period has expired. Please issue a token again in internet banking."
        case .void:
            return japanese
                ? "利用開始パスワードの誤入力が規定回数を超えたため、トークンは無効になりました。再度トークン発行を行ってください。"
                : "Too many wrong activation passwords: the token is void. Please issue a token again."
        case .consentRequired:
            return japanese ? "「上記の内容に同意する」が必要です。" : "You must agree to the terms."
        case .unreachable(let detail):
            return (japanese ? "サーバーに接続できません: " : "Cannot reach the server: ") + detail
        case .tls(let detail):
            return (japanese ? "サーバーとの安全な接続（TLS）を確立できません: " : "Cannot establish a secure (TLS) connection: ")
                + detail
        case .server(let status, let message):
            return (japanese ? "サーバーエラー" : "Server error") + " (\(status)): \(message)"
        }
    }
}

/// Calls the bank's provisioning endpoint (`POST /app/v1/provision`) once.
public struct ProvisioningClient: Sendable {
    public let server: String
    public let caFile: String?

    public init(server: String, caFile: String? = nil) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.caFile = caFile
    }

    struct RequestBody: Encodable {
        var serviceId: String
        var userId: String
        var activationPassword: String
        var consent: Bool
    }

    struct ErrorBody: Decodable {
        struct Detail: Decodable {
            var code: String
            var message: String
            var triesLeft: Int?
        }
        var error: Detail
    }

    public func provision(serviceID: String, userID: String, activationPassword: String, consent: Bool) async throws
        -> Provisioned
    {
        var request = HTTPClientRequest(url: server + "/app/v1/provision")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.body = .bytes(
            ByteBuffer(data: try JSONEncoder().encode(
                RequestBody(serviceId: serviceID, userId: userID, activationPassword: activationPassword, consent: consent))))
        if let caFile {
            var tls = TLSConfiguration.makeClientConfiguration()
            tls.trustRoots = .file(caFile)
            request.tlsConfiguration = tls
        }
        // A refused or failed connection is reported at once, not retried until the deadline.
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .seconds(10), read: .seconds(20))
        configuration.connectionPool.retryConnectionEstablishment = false
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        defer { client.shutdown { _ in } }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(30))
        } catch {
            let text = String(describing: error)
            if error is NIOSSLError || text.contains("SSL") || text.contains("certificate") || text.contains("handshake") {
                throw SetupError(kind: .tls(text))
            }
            throw SetupError(kind: .unreachable(text))
        }
        let body = try await response.body.collect(upTo: 64 * 1024)
        let data = Data(buffer: body)
        guard response.status == .ok else {
            let detail = try? JSONDecoder().decode(ErrorBody.self, from: data)
            switch detail?.error.code {
            case "provision.activation_password_wrong":
                throw SetupError(kind: .wrongActivationPassword(triesLeft: detail?.error.triesLeft))
            case "provision.not_found": throw SetupError(kind: .notFound)
            case "provision.expired": throw SetupError(kind: .expired)
            case "provision.void": throw SetupError(kind: .void)
            case "provision.consent_required": throw SetupError(kind: .consentRequired)
            default:
                throw SetupError(kind: .server(Int(response.status.code), detail?.error.message ?? String(buffer: body)))
            }
        }
        return try Provisioned(answer: data)
    }
}
