import Foundation
import Hummingbird
import Ichigo
import Logging
import NIOCore

/// Wires the routes: `/health`, and the JSON API under `/api/v1` behind the API key.
public func buildRouter(services: IchigoServices) -> Router<IchigoRequestContext> {
    let router = Router(context: IchigoRequestContext.self)
    router.add(middleware: ErrorMiddleware(logger: services.logger))
    router.get("health") { _, _ -> HealthBody in
        HealthBody(status: "ok")
    }
    let api = router.group("api/v1").add(middleware: APIKeyMiddleware(apiKey: services.apiKey))
    APIController(services: services).addRoutes(to: api)
    return router
}

struct HealthBody: ResponseEncodable {
    var status: String
}

/// Builds the application: the router on an HTTP server at `host:port` (port 0: any free port,
/// reported to `onServerRunning`).
public func buildApplication(
    services: IchigoServices, host: String, port: Int,
    onServerRunning: (@Sendable (_ boundPort: Int) async -> Void)? = nil
) -> some ApplicationProtocol {
    Application(
        router: buildRouter(services: services),
        configuration: .init(address: .hostname(host, port: port), serverName: "Ichigo"),
        onServerRunning: { channel in await onServerRunning?(channel.localAddress?.port ?? port) },
        logger: services.logger)
}

/// Runs the server until SIGINT or SIGTERM, then shuts down gracefully.
public func runServer(
    services: IchigoServices, host: String, port: Int,
    onServerRunning: (@Sendable (_ boundPort: Int) async -> Void)? = nil
) async throws {
    try await buildApplication(services: services, host: host, port: port, onServerRunning: onServerRunning)
        .runService()
}
