import Foundation
import Synchronization

/// The outcome of waiting for work against a clock.
public enum Raced<T: Sendable>: Sendable {
    case finished(Result<T, any Error>)
    case timedOut
}

/// Work running in a task of its own, waited for with time limits (`wait(limit:)`, once or several times): a wait
/// returns `.timedOut` at its limit even when the work is stuck somewhere that ignores cancellation (a pooled
/// connection that never comes), and the work goes on in the background. One task and, per wait, one coarse timer
/// (`DeadlineTimers`) that is cancelled when the work finishes first — nothing lingers after a request that was
/// answered in time.
public final class TimedWork<T: Sendable>: Sendable {
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

    public init(_ work: @escaping @Sendable () async throws -> T) {
        let shared = shared
        task = Task {
            let result: Result<T, any Error>
            do { result = .success(try await work()) } catch { result = .failure(error) }
            shared.finish(result)
        }
    }

    /// Waits for the work at most `limit`.
    public func wait(limit: Duration) async -> Raced<T> {
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

    public func cancel() { task.cancel() }
}

/// Coarse timers for deadlines, checked every 20 ms by one task that runs while any timer is pending. Scheduling and
/// cancelling take a lock and no system call: a timer per request costs next to nothing, where an event loop's timer
/// woke another thread for each (twice the server CPU of a request refused at the door, measured with wrk).
public final class DeadlineTimers: Sendable {
    public static let shared = DeadlineTimers()
    public static let tick = Duration.milliseconds(20)

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
    public func schedule(after delay: Duration, _ fire: @escaping @Sendable () -> Void) -> Int {
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

    public func cancel(_ id: Int) {
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
public func race<T: Sendable>(limit: Duration, _ work: @escaping @Sendable () async throws -> T) async -> Raced<T> {
    await TimedWork(work).wait(limit: limit)
}

