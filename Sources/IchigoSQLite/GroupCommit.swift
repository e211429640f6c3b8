import Foundation
import GRDB
import Ichigo
import Metrics
import Synchronization

/// Group commit: write transactions from many concurrent callers run together in one SQLite transaction,
/// so one `fsync` serves them all. Each caller's work runs in its own savepoint — a failure rolls back that
/// caller's work only — and no caller hears of its result before the whole transaction has committed.
final class GroupCommit: Sendable {
    private let pool: DatabasePool
    private let state = Mutex(State())
    /// The most writes one transaction carries.
    private let maximumBatch: Int

    private struct State {
        var pending: [any PendingWrite] = []
        var draining = false
    }

    /// The audit trail's signed head, checked before and advanced after each commit.
    private let head: AuditHeadFile?

    /// `ichigo_db_commit_batch_size`: writes per commit; `ichigo_db_commit_seconds`: time per commit (with sync).
    private let batchSizes = Recorder(label: "ichigo_db_commit_batch_size", aggregate: true)
    private let commitTime = Metrics.Timer(label: "ichigo_db_commit_seconds")

    init(pool: DatabasePool, maximumBatch: Int = 256, head: AuditHeadFile? = nil) {
        self.pool = pool
        self.maximumBatch = maximumBatch
        self.head = head
    }

    /// Runs `work` in a write transaction shared with other callers; returns once it is durable.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let job = Job(work: work, continuation: continuation)
            let startDrain = state.withLock { state -> Bool in
                state.pending.append(job)
                if state.draining { return false }
                state.draining = true
                return true
            }
            if startDrain { Task.detached { await self.drain() } }
        }
    }

    private func drain() async {
        while true {
            let batch = state.withLock { state -> [any PendingWrite] in
                if state.pending.isEmpty {
                    state.draining = false
                    return []
                }
                let count = min(maximumBatch, state.pending.count)
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            batchSizes.record(batch.count)
            let started = ContinuousClock.now
            defer {
                let elapsed = ContinuousClock.now - started
                commitTime.recordNanoseconds(
                    elapsed.components.seconds * 1_000_000_000 + elapsed.components.attoseconds / 1_000_000_000)
            }
            do {
                let headFile = head
                let newHead = try await pool.writeWithoutTransaction { db -> AuditHead? in
                    var next: AuditHead?
                    try db.inTransaction(.immediate) {
                        for job in batch { job.run(in: db) }
                        next = try headFile?.next(in: db)
                        return .commit
                    }
                    return next
                }
                if let newHead { headFile?.advance(to: newHead) }
                for job in batch { job.finish(commitError: nil) }
            } catch {
                for job in batch { job.finish(commitError: error) }
            }
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
