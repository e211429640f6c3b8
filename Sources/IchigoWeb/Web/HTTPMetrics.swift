import CoreMetrics
import HTTPTypes
import Hummingbird
import Ichigo
import Synchronization

/// Counts and times every HTTP request by route, method and status, under the names Hummingbird's own
/// `MetricsMiddleware` uses (`hb_requests`, `http_server_request_duration`, `http_server_active_requests`,
/// `hb_request_errors`), so a dashboard built for Hummingbird reads them.
///
/// Recorded when the handler has produced its answer. Hummingbird's middleware records after the body is written,
/// by wrapping the body in a closure; that takes every answer off its single-buffer write path and cost 11 µs of
/// server CPU per `/health` request on the 2-core machine (45 µs instead of 34). The duration here leaves out the
/// write of the body to the socket; our bodies are small and written in one go.
struct HTTPMetricsMiddleware<Context: RequestContext>: RouterMiddleware {
    let recorders: HTTPMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        let started = ContinuousClock.now
        let active = recorders.active(request.method)
        active.increment()
        defer { active.decrement() }
        do {
            let response = try await next(request, context)
            let endpoint = recorders.endpoint(context.endpointPath ?? "Unknown", request.method, response.status)
            endpoint.requests.increment()
            endpoint.duration.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            return response
        } catch {
            let status = (error as? any HTTPResponseError)?.status ?? .internalServerError
            let endpoint = recorders.endpoint(context.endpointPath ?? "NotFound", request.method, status)
            endpoint.requests.increment()
            endpoint.errors.increment()
            throw error
        }
    }
}

/// The recorders `HTTPMetricsMiddleware` uses, made once per (route, method, status) and kept.
final class HTTPMetrics: Sendable {
    struct Endpoint: Sendable {
        let requests: Counter
        let duration: CoreMetrics.Timer
        let errors: Counter
    }

    private struct Key: Hashable {
        let route: String
        let method: HTTPRequest.Method
        let status: Int
    }

    private let factory: any MetricsFactory
    private let endpoints = Mutex<[Key: Endpoint]>([:])
    private let actives = Mutex<[HTTPRequest.Method: Meter]>([:])

    init(factory: any MetricsFactory) { self.factory = factory }

    func active(_ method: HTTPRequest.Method) -> Meter {
        actives.withLock { made in
            if let meter = made[method] { return meter }
            let meter = Meter(
                label: "http.server.active_requests", dimensions: [("http.request.method", method.rawValue)],
                factory: factory)
            made[method] = meter
            return meter
        }
    }

    func endpoint(_ route: String, _ method: HTTPRequest.Method, _ status: HTTPResponse.Status) -> Endpoint {
        let key = Key(route: route, method: method, status: status.code)
        return endpoints.withLock { made in
            if let endpoint = made[key] { return endpoint }
            let dimensions = [
                ("http.route", route), ("http.request.method", method.rawValue),
                ("http.response.status_code", String(status.code)),
            ]
            let endpoint = Endpoint(
                requests: Counter(label: "hb.requests", dimensions: dimensions, factory: factory),
                duration: CoreMetrics.Timer(
                    label: "http.server.request.duration", dimensions: dimensions, preferredDisplayUnit: .seconds,
                    factory: factory),
                errors: Counter(
                    label: "hb.request.errors",
                    dimensions: [
                        ("http.route", route), ("http.request.method", method.rawValue),
                        ("error.type", String(status.code)),
                    ], factory: factory))
            made[key] = endpoint
            return endpoint
        }
    }
}

/// The router's routes, known once every route is added: which methods a path has, so that a path asked with a
/// method it has no route for gets `405 Method Not Allowed` with `Allow`, not `404` (RFC 9110 §15.5.6).
final class RouteTable: Sendable {
    private let routes = Mutex<[(path: RouterPath, method: HTTPRequest.Method)]>([])

    func set(_ descriptions: [Router<some RequestContext>.RouteDescription]) {
        routes.withLock { $0 = descriptions.map { ($0.path, $0.method) } }
    }

    /// The methods with a route for `path` (a request path, without the query), in a stable order.
    func methods(for path: String) -> [HTTPRequest.Method] {
        let components = path.split(separator: "/", omittingEmptySubsequences: true)
        let methods = routes.withLock { routes in
            routes.filter { Self.matches($0.path, components) }.map(\.method)
        }
        return Array(Set(methods)).sorted { $0.rawValue < $1.rawValue }
    }

    private static func matches(_ route: RouterPath, _ components: [Substring]) -> Bool {
        var index = components.startIndex
        for element in route {
            if element.description == "**" { return true }  // a recursive wildcard matches the rest
            guard index < components.endIndex, element ~= components[index] else { return false }
            index += 1
        }
        return index == components.endIndex
    }
}
