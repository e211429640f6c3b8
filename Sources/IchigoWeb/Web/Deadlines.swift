import Foundation
import HTTPTypes
import Hummingbird
import Ichigo
import Logging
import Metrics
import NIOCore
import Synchronization

/// How long the server works on a request, and what a caller hears past that.
public struct RequestDeadlines: Sendable, Equatable {
    /// Every request's (`http.deadline`, default 5 s): verifications, screens, the API.
    public var standard: Duration = .seconds(5)
    /// After the deadline, how long an answer may still wait for a write that began before it (its commit is bounded by
    /// the database's statement and lock timeouts, which equal `standard`).
    public var commitGrace: Duration = .seconds(5)
    /// `/ready`'s: a load balancer's health check must get an answer, 503 if the database does not answer in time.
    public var ready: Duration = .seconds(1)

    public init(standard: Duration = .seconds(5), commitGrace: Duration? = nil, ready: Duration = .seconds(1)) {
        self.standard = standard
        self.commitGrace = commitGrace ?? standard
        self.ready = ready
    }

    /// Seconds for `Retry-After`: the deadline, rounded up, at least 1.
    var retryAfter: String { "\(max(1, standard.components.seconds + (standard.components.attoseconds > 0 ? 1 : 0)))" }
}

/// The outcome of racing work against a clock.
enum Raced<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case timedOut
}

/// Runs `work` in a task of its own and waits for it at most `limit`: returns `.timedOut` at the limit even when the
/// work is stuck somewhere that ignores cancellation (a pooled connection that never comes). The work goes on in the
/// background; `onTimeout` may cancel it.
func race<T: Sendable>(
    _ task: Task<T, any Error>, limit: Duration
) async -> Raced<T> {
    let box = RaceBox<T>()
    return await withCheckedContinuation { (continuation: CheckedContinuation<Raced<T>, Never>) in
        box.set(continuation)
        Task {
            let result = await task.result
            box.resume(.finished(result))
        }
        Task {
            try? await Task.sleep(for: limit)
            box.resume(.timedOut)
        }
    }
}

/// Resumes a continuation once, whoever comes first.
private final class RaceBox<T: Sendable>: Sendable {
    private let state = Mutex<(continuation: CheckedContinuation<Raced<T>, Never>?, done: Bool)>((nil, false))

    func set(_ continuation: CheckedContinuation<Raced<T>, Never>) {
        state.withLock { $0.continuation = continuation }
    }

    func resume(_ value: Raced<T>) {
        let continuation = state.withLock { state -> CheckedContinuation<Raced<T>, Never>? in
            guard !state.done, let continuation = state.continuation else { return nil }
            state.done = true
            state.continuation = nil
            return continuation
        }
        continuation?.resume(returning: value)
    }
}

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
        let task = Task { try await RequestDeadline.$current.withValue(deadline) {
            try await inner.respond(to: request, context: context)
        } }
        var outcome = await race(task, limit: deadlines.standard)
        var committing = false
        if case .timedOut = outcome, !deadline.expire() {
            // A write began before the deadline: its outcome is the answer, if it comes within the grace period.
            outcome = await race(task, limit: deadlines.commitGrace)
            if case .timedOut = outcome { committing = !deadline.abandon() }
        }
        switch outcome {
        case .finished(let result):
            return try result.get()
        case .timedOut:
            task.cancel()
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
                status: .serviceUnavailable, message: Messages.text(for: code, in: language), language: language)
            : ErrorMiddleware<IchigoRequestContext>.response(
                status: .serviceUnavailable, code: code.description, message: Messages.text(for: code, in: language),
                field: nil)
        response.headers[.retryAfter] = retryAfter
        response.headers[.connection] = "close"
        return response
    }
}
