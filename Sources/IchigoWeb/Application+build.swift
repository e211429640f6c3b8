import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle
import Synchronization

/// Wires the routes: the HTML screens, `/health`, the app's provisioning endpoint under `/app/v1`, and
/// the JSON API under `/api/v1` behind the API key.
/// - Parameter metrics: the Prometheus registry `services.metrics` reports to, shown at `/metrics` (behind an API key
///   with the `metrics` scope); `nil`: no `/metrics`.
public func buildRouter(
    services: IchigoServices, metrics: PrometheusCollectorRegistry? = nil
) async throws -> Router<IchigoRequestContext> {
    let router = Router(context: IchigoRequestContext.self)
    router.add(middleware: RequestIDMiddleware(logger: services.logger))
    router.add(middleware: HTTPMetricsMiddleware(recorders: HTTPMetrics(factory: services.metrics.factory)))
    router.add(middleware: ResponseHeadersMiddleware(strictTransportSecurity: services.secureCookies))
    let routes = RouteTable()
    router.add(
        middleware: ErrorMiddleware(
            logger: services.logger, secureCookies: services.secureCookies, routes: routes,
            retryAfter: services.deadlines.retryAfter))
    // A load balancer's liveness check, answered from bytes made once.
    let health = ByteBuffer(string: #"{"status":"ok"}"#)
    router.get("health") { _, _ -> Response in
        Response(status: .ok, headers: [.contentType: "application/json; charset=utf-8"], body: .init(byteBuffer: health))
    }
    // Ready for traffic: the database answers within `deadlines.ready` (1 s), has every migration this build knows,
    // and its disk has room (a load balancer's check). Always answered in time: a database that hangs is a 503.
    router.get("ready") { _, _ -> Response in
        let repository = services.repository
        let status: SchemaStatus
        switch await race(limit: services.deadlines.ready, { try await repository.schemaStatus() }) {
        case .timedOut:
            ReadyLog.note("the database did not answer within the readiness deadline", services.logger)
            return ReadyBody(status: "unavailable", database: "timeout", migrations: nil).response(.serviceUnavailable)
        case .finished(.failure(let error as IchigoError)) where error.code == .storageFull:
            ReadyLog.note("the disk holding the database is full", services.logger)
            return ReadyBody(status: "unavailable", database: "full", migrations: nil).response(.serviceUnavailable)
        case .finished(.failure(let error)):
            ReadyLog.note("the database does not answer: \(error)", services.logger)
            return ReadyBody(status: "unavailable", database: "unreachable", migrations: nil).response(.serviceUnavailable)
        case .finished(.success(let answer)):
            status = answer
        }
        ReadyLog.clear(services.logger)
        let migrations = "\(status.applied.count)/\(status.known.count)"
        guard status.isCurrent else {
            return ReadyBody(status: "unavailable", database: "ok", migrations: migrations).response(.serviceUnavailable)
        }
        // The key store (an HSM that stopped answering): the problem is logged by the key service.
        if services.keyProblem() != nil {
            return ReadyBody(status: "unavailable", database: "ok", migrations: migrations, keys: "unavailable")
                .response(.serviceUnavailable)
        }
        return ReadyBody(status: "ready", database: "ok", migrations: migrations).response(.ok)
    }
    // The HTML screens: one session load per request; each audience's screens sit on a group whose request
    // context cannot be built without that audience's login (`AuthenticatedWebContext`).
    let sessions = SessionManager(services: services)
    let renderer = try await Renderer.load()
    let web = router.group().add(middleware: SessionMiddleware(sessions: sessions))
    RetailController(services: services, sessions: sessions, renderer: renderer).addRoutes(to: web)
    CorporateController(services: services, sessions: sessions, renderer: renderer).addRoutes(to: web)
    CorporateAdminController(services: services, sessions: sessions, renderer: renderer).addRoutes(to: web)
    OperatorController(services: services, sessions: sessions, renderer: renderer).addRoutes(to: web)
    PasskeyScreens<RetailContext>(services: services, sessions: sessions, renderer: renderer, place: .retail)
        .addRoutes(to: web)
    PasskeyScreens<CorporateContext>(services: services, sessions: sessions, renderer: renderer, place: .corporateUser)
        .addRoutes(to: web)
    PasskeyScreens<CorporateAdminContext>(
        services: services, sessions: sessions, renderer: renderer, place: .corporateAdmin
    ).addRoutes(to: web)
    AppProvisioningController(services: services).addRoutes(to: router.group("app/v1"))
    // The OpenAPI 3.1 description of every JSON route (checked against this router by a test, and fuzzed
    // against the running server by schemathesis in CI).
    let openAPI = try OpenAPIDocument.load()
    router.get("openapi.json") { _, _ -> Response in
        Response(
            status: .ok, headers: [.contentType: "application/json; charset=utf-8"],
            body: .init(byteBuffer: ByteBuffer(bytes: openAPI)))
    }
    // Prometheus metrics, behind an API key with the `metrics` scope.
    if let registry = metrics {
        router.group()
            .add(middleware: APIKeyMiddleware(keys: services.apiKeys, clock: services.clock))
            .add(middleware: ScopeMiddleware(scope: .metrics))
            .get("metrics") { _, _ -> Response in
                Response(
                    status: .ok,
                    headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8", .cacheControl: "no-store"],
                    body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
            }
    }
    let api = router.group("api/v1")
        .add(middleware: APIKeyMiddleware(keys: services.apiKeys, clock: services.clock, audit: services.repository))
    APIController(services: services).addRoutes(to: api)
    PasskeyAPIController(services: services).addRoutes(to: api)
    routes.set(router.routes)
    return router
}

/// `/ready`'s log: a failing check is logged when it starts failing and when it recovers, not at every probe (a load
/// balancer asks every few seconds).
enum ReadyLog {
    private static let failing = Mutex<String?>(nil)

    static func note(_ problem: String, _ logger: Logger) {
        let changed = failing.withLock { current -> Bool in
            defer { current = problem }
            return current != problem
        }
        if changed { logger.error("not ready: \(problem)") }
    }

    static func clear(_ logger: Logger) {
        if failing.withLock({ current -> Bool in defer { current = nil }; return current != nil }) {
            logger.notice("ready again: the database answers")
        }
    }
}

struct ReadyBody: Encodable {
    var status: String
    var database: String
    var migrations: String?
    var keys: String? = nil

    func response(_ status: HTTPResponse.Status) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        return Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: (try? encoder.encode(self)) ?? Data())))
    }
}

/// Builds the application: the router on an HTTP server at `host:port` (port 0: any free port,
/// reported to `onServerRunning`), with background services (the mail sender) in its service group.
///
/// Every request has a deadline (`services.deadlines`, `DeadlineResponder`); connections are limited, and idle or slow
/// ones closed (`connections`, `ConnectionGuardHandler`; default: the limit the open-file limit leaves room for).
public func buildApplication(
    services: IchigoServices, metrics: PrometheusCollectorRegistry? = nil, host: String, port: Int,
    backgroundServices: [any Service] = [],
    connections: ConnectionLimits? = nil,
    onServerRunning: (@Sendable (_ boundPort: Int) async -> Void)? = nil
) async throws -> some ApplicationProtocol {
    // The first API key (data/api.key or ICHIGO_API_KEY) becomes the admin key once; before the server answers.
    try await services.adoptAdminKey()
    let limits =
        connections ?? ConnectionLimits(maximum: ConnectionLimits.defaultMaximum(descriptors: DescriptorLimit.current))
    let registry = ConnectionRegistry(limits: limits, logger: services.logger)
    let logger = services.logger
    return Application(
        responder: DeadlineResponder(
            inner: try await buildRouter(services: services, metrics: metrics).buildResponder(), deadlines: services.deadlines,
            logger: services.logger),
        server: .guardedHTTP1(registry: registry, handlers: { [ProtocolErrorHandler(logger: logger)] }),
        configuration: .init(address: .hostname(host, port: port), serverName: "Ichigo"),
        services: backgroundServices,
        onServerRunning: { channel in await onServerRunning?(channel.localAddress?.port ?? port) },
        logger: services.logger)
}

/// The OpenAPI document shipped with the server (`Sources/IchigoWeb/OpenAPI/openapi.json`).
public enum OpenAPIDocument {
    public static func load() throws -> [UInt8] {
        guard let url = Bundle.module.url(forResource: "OpenAPI/openapi", withExtension: "json")
            ?? Bundle.module.url(forResource: "openapi", withExtension: "json", subdirectory: "OpenAPI"),
            let data = FileManager.default.contents(atPath: url.path)
        else { throw IchigoError(.corruptData, detail: "the OpenAPI document is missing from the bundle") }
        return Array(data)
    }
}
