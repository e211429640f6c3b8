import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ichigo
import IchigoSQLite
import IchigoTesting
import IchigoWeb
import Logging
import NIOCore
import OTP
import Prometheus
import Testing

/// An Ichigo app on a fresh SQLite database with a fixed clock, for in-process HTTP tests.
struct APIHarness {
    let services: IchigoServices
    let repository: SQLiteRepository
    let clock: FixedClock
    let directory: URL
    let masterKey: MasterKey
    /// What `/metrics` shows: what this app's services counted.
    let metrics = PrometheusCollectorRegistry()
    var chain: AuditChain { AuditChain(masterKey: masterKey) }
    static let apiKey = "test-api-key-0123456789"

    init(policy: OTPPolicy = .standard, secureCookies: Bool = false, signing: TransferSigningPolicy = .off) throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-web-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let key = MasterKey.random()
        masterKey = key
        repository = try SQLiteRepository(
            path: directory.appendingPathComponent("db.sqlite").path, chain: AuditChain(masterKey: key))
        clock = FixedClock(ContractFixture.start)
        var services = IchigoServices(
            repository: repository, keyring: Keyring(key), policy: policy, hasher: .forTesting, clock: clock,
            apiKey: Self.apiKey, bankName: "いちご銀行", secureCookies: secureCookies, logger: Logger(label: "test"),
            metrics: IchigoMetrics(factory: PrometheusMetricsFactory(registry: metrics)), signingPolicy: signing)
        // These tests run in parallel on a busy machine: a slow answer must not turn into a 503 (or `/ready` into a
        // timeout). The deadlines themselves are tested by DeadlineTests and e2e/test_fail_fast.py.
        services.deadlines = RequestDeadlines(standard: .seconds(120), ready: .seconds(60))
        self.services = services
    }

    /// Runs `body` against the app in-process, then removes the database.
    func test(_ mode: TestingSetup = .router, _ body: @escaping @Sendable (APIClient) async throws -> Void) async throws
    {
        defer { try? FileManager.default.removeItem(at: directory) }
        let app = try await buildApplication(services: services, metrics: metrics, host: "127.0.0.1", port: 0)
        try await app.test(mode) { client in try await body(APIClient(client: client)) }
        try repository.close()
    }
}

/// A thin JSON client over the test client.
struct APIClient: Sendable {
    let client: any TestClientProtocol

    struct Reply: Sendable {
        let status: HTTPResponse.Status
        let body: ByteBuffer
        var json: [String: Any] {
            (try? JSONSerialization.jsonObject(with: Data(body.readableBytesView))) as? [String: Any] ?? [:]
        }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
        var errorMessage: String? { (json["error"] as? [String: Any])?["message"] as? String }
        var text: String { String(buffer: body) }
        func string(_ key: String) -> String? { json[key] as? String }
    }

    func call(
        _ method: HTTPRequest.Method, _ uri: String, json: String? = nil, key: String? = APIHarness.apiKey,
        language: String? = nil
    ) async throws -> Reply {
        var headers: HTTPFields = [.contentType: "application/json"]
        if let key { headers[.authorization] = "Bearer \(key)" }
        if let language { headers[.acceptLanguage] = language }
        let response = try await client.execute(
            uri: uri, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
        return Reply(status: response.status, body: response.body)
    }

    /// Sends a request with exactly these headers and body; returns the whole response.
    func raw(_ method: HTTPRequest.Method, _ uri: String, headers: HTTPFields, body: String? = nil) async throws
        -> TestResponse
    {
        try await client.execute(uri: uri, method: method, headers: headers, body: body.map { ByteBuffer(string: $0) })
    }

    /// Creates a retail user; returns its ID.
    func createUser(_ loginID: String) async throws -> String {
        let reply = try await call(.post, "/api/v1/users", json: #"{"loginId":"\#(loginID)","name":"テスト \#(loginID)"}"#)
        try #require(reply.status == .created, "\(reply.text)")
        return try #require(reply.string("id"))
    }

    /// Enrols a token for `user`; returns its serial and a generator built from the returned otpauth URI.
    func enrol(_ user: String) async throws -> (serial: String, totp: TOTP) {
        let reply = try await call(.post, "/api/v1/users/\(user)/token")
        try #require(reply.status == .created, "\(reply.text)")
        let text = try #require(reply.string("otpauthUri"))
        let uri = try #require(KeyURI(parsing: text))
        return (try #require(reply.string("serial")), TOTP(seed: uri.seed, parameters: uri.parameters))
    }

    func submit(_ code: String, for user: String, activate: Bool = false, language: String? = nil) async throws -> Reply
    {
        try await call(
            .post, "/api/v1/users/\(user)/\(activate ? "token/activate" : "verify")", json: #"{"code":"\#(code)"}"#,
            language: language)
    }
}
