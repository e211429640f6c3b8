import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import Metrics
import NIOCore
import Synchronization

/// Gives every request a deadline (`RequestDeadline`): the router answers within `deadlines.standard`, or the caller
/// hears 503 `service.unavailable` with `Retry-After` — JSON on the API, a page on the screens — and nothing of the
/// request is committed afterwards (its queued writes are dropped before their work runs). If a write of the request
/// began before the deadline, the answer waits for it up to `commitGrace`, so the caller hears what was committed;
/// past that (the database went away in the middle of a commit) the caller hears 503 and the log says that the
/// request's write may have been committed.
struct DeadlineResponder<Inner: HTTPResponder>: HTTPResponder where Inner.Context: Sendable {
    typealias Context = Inner.Context
    let inner: Inner
    let deadlines: RequestDeadlines
    let logger: Logger
    /// `ichigo_http_deadline_exceeded_total`: requests answered 503 at their deadline.
    let exceeded = Counter(label: "ichigo_http_deadline_exceeded_total")

    func respond(to request: Request, context: Context) async throws -> Response {
        let deadline = RequestDeadline(label: "\(request.method.rawValue) \(request.uri.path)")
        let inner = inner
        let work = TimedWork {
            try await RequestDeadline.$current.withValue(deadline) {
                try await inner.respond(to: request, context: context)
            }
        }
        var outcome = await work.wait(limit: deadlines.standard)
        var committing = false
        if case .timedOut = outcome, !deadline.expire() {
            // A write began before the deadline: its outcome is the answer, if it comes within the grace period.
            outcome = await work.wait(limit: deadlines.commitGrace)
            if case .timedOut = outcome { committing = !deadline.abandon() }
        }
        switch outcome {
        case .finished(let result):
            return try result.get()
        case .timedOut:
            work.cancel()
            exceeded.increment()
            let metadata: Logger.Metadata = [
                "http.method": "\(request.method.rawValue)", "http.path": "\(request.uri.path)",
                "deadline": "\(deadlines.standard)",
            ]
            if committing {
                logger.error(
                    "request answered 503 while the database held its commit: if it commits, the audit trail records request.undelivered",
                    metadata: metadata)
            } else {
                logger.warning("request deadline passed: answered 503, nothing of it is committed", metadata: metadata)
            }
            return Self.unavailable(request, retryAfter: deadlines.retryAfter)
        }
    }

    /// 503 `service.unavailable` in the caller's language and shape, with `Retry-After`, closing the connection.
    static func unavailable(_ request: Request, retryAfter: String, code: IchigoError.Code = .serviceUnavailable)
        -> Response
    {
        let language = Language(acceptLanguage: request.headers[.acceptLanguage])
        var response =
            ErrorMiddleware<IchigoRequestContext>.isHTML(request.uri.path)
            ? ErrorMiddleware<IchigoRequestContext>.htmlResponse(
                status: .serviceUnavailable, message: WebMessages.text(for: code, in: language), language: language)
            : ErrorMiddleware<IchigoRequestContext>.response(
                status: .serviceUnavailable, code: code.description, message: WebMessages.text(for: code, in: language),
                field: nil)
        response.headers[.retryAfter] = retryAfter
        response.headers[.connection] = "close"
        return response
    }
}
