import Foundation
import Ichigo
import IchigoFiles
import Logging
import Metrics
import PostgresNIO
import Synchronization

/// Group commit on PostgreSQL: write transactions from concurrent callers of one instance run together in one
/// transaction, so one commit — one WAL flush with `synchronous_commit = on`, and one turn at the audit chain's head
/// lock — serves them all (the idea of `GroupCommit` for SQLite).
///
/// Each caller's work runs in a savepoint of its own (when the batch has more than one): a failure rolls back that
/// caller's work only and is that caller's answer. The audit events of every caller whose work succeeded are chained
/// last, under the lock on `audit_chain_head`, and no caller hears of its result before the `COMMIT` returned. If the
/// transaction fails as a whole (the commit, the connection), every caller of the batch gets the error — or, for a
/// deadlock or serialization failure, runs again in a later batch (at most 5 times), as does a single caller whose own
/// work lost a deadlock.
///
/// Up to `lanes` batches run at once, each on its own pooled connection: while one batch commits, the next one's work
/// runs. Batches of different lanes and instances meet only at the head lock, taken last.
final class PostgresGroupCommit: Sendable {
    private let client: PostgresClient
    private let chain: AuditChain
    /// The instance's signed head outside the database, checked under the head lock and advanced after each commit.
    private let auditHead: AuditHeadFile?
    private let logger: Logger
    /// The most writes with a savepoint of their own one transaction carries.
    private let maximumBatch: Int
    /// The most verifications one transaction carries (they need no savepoint: see `check`).
    private let maximumChecks: Int
    /// The most batches in flight at once.
    private let lanes: Int
    private let state = Mutex(State())

    private struct State {
        var pending: [any PendingWrite] = []
        var draining = 0
    }

    /// `ichigo_db_commit_batch_size`: writes per commit; `ichigo_db_commit_seconds`: time per batch (work and commit).
    private let batchSizes = Recorder(label: "ichigo_db_commit_batch_size", aggregate: true)
    private let commitTime = Metrics.Timer(label: "ichigo_db_commit_seconds")

    /// How often a write that lost a deadlock or a serialization check runs, in all.
    static let maximumAttempts = 5

    /// - Parameters:
    ///   - maximumBatch: at most 48 writes with savepoints per transaction: each writing savepoint takes a
    ///     subtransaction ID, and past 64 of them PostgreSQL's per-backend cache overflows, which slows every
    ///     session's snapshots.
    ///   - maximumChecks: verifications per transaction, beside those writes.
    ///   - lanes: batches in flight at once. Two: while one holds the audit head's lock (its chain, its commit), the
    ///     next reads and decides its tokens. More lanes only queue for that lock with smaller batches (measured with
    ///     `ichigo bench-core --concurrency 64`: 7,307/s with two, 6,253/s with four, 3,874/s with eight).
    init(
        client: PostgresClient, chain: AuditChain, auditHead: AuditHeadFile? = nil, logger: Logger,
        maximumBatch: Int = 48, maximumChecks: Int = 128, lanes: Int = 2
    ) {
        self.client = client
        self.chain = chain
        self.auditHead = auditHead
        self.logger = logger
        self.maximumBatch = maximumBatch
        self.maximumChecks = maximumChecks
        self.lanes = lanes
    }

    /// The verification hot path (`IchigoRepository.checkCode`), batched: the checks of one batch read their tokens
    /// with one `SELECT … FOR UPDATE`, are decided in order (two checks of one token see each other's effect), and
    /// write every changed token with one `UPDATE`; returns once the batch has committed.
    /// (`decide` checks the state it requires.)
    func check(
        user: UserID, at now: Date,
        audit: @escaping @Sendable (String, String, Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision
    ) async throws -> CodeCheck {
        let deadline = RequestDeadline.current
        return try await withCheckedThrowingContinuation { continuation in
            enqueue([
                CheckJob(
                    user: user, now: now, deadline: deadline, audit: audit, decide: decide, continuation: continuation)
            ])
        }
    }

    /// Runs `work` in a write transaction shared with other callers; returns once it has committed.
    /// A write of a request whose deadline passed before the write's turn came (`RequestDeadline`) is dropped:
    /// its work never runs.
    func write<T: Sendable>(_ work: @escaping @Sendable (PostgresTransaction) async throws -> T) async throws -> T {
        let deadline = RequestDeadline.current
        return try await withCheckedThrowingContinuation { continuation in
            enqueue([Job(work: work, deadline: deadline, continuation: continuation)])
        }
    }

    private func enqueue(_ jobs: [any PendingWrite]) {
        let startLane = state.withLock { state -> Bool in
            state.pending.append(contentsOf: jobs)
            guard state.draining < lanes else { return false }
            state.draining += 1
            return true
        }
        if startLane { Task { await self.drain() } }
    }

    /// One lane: takes batches until none is waiting.
    private func drain() async {
        while true {
            let batch = state.withLock { state -> [any PendingWrite] in
                if state.pending.isEmpty {
                    state.draining -= 1
                    return []
                }
                // In order, up to `maximumChecks` verifications and `maximumBatch` other writes.
                var checks = 0
                var others = 0
                for job in state.pending {
                    if job is CheckJob {
                        guard checks < maximumChecks else { break }
                        checks += 1
                    } else {
                        guard others < maximumBatch else { break }
                        others += 1
                    }
                }
                let count = checks + others
                let batch = Array(state.pending.prefix(count))
                state.pending.removeFirst(count)
                return batch
            }
            if batch.isEmpty { return }
            batchSizes.record(batch.count)
            let started = ContinuousClock.now
            let again = await run(batch)
            commitTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            if !again.isEmpty {
                // Lost to another transaction: a moment's pause, then a later batch.
                try? await Task.sleep(for: .milliseconds(Int.random(in: 1...10)))
                enqueue(again)
            }
        }
    }

    /// Runs `batch` in one transaction and answers its callers.
    /// - Returns: the writes to run again (they lost a deadlock or a serialization check).
    private func run(_ batch: [any PendingWrite]) async -> [any PendingWrite] {
        do {
            let newHead = try await client.withConnection { connection -> AuditHeadFile.Position? in
                _ = try await connection.execute(HotStatements.Begin(), logger: logger)
                do {
                    let checks = batch.compactMap { $0 as? CheckJob }
                    let others = batch.filter { !($0 is CheckJob) }
                    let isolated = others.count + (checks.isEmpty ? 0 : 1) > 1
                    var events: [AuditEvent] = []
                    if !checks.isEmpty {
                        events += try await runChecks(
                            checks, in: PostgresTransaction(connection: connection, logger: logger))
                    }
                    for job in others {
                        let transaction = PostgresTransaction(connection: connection, logger: logger)
                        if isolated { try await connection.query("SAVEPOINT job", logger: logger) }
                        do {
                            try await job.run(in: transaction)
                            if isolated { try await connection.query("RELEASE SAVEPOINT job", logger: logger) }
                            events += transaction.auditEvents
                        } catch {
                            // Alone in the batch, the job's failure is the transaction's.
                            guard isolated else { throw error }
                            try await connection.query("ROLLBACK TO SAVEPOINT job", logger: logger)
                            try await connection.query("RELEASE SAVEPOINT job", logger: logger)
                            job.failed(with: error)
                        }
                    }
                    let newHead = try await appendChained(
                        events, in: PostgresTransaction(connection: connection, logger: logger))
                    // A caller answered 503 while its work ran (`RequestDeadline.abandon`): roll back rather than
                    // commit what it was told failed; the others run again.
                    let abandoned = batch.filter { !$0.enterCommit() }
                    if !abandoned.isEmpty { throw AbandonedByDeadline(jobs: abandoned) }
                    _ = try await connection.execute(HotStatements.Commit(), logger: logger)
                    return newHead
                } catch {
                    _ = try? await connection.query("ROLLBACK", logger: logger)
                    throw error
                }
            }
            if let newHead { auditHead?.advance(to: newHead) }
        } catch let abandonment as AbandonedByDeadline {
            // Nothing of the batch was committed: the abandoned callers hear so (they were answered 503 already),
            // the others run again.
            var again: [any PendingWrite] = []
            for job in batch {
                if abandonment.jobs.contains(where: { $0 === job }) {
                    job.finish(throwing: RequestDeadline.droppedError)
                } else if job.retry() {
                    again.append(job)
                } else {
                    job.finish(throwing: RequestDeadline.droppedError)
                }
            }
            return again
        } catch {
            // Nothing of the batch was committed.
            var again: [any PendingWrite] = []
            for job in batch {
                if PostgresStoreError.isRetryable(error), job.retry() {
                    again.append(job)
                } else {
                    job.finish(throwing: error)
                }
            }
            return again
        }
        // Committed while its caller was being told 503 (the database stalled in the middle of the commit): the audit
        // trail says that the answer was not delivered.
        let undelivered = batch.compactMap { $0.deadline?.isUndelivered == true ? $0.deadline : nil }
        if !undelivered.isEmpty {
            let now = Date()
            let events = undelivered.map { $0.undeliveredEvent(at: now) }
            let logger = logger
            Task {
                do {
                    _ = try await self.write { transaction in for event in events { transaction.append(event) } }
                } catch {
                    logger.error("could not record an undelivered answer", metadata: ["error": "\(error)"])
                }
            }
        }
        var again: [any PendingWrite] = []
        for job in batch {
            if job.lostRace, job.retry() {
                again.append(job)
            } else {
                job.finish(throwing: nil)
            }
        }
        return again
    }

    /// The checks of a batch (see `check`): returns their audit events, in order.
    private func runChecks(_ checks: [CheckJob], in transaction: PostgresTransaction) async throws -> [AuditEvent] {
        // The tokens, locked in one order (by id) so that batches of several lanes and instances never deadlock.
        let users = Array(Set(checks.map(\.user.rawValue)))
        var tokenOf: [String: String] = [:]
        var tokens: [String: Token] = [:]
        for try await row in try await transaction.connection.execute(
            HotStatements.LockTokens(users: users), logger: transaction.logger)
        {
            let token = try Token(stored: Columns(row, prefix: "t_"))
            tokenOf[try Columns(row)["user_id"]] = token.id.rawValue
            tokens[token.id.rawValue] = token
        }
        var changed: [String] = []
        var events: [AuditEvent] = []
        for job in checks {
            // The caller was told 503 already (its deadline passed while the batch waited): nothing of it is written.
            if let deadline = job.deadline, !deadline.claimForWrite() {
                job.dropped = true
                continue
            }
            // A user unknown or without a token: the step-by-step path says which, with its own audit record.
            guard let id = tokenOf[job.user.rawValue], var token = tokens[id] else {
                job.result = .stepByStep
                continue
            }
            let subject = token.serial.rawValue
            switch job.decide(token) {
            case .stepByStep:
                job.result = .stepByStep
            case .refuse(let reason):
                events.append(job.audit(subject, "refused", reason))
                job.result = .decided(.refused(reason), failureCount: token.failureCount)
            case .accept(let step, let drift):
                // The token is locked (`LockTokens`) and `decide` saw it as it is now, with this batch's earlier
                // acceptances applied: the once-only rule held in `CodeRule.judge`.
                token = token.accepting(step: step, driftSteps: drift, at: job.now)
                events.append(job.audit(subject, "accepted", nil))
                job.result = .decided(.accepted(step: step, serial: token.serial), failureCount: 0)
            case .wrong:
                // `decide` sends a failure that may lock the token step by step.
                token = token.countingFailure(lockingAt: nil, at: job.now)
                events.append(job.audit(subject, "refused", .invalidCode))
                job.result = .decided(.refused(.invalidCode), failureCount: token.failureCount)
            }
            if tokens[id] != token {
                if !changed.contains(id) { changed.append(id) }
                tokens[id] = token
            }
        }
        guard !changed.isEmpty else { return events }
        var update = HotStatements.UpdateTokens()
        for token in changed.compactMap({ tokens[$0] }) { update.append(token) }
        _ = try await transaction.connection.execute(update, logger: transaction.logger)
        return events
    }

    /// Chains `events` after the head of the trail and writes them, moving the head on. Called last in a transaction:
    /// the head row stays locked until the commit. With the same statement that locks the head, checks that the record
    /// the signed head file names is still in the database with its hash (`AuditHeadFile.confirm`).
    /// - Returns: where the signed head file goes once the transaction has committed (`nil`: nowhere).
    private func appendChained(
        _ events: [AuditEvent], in transaction: PostgresTransaction
    ) async throws -> AuditHeadFile.Position? {
        guard !events.isEmpty else { return nil }
        // Read before the statement starts, so every record the file names is in the statement's snapshot (the file
        // is written only after the record's commit).
        let signed = auditHead?.problem == nil ? auditHead?.stored() : nil
        var head: (sequence: Int64, hash: String, hashAtSigned: String?)?
        for try await row in try await transaction.connection.execute(
            HotStatements.LockAuditHead(checking: signed?.head.sequence), logger: transaction.logger)
        {
            head = row
        }
        guard let head else { throw IchigoError(.corruptData, detail: "audit_chain_head has no row") }
        var previous = (sequence: head.sequence, hash: head.hash)
        var append = HotStatements.AppendAudit()
        for event in events {
            let record = chain.record(for: event, after: previous)
            append.append(record)
            previous = (record.sequence, record.hash)
        }
        _ = try await transaction.connection.execute(append, logger: transaction.logger)
        _ = try await transaction.connection.execute(
            HotStatements.MoveAuditHead(sequence: previous.sequence, hash: previous.hash), logger: transaction.logger)
        guard let auditHead, auditHead.problem == nil else { return nil }
        if let signed, !auditHead.confirm(signed, hashInDatabase: head.hashAtSigned) { return nil }
        return AuditHeadFile.Position(sequence: previous.sequence, hash: previous.hash)
    }
}

/// Thrown before `COMMIT` when callers of the batch were answered 503 while its work ran.
private struct AbandonedByDeadline: Error {
    let jobs: [any PendingWrite]
}

/// A queued write, type-erased. Touched by one lane at a time: the queue hands it over under its lock.
private protocol PendingWrite: AnyObject, Sendable {
    /// The deadline of the request that queued it, if any.
    var deadline: RequestDeadline? { get }
    /// Just before `COMMIT`: false when the caller was answered 503 meanwhile (see `RequestDeadline.enterCommit`).
    func enterCommit() -> Bool
    /// Runs the work, keeping its result for `finish`.
    func run(in transaction: PostgresTransaction) async throws
    /// Keeps the work's error (its savepoint was rolled back) for `finish`.
    func failed(with error: any Error)
    /// Whether the work's own error was a lost deadlock or serialization check.
    var lostRace: Bool { get }
    /// Prepares another attempt; false when the write has had all of its attempts.
    func retry() -> Bool
    /// Answers the caller: with `commitError` if the transaction failed, else with the work's own outcome.
    func finish(throwing commitError: (any Error)?)
}

private final class Job<T: Sendable>: PendingWrite, @unchecked Sendable {
    // `outcome` and `attempts` are touched by one lane at a time (see `PendingWrite`).
    private let work: @Sendable (PostgresTransaction) async throws -> T
    let deadline: RequestDeadline?
    private let continuation: CheckedContinuation<T, any Error>
    private var outcome: Result<T, any Error>?
    private var attempts = 1

    init(
        work: @escaping @Sendable (PostgresTransaction) async throws -> T, deadline: RequestDeadline?,
        continuation: CheckedContinuation<T, any Error>
    ) {
        self.work = work
        self.deadline = deadline
        self.continuation = continuation
    }

    func run(in transaction: PostgresTransaction) async throws {
        // Dropped when the caller was told 503 already: thrown before any statement, so nothing of it is committed.
        if let deadline, !deadline.claimForWrite() { throw RequestDeadline.droppedError }
        outcome = .success(try await work(transaction))
    }

    func failed(with error: any Error) {
        outcome = .failure(error)
    }

    func enterCommit() -> Bool {
        // A job whose work failed (its savepoint rolled back) commits nothing of its own.
        if case .failure? = outcome { return true }
        return deadline?.enterCommit() ?? true
    }

    var lostRace: Bool {
        if case .failure(let error)? = outcome { return PostgresStoreError.isRetryable(error) }
        return false
    }

    func retry() -> Bool {
        guard attempts < PostgresGroupCommit.maximumAttempts else { return false }
        attempts += 1
        outcome = nil
        return true
    }

    func finish(throwing commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: PostgresStoreError.mapping(commitError))
            return
        }
        switch outcome {
        case .success(let value)?: continuation.resume(returning: value)
        case .failure(let error)?: continuation.resume(throwing: PostgresStoreError.mapping(error))
        case nil: continuation.resume(throwing: CancellationError())
        }
    }
}

/// A queued verification (`PostgresGroupCommit.check`): decided with the other checks of its batch.
private final class CheckJob: PendingWrite, @unchecked Sendable {
    // `result` and `attempts` are touched by one lane at a time (see `PendingWrite`).
    let user: UserID
    let now: Date
    let deadline: RequestDeadline?
    /// The deadline passed before the check's turn: nothing was decided or written.
    var dropped = false
    let audit: @Sendable (String, String, Refusal?) -> AuditEvent
    let decide: @Sendable (Token) -> CodeDecision
    private let continuation: CheckedContinuation<CodeCheck, any Error>
    var result: CodeCheck?
    private var attempts = 1

    init(
        user: UserID, now: Date, deadline: RequestDeadline?,
        audit: @escaping @Sendable (String, String, Refusal?) -> AuditEvent,
        decide: @escaping @Sendable (Token) -> CodeDecision, continuation: CheckedContinuation<CodeCheck, any Error>
    ) {
        self.user = user
        self.now = now
        self.deadline = deadline
        self.audit = audit
        self.decide = decide
        self.continuation = continuation
    }

    func run(in transaction: PostgresTransaction) async throws {
        throw IchigoError(.corruptData, detail: "a check runs with its batch's checks")
    }

    func failed(with error: any Error) {}

    func enterCommit() -> Bool {
        dropped || result == nil ? true : deadline?.enterCommit() ?? true
    }

    var lostRace: Bool { false }

    func retry() -> Bool {
        guard attempts < PostgresGroupCommit.maximumAttempts else { return false }
        attempts += 1
        result = nil
        return true
    }

    func finish(throwing commitError: (any Error)?) {
        if let commitError {
            continuation.resume(throwing: PostgresStoreError.mapping(commitError))
        } else if dropped {
            continuation.resume(throwing: RequestDeadline.droppedError)
        } else {
            continuation.resume(returning: result ?? .stepByStep)
        }
    }
}
