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
/// under a lock and the thread is woken if it sleeps; while it commits, the next writes gather into the next batch.
/// No task hops, no dispatch per write.
///
/// **Durability.** With a `WALSyncer`, the writer commits without waiting for the disk (`synchronous = NORMAL`: the
/// commit's pages are written to the WAL file, not yet synced) and hands the batch to the syncer's thread, which
/// `fdatasync`s the WAL and only then answers the batch's callers (and advances the signed audit head). The writer
/// meanwhile runs the next batch, so the disk's sync time and the writer's work overlap instead of adding up. No
/// caller hears "done" before a sync that began after its commit: every acknowledged write is on disk. (A later
/// batch can see an earlier one's changes before they are synced, but its own answer waits for a sync that covers
/// both, since the WAL is one file written in commit order.) Without a syncer (bulk loading) nothing is synced.
final class GroupCommit: Sendable {
    private let engine: Engine
    private let syncer: WALSyncer?

    /// - Parameter walPath: the WAL file to sync before answering; `nil` for no syncs (bulk loading only).
    init(pool: DatabasePool, maximumBatch: Int = 256, head: AuditHeadFile? = nil, walPath: String?) throws {
        let syncer = try walPath.map { try WALSyncer(path: $0, head: head) }
        self.syncer = syncer
        engine = Engine(pool: pool, maximumBatch: maximumBatch, head: head, syncer: syncer)
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
        if let syncer {
            let sync = Thread { syncer.run() }
            sync.name = "ichigo-sqlite-sync"
            sync.start()
        }
    }

    deinit {
        engine.stop()
        syncer?.stop()
    }

    /// WAL syncs done so far (each answers every batch committed before it began).
    var syncCount: Int { syncer?.count ?? 0 }

    /// Runs `work` in a write transaction shared with other callers; returns once it is durable.
    func write<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            engine.submit(Job(work: work, continuation: continuation))
        }
    }

    /// Stops the writer thread once the queued writes are done, then the syncer once they are synced, and waits
    /// for both (the repository is closing).
    func stop() {
        engine.stopAndWait()
        syncer?.stopAndWait()
    }

    fileprivate final class Engine: Sendable {
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

        /// Syncs committed batches and answers them; nil: answer at once (bulk loading).
        let syncer: WALSyncer?

        init(pool: DatabasePool, maximumBatch: Int, head: AuditHeadFile?, syncer: WALSyncer?) {
            self.pool = pool
            self.maximumBatch = maximumBatch
            self.head = head
            self.syncer = syncer
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
                record(since: started)
                if let syncer {
                    syncer.submit(batch, head: newHead)
                } else {
                    if let newHead { headFile?.advance(to: newHead) }
                    for job in batch { job.finish(commitError: nil) }
                }
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

/// Syncs the WAL file for committed batches and then answers their callers (see `GroupCommit`), on a thread of
/// its own: one `fdatasync` answers every batch committed before it began.
private final class WALSyncer: Sendable {
    private let descriptor: Int32
    private let path: String
    private let head: AuditHeadFile?
    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let synced = Atomic<Int>(0)
    /// `ichigo_db_sync_seconds`: time per WAL sync.
    private let syncTime = Metrics.Timer(label: "ichigo_db_sync_seconds")

    struct State {
        var pending: [(jobs: [any PendingWrite], head: AuditHead?)] = []
        var sleeping = false
        var stopped = false
        var exited = false
    }

    init(path: String, head: AuditHeadFile?) throws {
        self.path = path
        self.head = head
        descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw IchigoError(.corruptData, detail: "cannot open the WAL file \(path)") }
    }

    deinit { close(descriptor) }

    var count: Int { synced.load(ordering: .relaxed) }

    func submit(_ jobs: [any PendingWrite], head: AuditHead?) {
        let wake = state.withLock { state -> Bool in
            state.pending.append((jobs, head))
            guard state.sleeping else { return false }
            state.sleeping = false
            return true
        }
        if wake { wakeup.signal() }
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

    func stopAndWait() {
        stop()
        if !state.withLock({ $0.exited }) {
            finished.wait()
            finished.signal()
        }
    }

    func run() {
        while true {
            let (batches, stopped) = state.withLock { state -> ([(jobs: [any PendingWrite], head: AuditHead?)], Bool) in
                if state.pending.isEmpty {
                    if !state.stopped { state.sleeping = true }
                    return ([], state.stopped)
                }
                defer { state.pending.removeAll(keepingCapacity: true) }
                return (state.pending, false)
            }
            if batches.isEmpty {
                if stopped {
                    state.withLock { $0.exited = true }
                    finished.signal()
                    return
                }
                wakeup.wait()
                continue
            }
            let started = ContinuousClock.now
            guard fdatasync(descriptor) == 0 else {
                // Whether the commits reached the disk is unknown, and they are already visible to other requests:
                // answering either way could be a lie. Stop, as PostgreSQL does; SQLite recovers from the WAL at the
                // next start, with exactly what reached the disk.
                fatalError("fdatasync of \(path) failed (errno \(errno)): stopping before answering unsynced commits")
            }
            syncTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            synced.add(1, ordering: .relaxed)
            if let newest = batches.last(where: { $0.head != nil })?.head { head?.advance(to: newest) }
            for batch in batches {
                for job in batch.jobs { job.finish(commitError: nil) }
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
