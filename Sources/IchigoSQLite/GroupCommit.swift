import Foundation
import GRDB
import Ichigo
import IchigoFiles
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
/// **Durability.** With a WAL path, the writer commits without waiting for the disk (`synchronous = NORMAL`: the
/// commit's pages are written to the WAL file, not yet synced) and hands the batch to the syncer's thread, which
/// `fdatasync`s the WAL and only then answers the batch's callers (and advances the signed audit head). The writer
/// meanwhile runs the next batch, so the disk's sync time and the writer's work overlap instead of adding up. No
/// caller hears "done" before a sync that began after its commit: every acknowledged write is on disk. (A later
/// batch can see an earlier one's changes before they are synced, but its own answer waits for a sync that covers
/// both, since the WAL is one file written in commit order.) Without a syncer (bulk loading) nothing is synced.
///
/// **Gathering.** While the syncer is still syncing earlier commits, the writer keeps its transaction open and runs
/// the writes queued meanwhile in it too, committing once the syncer is idle: those writes would wait for the next
/// sync either way, and one commit for all of them writes the audit tail's page and checks the signed head once.
/// (At 16 connections this halved the commits, 20% less writer CPU per verification.)
final class GroupCommit: Sendable {
    private let writer: BatchThread<any PendingWrite>
    private let syncer: BatchThread<SyncedBatch>?
    private let synced: Synced

    /// - Parameter walPath: the WAL file to sync before answering; `nil` for no syncs (bulk loading only).
    init(pool: DatabasePool, maximumBatch: Int = 256, head: AuditHeadFile? = nil, walPath: String?) throws {
        let synced = Synced()
        self.synced = synced
        let wal = try walPath.map { try WALFile(path: $0) }
        let writerSlot = WriterSlot()
        let syncer = wal.map { wal in
            BatchThread<SyncedBatch>(
                name: "ichigo-sqlite-sync", maximumBatch: .max, onIdle: { writerSlot.writer?.poke() }
            ) { batches, _ in
                Self.syncAndAnswer(batches, wal: wal, synced: synced, head: head)
            }
        }
        self.syncer = syncer
        let committer = Committer(
            pool: pool, head: head, syncer: syncer, maximumBatch: maximumBatch, synced: synced,
            syncHere: { batch in wal.map { Self.syncAndAnswer([batch], wal: $0, synced: synced, head: head) } })
        // Every verification waits for the writer: it runs at a lower nice value where allowed.
        writer = BatchThread(name: "ichigo-sqlite-writer", maximumBatch: maximumBatch, urgent: true) {
            batch, thread in
            committer.commit(batch, gatheringFrom: thread)
        }
        writerSlot.writer = writer
    }

    /// The writer thread, for the syncer to wake when it has nothing left to sync (set once, right after both
    /// threads exist).
    private final class WriterSlot: Sendable {
        private let slot = Mutex<BatchThread<any PendingWrite>?>(nil)
        var writer: BatchThread<any PendingWrite>? {
            get { slot.withLock { $0 } }
            set { slot.withLock { $0 = newValue } }
        }
    }

    deinit {
        writer.stop()
        syncer?.stop()
    }

    /// WAL syncs done so far (each answers every batch committed before it began).
    var syncCount: Int { synced.count.load(ordering: .relaxed) }
    /// Transactions committed so far.
    var commitCount: Int { synced.commits.load(ordering: .relaxed) }

    /// Runs `work` in a write transaction shared with other callers; returns once it is durable.
    ///
    /// - Parameter savepoint: run `work` in a savepoint of its own, so that its error rolls back its changes only.
    ///   `false` saves the savepoint's cost for a hot job (a verification): should such a job throw, the whole batch
    ///   is rolled back and each of its jobs is run again in a transaction of its own.
    func write<T: Sendable>(savepoint: Bool = true, _ work: @escaping @Sendable (Database) throws -> T) async throws
        -> T
    {
        let deadline = RequestDeadline.current
        return try await withCheckedThrowingContinuation { continuation in
            let job = Job(work: work, savepoint: savepoint, deadline: deadline, continuation: continuation)
            if !writer.submit(job) {
                job.finish(commitError: IchigoError(.corruptData, detail: "the database is closed"))
            }
        }
    }

    /// Stops the writer thread once the queued writes are done, then the syncer once they are synced, and waits
    /// for both (the repository is closing).
    func stop() {
        writer.stopAndWait()
        syncer?.stopAndWait()
    }

    /// Syncs the WAL, then advances the signed head and answers the callers of `batches` (committed before the sync
    /// began).
    private static func syncAndAnswer(_ batches: [SyncedBatch], wal: WALFile, synced: Synced, head: AuditHeadFile?) {
        wal.sync()
        synced.count.add(1, ordering: .relaxed)
        if let newest = batches.last(where: { $0.head != nil })?.head { head?.advance(to: newest) }
        for batch in batches {
            for job in batch.jobs { job.finish(commitError: nil) }
        }
    }

    private final class Synced: Sendable {
        let count = Atomic<Int>(0)
        let commits = Atomic<Int>(0)
    }

    /// Runs batches of writes in one transaction each, on the writer thread.
    private struct Committer: Sendable {
        let pool: DatabasePool
        /// The audit trail's signed head, checked before and advanced after each commit.
        let head: AuditHeadFile?
        /// Syncs committed batches and answers them; nil: answer at once (bulk loading).
        let syncer: BatchThread<SyncedBatch>?
        /// The most writes one transaction gathers while the syncer is busy.
        let maximumBatch: Int
        /// Counts the commits.
        let synced: Synced
        /// Syncs and answers a batch on the writer thread, when the syncer has stopped (the repository was dropped
        /// without `close()`, whose order is writer first, then syncer).
        let syncHere: @Sendable (SyncedBatch) -> Void
        /// `ichigo_db_commit_batch_size`: writes per commit; `ichigo_db_commit_seconds`: time per transaction, from
        /// its first write to its commit, gathering included (its sync runs beside the next transaction:
        /// `ichigo_db_sync_seconds`).
        let batchSizes = Recorder(label: "ichigo_db_commit_batch_size", aggregate: true)
        let commitTime = Metrics.Timer(label: "ichigo_db_commit_seconds")

        /// Runs `first` in one transaction, and while the syncer is still busy with earlier commits, the writes
        /// queued meanwhile too (taken from `thread`, the writer's own queue): they would wait for the syncer's
        /// next sync either way, and one commit of them all writes the audit tail's page and checks the signed
        /// head once instead of once per small batch. Commits when the syncer is idle, or at `maximumBatch` writes.
        func commit(_ first: [any PendingWrite], gatheringFrom thread: BatchThread<any PendingWrite>?) {
            let started = ContinuousClock.now
            var batch = first
            do {
                let headFile = head
                let newHead = try pool.writeWithoutTransaction { db -> AuditHeadFile.Position? in
                    var next: AuditHeadFile.Position?
                    try db.inTransaction(.immediate) {
                        var ran = 0
                        while true {
                            for job in batch[ran...] where !job.run(in: db) { throw AbandonedBatch() }
                            ran = batch.count
                            guard let thread, let syncer, batch.count < maximumBatch else { break }
                            let more = thread.gather(upTo: maximumBatch - batch.count, while: { !syncer.isIdle })
                            if more.isEmpty { break }
                            batch += more
                        }
                        next = try headFile?.next(in: db)
                        // A caller answered 503 while its work ran (`RequestDeadline.abandon`): roll back.
                        if batch.contains(where: { !$0.enterCommit() }) { throw AbandonedByDeadline() }
                        return .commit
                    }
                    return next
                }
                synced.commits.add(1, ordering: .relaxed)
                batchSizes.record(batch.count)
                record(since: started)
                if let syncer {
                    let committed = SyncedBatch(jobs: batch, head: newHead)
                    if !syncer.submit(committed) { syncHere(committed) }
                } else {
                    if let newHead { headFile?.advance(to: newHead) }
                    for job in batch { job.finish(commitError: nil) }
                }
            } catch is AbandonedByDeadline {
                // Nothing was committed. The abandoned callers were answered 503 already; each other write runs again
                // on its own (an abandoned one finds its deadline taken and does nothing).
                batchSizes.record(batch.count)
                record(since: started)
                for job in batch {
                    if job.enterCommit() { commit([job], gatheringFrom: nil) } else { job.finish(commitError: RequestDeadline.droppedError) }
                }
            } catch is AbandonedBatch {
                // A job without a savepoint failed: nothing of the batch was committed. Alone, that job's own error
                // is its answer; in a batch, every job runs again in a transaction of its own.
                batchSizes.record(batch.count)
                record(since: started)
                if batch.count == 1 {
                    batch[0].finish(commitError: nil)
                } else {
                    for job in batch { commit([job], gatheringFrom: nil) }
                }
            } catch {
                batchSizes.record(batch.count)
                record(since: started)
                for job in batch { job.finish(commitError: error) }
            }
        }

        private func record(since started: ContinuousClock.Instant) {
            commitTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        }
    }
}

/// A committed batch waiting for its WAL sync.
private struct SyncedBatch: Sendable {
    let jobs: [any PendingWrite]
    let head: AuditHeadFile.Position?
}

/// The WAL file, synced by the syncer thread (see `GroupCommit`).
private final class WALFile: Sendable {
    private let descriptor: Int32
    private let path: String
    /// `ichigo_db_sync_seconds`: time per WAL sync.
    private let syncTime = Metrics.Timer(label: "ichigo_db_sync_seconds")

    init(path: String) throws {
        self.path = path
        descriptor = open(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else { throw IchigoError(.corruptData, detail: "cannot open the WAL file \(path)") }
    }

    deinit { close(descriptor) }

    func sync() {
        let started = ContinuousClock.now
        guard fdatasync(descriptor) == 0 else {
            // Whether the commits reached the disk is unknown, and they are already visible to other requests:
            // answering either way could be a lie. Stop, as PostgreSQL does; SQLite recovers from the WAL at the
            // next start, with exactly what reached the disk.
            fatalError("fdatasync of \(path) failed (errno \(errno)): stopping before answering unsynced commits")
        }
        syncTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
    }
}

/// A thread of its own that takes queued items in order, up to `maximumBatch` at a time, and hands them to
/// `handle`; it sleeps while there is nothing to do. Items are queued under a lock and the thread is woken only if
/// it sleeps: no task hop or dispatch per item.
final class BatchThread<Item: Sendable>: Sendable {
    private struct State {
        var pending: [Item] = []
        var sleeping = false
        /// In `gather`, waiting for items or a `poke`.
        var gathering = false
        var stopped = false
        var exited = false

        /// The first `limit` items queued, in order, out of the queue.
        mutating func take(upTo limit: Int) -> [Item] {
            let count = min(limit, pending.count)
            let items = Array(pending.prefix(count))
            pending.removeFirst(count)
            return items
        }
    }

    private let state = Mutex(State())
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    private let maximumBatch: Int
    private let handle: @Sendable ([Item], BatchThread<Item>) -> Void
    private let onIdle: (@Sendable () -> Void)?

    /// - Parameters:
    ///   - urgent: run at a lower nice value (this thread only, on Linux; allowed for root or with CAP_SYS_NICE, else
    ///     it keeps the default), so that it runs before the request threads when the CPUs are busy.
    ///   - onIdle: called on the thread each time it has handled everything queued and goes to sleep.
    ///   - handle: handles a batch on the thread; it may take more items meanwhile with `gather`.
    init(
        name: String, maximumBatch: Int, urgent: Bool = false, onIdle: (@Sendable () -> Void)? = nil,
        handle: @escaping @Sendable ([Item], BatchThread<Item>) -> Void
    ) {
        self.maximumBatch = maximumBatch
        self.handle = handle
        self.onIdle = onIdle
        let thread = Thread { [self] in
            #if canImport(Glibc)
                // Named for `top -H` and `perf` (Linux keeps 15 bytes of a thread's name).
                let comm = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
                if comm >= 0 {
                    _ = Array(name.utf8.prefix(15)).withUnsafeBytes { write(comm, $0.baseAddress, $0.count) }
                    close(comm)
                }
                if urgent { _ = setpriority(__priority_which_t(PRIO_PROCESS.rawValue), 0, -10) }
            #endif
            run()
        }
        thread.name = name
        thread.start()
    }

    /// Queues `item`; false once the thread was told to stop (the item is not taken).
    func submit(_ item: Item) -> Bool {
        let (wake, taken) = state.withLock { state -> (Bool, Bool) in
            if state.stopped { return (false, false) }
            state.pending.append(item)
            guard state.sleeping || state.gathering else { return (false, true) }
            state.sleeping = false
            state.gathering = false
            return (true, true)
        }
        if wake { wakeup.signal() }
        return taken
    }

    /// Whether the thread sleeps (or has ended) with nothing queued.
    var isIdle: Bool { state.withLock { ($0.sleeping || $0.exited) && $0.pending.isEmpty } }

    /// Wakes the thread if it waits in `gather` (its condition may have changed).
    func poke() {
        let wake = state.withLock { state -> Bool in
            guard state.gathering else { return false }
            state.gathering = false
            return true
        }
        if wake { wakeup.signal() }
    }

    /// Called by `handle`, on the thread: the items queued meanwhile, up to `limit`, waiting for some while
    /// `condition` holds; empty once it no longer holds (checked under the queue's lock, and again after each
    /// `poke`) or the thread was told to stop.
    func gather(upTo limit: Int, while condition: () -> Bool) -> [Item] {
        while true {
            let taken = state.withLock { state -> [Item]? in
                if !state.pending.isEmpty { return state.take(upTo: limit) }
                if state.stopped || !condition() { return [] }
                state.gathering = true
                return nil
            }
            if let taken { return taken }
            wakeup.wait()
        }
    }

    /// Tells the thread to stop once the queued items are handled.
    func stop() {
        let wake = state.withLock { state -> Bool in
            state.stopped = true
            guard state.sleeping || state.gathering else { return false }
            state.sleeping = false
            state.gathering = false
            return true
        }
        if wake { wakeup.signal() }
    }

    /// `stop`, then waits until the queued items are handled and the thread has ended.
    func stopAndWait() {
        stop()
        if !state.withLock({ $0.exited }) {
            finished.wait()
            finished.signal()  // for any other caller waiting
        }
    }

    private func run() {
        while true {
            let (batch, stopped) = state.withLock { state -> ([Item], Bool) in
                if state.pending.isEmpty {
                    if !state.stopped { state.sleeping = true }
                    return ([], state.stopped)
                }
                return (state.take(upTo: maximumBatch), false)
            }
            if batch.isEmpty {
                if stopped {
                    state.withLock { $0.exited = true }
                    finished.signal()
                    return
                }
                onIdle?()
                wakeup.wait()
                continue
            }
            handle(batch, self)
        }
    }
}

/// Thrown inside a batch's transaction to roll it back when a job without a savepoint failed.
private struct AbandonedBatch: Error {}
/// Thrown before the commit when callers of the batch were answered 503 while its work ran.
private struct AbandonedByDeadline: Error {}

/// A queued write, type-erased.
private protocol PendingWrite: Sendable {
    /// Runs the work (inside a savepoint if the job has one), keeping its result or error for later. False: the
    /// work failed outside a savepoint, so the transaction must be rolled back.
    func run(in db: Database) -> Bool
    /// Just before the commit: false when the caller was answered 503 meanwhile (`RequestDeadline.enterCommit`).
    func enterCommit() -> Bool
    /// Answers the caller once the transaction's fate is known.
    func finish(commitError: (any Error)?)
}

private final class Job<T: Sendable>: PendingWrite, @unchecked Sendable {
    // `outcome` is written in `run` and read in `finish`, strictly one after the other on the drain task.
    private let work: @Sendable (Database) throws -> T
    private let savepoint: Bool
    /// The request's deadline (`RequestDeadline`): past it, the caller was told 503 and the work must not run.
    private let deadline: RequestDeadline?
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?

    init(
        work: @escaping @Sendable (Database) throws -> T, savepoint: Bool, deadline: RequestDeadline?,
        continuation: CheckedContinuation<T, any Error>
    ) {
        self.work = work
        self.savepoint = savepoint
        self.deadline = deadline
        self.continuation = continuation
    }

    func run(in db: Database) -> Bool {
        if let deadline, !deadline.claimForWrite() {
            // Nothing ran, so the transaction's other writes are unaffected.
            outcome = .failure(RequestDeadline.droppedError)
            return true
        }
        do {
            if savepoint {
                var value: T?
                try db.inSavepoint {
                    value = try work(db)
                    return .commit
                }
                outcome = .success(value!)
            } else {
                outcome = .success(try work(db))
            }
        } catch {
            outcome = .failure(error)
            return savepoint  // rolled back by its savepoint; without one, only the whole transaction can be
        }
        return true
    }

    func enterCommit() -> Bool {
        if case .failure? = outcome { return true }
        return deadline?.enterCommit() ?? true
    }

    func finish(commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: commitError)
        } else {
            continuation.resume(with: outcome ?? .failure(CancellationError()))
        }
    }
}
