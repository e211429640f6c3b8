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

/// The outcome of waiting for work against a clock.
enum Raced<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case timedOut
}

/// Work running in a task of its own, waited for with time limits (`wait(limit:)`, once or several times): a wait
/// returns `.timedOut` at its limit even when the work is stuck somewhere that ignores cancellation (a pooled
/// connection that never comes), and the work goes on in the background. One task and, per wait, one coarse timer
/// (`DeadlineTimers`) that is cancelled when the work finishes first — nothing lingers after a request that was
/// answered in time.
final class TimedWork<T: Sendable>: Sendable {
    private struct State {
        var result: Result<T, any Error>?
        var waiter: CheckedContinuation<Raced<T>, Never>?
        var timer: Int?
        var generation = 0
    }

    /// What the task and the waits share.
    private final class Shared: Sendable {
        let state = Mutex(State())

        func finish(_ result: Result<T, any Error>) {
            let (waiter, timer) = state.withLock {
                state -> (CheckedContinuation<Raced<T>, Never>?, Int?) in
                state.result = result
                defer {
                    state.waiter = nil
                    state.timer = nil
                }
                return (state.waiter, state.timer)
            }
            if let timer { DeadlineTimers.shared.cancel(timer) }
            waiter?.resume(returning: .finished(result))
        }
    }

    private let shared = Shared()
    private let task: Task<Void, Never>

    init(_ work: @escaping @Sendable () async throws -> T) {
        let shared = shared
        task = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            shared.finish(result)
        }
    }

    /// Waits for the work at most `limit`.
    func wait(limit: Duration) async -> Raced<T> {
        let shared = shared
        return await withCheckedContinuation { (continuation: CheckedContinuation<Raced<T>, Never>) in
            let registered = shared.state.withLock { state -> (ready: Result<T, any Error>?, generation: Int) in
                if let result = state.result { return (result, state.generation) }
                state.waiter = continuation
                state.generation += 1
                return (nil, state.generation)
            }
            if let ready = registered.ready {
                continuation.resume(returning: .finished(ready))
                return
            }
            let generation = registered.generation
            let timer = DeadlineTimers.shared.schedule(after: limit) {
                let waiter = shared.state.withLock { state -> CheckedContinuation<Raced<T>, Never>? in
                    guard state.generation == generation, state.result == nil, let waiter = state.waiter else {
                        return nil
                    }
                    state.waiter = nil
                    state.timer = nil
                    return waiter
                }
                waiter?.resume(returning: .timedOut)
            }
            let keep = shared.state.withLock { state -> Bool in
                guard state.generation == generation, state.waiter != nil else { return false }
                state.timer = timer
                return true
            }
            if !keep { DeadlineTimers.shared.cancel(timer) }
        }
    }

    func cancel() { task.cancel() }
}

/// Coarse timers for deadlines, checked every 20 ms by one task that runs while any timer is pending. Scheduling and
/// cancelling take a lock and no system call: a timer per request costs next to nothing, where an event loop's timer
/// woke another thread for each (twice the server CPU of a request refused at the door, measured with wrk).
final class DeadlineTimers: Sendable {
    static let shared = DeadlineTimers()
    static let tick = Duration.milliseconds(20)

    private struct Entry {
        let due: ContinuousClock.Instant
        let fire: @Sendable () -> Void
    }
    private struct State {
        var next = 0
        var entries: [Int: Entry] = [:]
        var running = false
    }
    private let state = Mutex(State())

    /// Calls `fire` once `delay` has passed (up to a tick later), unless cancelled first.
    func schedule(after delay: Duration, _ fire: @escaping @Sendable () -> Void) -> Int {
        let due = ContinuousClock.now + delay
        let (id, start) = state.withLock { state -> (Int, Bool) in
            state.next += 1
            state.entries[state.next] = Entry(due: due, fire: fire)
            defer { state.running = true }
            return (state.next, !state.running)
        }
        if start { Task.detached { await self.run() } }
        return id
    }

    func cancel(_ id: Int) {
        _ = state.withLock { $0.entries.removeValue(forKey: id) }
    }

    private func run() async {
        while true {
            try? await Task.sleep(for: Self.tick)
            let now = ContinuousClock.now
            let (due, idle) = state.withLock { state -> ([Entry], Bool) in
                let due = state.entries.filter { $0.value.due <= now }
                for id in due.keys { state.entries[id] = nil }
                if state.entries.isEmpty { state.running = false }
                return (Array(due.values), state.entries.isEmpty)
            }
            for entry in due { entry.fire() }
            if idle { return }
        }
    }
}

/// Runs `work` and waits for it at most `limit` (see `TimedWork`).
func race<T: Sendable>(limit: Duration, _ work: @escaping @Sendable () async throws -> T) async -> Raced<T> {
    await TimedWork(work).wait(limit: limit)
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
                status: .serviceUnavailable, message: Messages.text(for: code, in: language), language: language)
            : ErrorMiddleware<IchigoRequestContext>.response(
                status: .serviceUnavailable, code: code.description, message: Messages.text(for: code, in: language),
                field: nil)
        response.headers[.retryAfter] = retryAfter
        response.headers[.connection] = "close"
        return response
    }
}
