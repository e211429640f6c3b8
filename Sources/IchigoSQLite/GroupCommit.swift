import Foundation
import GRDB
import Ichigo
import Metrics
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// Group commit: write transactions from many concurrent callers run together in one SQLite transaction,
/// so one `fsync` serves them all. Each caller's work runs in its own savepoint — a failure rolls back that
/// caller's work only — and no caller hears of its result before the whole transaction has committed.
///
/// The transactions run on one thread of their own (SQLite has one writer anyway): a caller's write is queued
/// under a lock and the thread is woken if it sleeps; while it commits (and syncs), the next writes gather into
/// the next batch. No task hops, no dispatch per write.
final class GroupCommit: Sendable {
    private let engine: Engine

    init(pool: DatabasePool, maximumBatch: Int = 256, head: AuditHeadFile? = nil) {
        engine = Engine(pool: pool, maximumBatch: maximumBatch, head: head)
        let engine = engine
        let thread = Thread {
            // Every verification waits for this one thread: let it run before the request threads when the CPUs
            // are busy (a lower nice value, for this thread only on Linux; allowed for root or with CAP_SYS_NICE, else it keeps the
            // default).
            #if canImport(Glibc)
                _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10)
            #endif
            engine.run()
        }
        thread.name = "ichigo-sqlite-writer"
        thread.qualityOfService = .userInitiated
        thread.start()
    }

    deinit { engine.stop() }

    /// Runs `work` in a write transaction shared with other callers; returns once it is durable.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            engine.submit(Job(work: work, continuation: continuation))
        }
    }

    /// Stops the writer thread once the queued writes are done, and waits for it (the repository is closing).
    func stop() { engine.stopAndWait() }

    private final class Engine: Sendable {
        let pool: DatabasePool
        let maximumBatch: Int
        /// The audit trail's signed head, checked before and advanced after each commit.
        let head: AuditHeadFile?
        let state = Mutex(State())
        let wakeup = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        /// `ichigo_db_commit_batch_size`: writes per commit; `ichigo_db_commit_seconds`: time per commit (with sync).
        let batchSizes = Recorder(label: "ichigo_db_commit_batch_size", aggregate: true)
        let commitTime = Metrics.Timer(label: "ichigo_db_commit_seconds")

        struct State {
            var pending: [any PendingWrite] = []
            var sleeping = false
            var stopped = false
            var exited = false
        }

        init(pool: DatabasePool, maximumBatch: Int, head: AuditHeadFile?) {
            self.pool = pool
            self.maximumBatch = maximumBatch
            self.head = head
        }

        func submit(_ job: any PendingWrite) {
            let (wake, refused) = state.withLock { state -> (Bool, Bool) in
                if state.stopped { return (false, true) }
                state.pending.append(job)
                guard state.sleeping else { return (false, false) }
                state.sleeping = false
                return (true, false)
            }
            if refused { job.finish(commitError: IchigoError(.corruptData, detail: "the database is closed")) }
            if wake { wakeup.signal() }
        }

        func stopAndWait() {
            stop()
            if !state.withLock({ $0.exited }) {
                finished.wait()
                finished.signal()  // for any other caller waiting
            }
        }

        func stop() {
            let wake = state.withLock { state -> Bool in
                state.stopped = true
                guard state.sleeping else { return false }
                state.sleeping = false
                return true
            }
            if wake { wakeup.signal() }
        }

        func run() {
            while true {
                let (batch, stopped) = state.withLock { state -> ([any PendingWrite], Bool) in
                    if state.pending.isEmpty {
                        if !state.stopped { state.sleeping = true }
                        return ([], state.stopped)
                    }
                    let count = min(maximumBatch, state.pending.count)
                    let batch = Array(state.pending.prefix(count))
                    state.pending.removeFirst(count)
                    return (batch, false)
                }
                if batch.isEmpty {
                    if stopped {
                        state.withLock { $0.exited = true }
                        finished.signal()
                        return
                    }
                    wakeup.wait()
                    continue
                }
                commit(batch)
            }
        }

        private func commit(_ batch: [any PendingWrite]) {
            batchSizes.record(batch.count)
            let started = ContinuousClock.now
            do {
                let headFile = head
                let newHead = try pool.writeWithoutTransaction { db -> AuditHead? in
                    var next: AuditHead?
                    try db.inTransaction(.immediate) {
                        for job in batch { job.run(in: db) }
                        next = try headFile?.next(in: db)
                        return .commit
                    }
                    return next
                }
                if let newHead { headFile?.advance(to: newHead) }
                record(since: started)
                for job in batch { job.finish(commitError: nil) }
            } catch {
                record(since: started)
                for job in batch { job.finish(commitError: error) }
            }
        }

        private func record(since started: ContinuousClock.Instant) {
            commitTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        }
    }
}

/// A queued write, type-erased.
private protocol PendingWrite: Sendable {
    /// Runs the work inside a savepoint, keeping its result or error for later.
    func run(in db: Database)
    /// Answers the caller once the transaction's fate is known.
    func finish(commitError: (any Error)?)
}

private final class Job<T: Sendable>: PendingWrite, @unchecked Sendable {
    // `outcome` is written in `run` and read in `finish`, strictly one after the other on the drain task.
    private let work: @Sendable (Database) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?

    init(work: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.work = work
        self.continuation = continuation
    }

    func run(in db: Database) {
        do {
            var value: T?
            try db.inSavepoint {
                value = try work(db)
                return .commit
            }
            outcome = .success(value!)
        } catch {
            outcome = .failure(error)
        }
    }

    func finish(commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: commitError)
        } else {
            continuation.resume(with: outcome ?? .failure(CancellationError()))
        }
    }
}
