import CoreMetrics
import Foundation
import Ichigo
import IchigoFiles
import Logging
import NIOPosix
import ServiceLifecycle
import Synchronization

/// What the audit stream counts, from the server's metrics factory (Prometheus at `/metrics`).
public struct AuditStreamMetrics: Sendable {
    /// `ichigo_audit_stream_sent_total`: records delivered (flushed), resends included.
    let sent: Counter
    /// `ichigo_audit_stream_failures_total`: deliveries or reads that failed (each retried with back-off).
    let failures: Counter
    /// `ichigo_audit_stream_lag`: records in the database not yet delivered.
    let lag: Gauge
    /// `ichigo_audit_stream_position`: the sequence number of the newest record delivered.
    let position: Gauge

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        sent = Counter(label: "ichigo_audit_stream_sent_total", dimensions: [], factory: factory)
        failures = Counter(label: "ichigo_audit_stream_failures_total", dimensions: [], factory: factory)
        lag = Gauge(label: "ichigo_audit_stream_lag", dimensions: [], factory: factory)
        position = Gauge(label: "ichigo_audit_stream_position", dimensions: [], factory: factory)
    }
}

/// The newest audit record known to be on disk, from the signed head file: SQLite's group commit advances it only
/// after syncing the WAL, while a committed record is visible to readers a moment before. Streaming no further than
/// the head keeps a power loss from leaving the SIEM with a record the database no longer has.
public final class SyncedAuditHead: Sendable {
    let file: AuditHeadFile
    private let lastAuthentic = Mutex<Int64?>(nil)

    public init(file: AuditHeadFile) { self.file = file }

    /// The head's sequence number; `nil` (no limit) when there is no head yet or it stopped advancing as evidence of
    /// tampering — the stream then sends whatever is committed.
    public func newestSynced() -> Int64? {
        guard file.problem == nil, let stored = file.stored() else { return nil }
        guard stored.authentic else {
            // A head read while it was being rewritten: the last good one until the next pass.
            return lastAuthentic.withLock { $0 } ?? 0
        }
        lastAuthentic.withLock { $0 = stored.head.sequence }
        return stored.head.sequence
    }
}

/// Streams the audit trail to the bank's SIEM: tails the database from a cursor and delivers every committed record,
/// in order, to a sink (`SyslogAuditSink`, `JSONLinesAuditSink`). Runs in the server's service group.
///
/// **At least once, no gaps.** The cursor (`AuditStreamCursorFile`: the newest record delivered, by sequence number
/// and hash; for a file sink, the file's last complete line first) is written after each delivery, and the stream
/// resumes after it — after a reconnect, and after a restart. A record may therefore arrive twice, never not at all;
/// the receiver de-duplicates by sequence number (and a sequence number seen with two different hashes is a fork: a
/// restore from an older backup, or tampering). At start the cursor is checked against the database (the record it
/// names must be there with the same hash); if it is not, the stream says so and sends the whole trail again.
///
/// **Never in the way.** The stream reads through the store's readers (never its writer), one batch at a time, after
/// commit; a receiver that is down is retried with back-off (`Backoff`, one log line per episode) while verifications
/// go on. `ichigo_audit_stream_lag` shows how far behind it is.
public struct AuditStream: Service, CustomStringConvertible {
    public var description: String { "AuditStream" }

    let worker: Worker

    /// Where the records go, for messages.
    public var destination: String { worker.sink.destination }

    /// - Parameters:
    ///   - source: the store to tail.
    ///   - sink: where records go.
    ///   - cursor: the cursor file (`audit-stream.cursor` in the data directory).
    ///   - syncedHead: the newest record on disk, if the store's commits become visible before they are synced
    ///     (SQLite); `nil`: every committed record is durable (PostgreSQL).
    ///   - interval: how often the database is asked for new records while the stream is caught up.
    ///   - batchSize: the most records read and delivered at once.
    public init(
        source: any AuditTrailReader, sink: any AuditSink, cursor: AuditStreamCursorFile,
        syncedHead: SyncedAuditHead? = nil, logger: Logger, metrics: AuditStreamMetrics = AuditStreamMetrics(),
        interval: Duration = .milliseconds(200), batchSize: Int = 1000, attemptTimeout: Duration = .seconds(30)
    ) {
        worker = Worker(
            source: source, sink: sink, cursor: cursor, syncedHead: syncedHead, logger: logger, metrics: metrics,
            interval: interval, batchSize: batchSize, attemptTimeout: attemptTimeout)
    }

    public func run() async throws {
        let worker = self.worker
        await worker.announce()
        try? await cancelWhenGracefulShutdown {
            while !Task.isCancelled {
                let pause = await worker.pass()
                if pause > .zero { try await Task.sleep(for: pause) }
            }
        }
        // On a graceful shutdown: what was committed last still goes out, if the receiver answers at once.
        _ = await race(limit: .seconds(2)) { await worker.finalPass() }
        await worker.sink.close()
    }

    /// One pass at a time, for tests: delivers what is due and returns how long the service would wait.
    @discardableResult
    public func pass() async -> Duration { await worker.pass() }

    /// The newest record delivered (`nil` before the first pass).
    public var position: AuditStreamPosition? { get async { await worker.progress?.position } }

    actor Worker {
        let source: any AuditTrailReader
        let sink: any AuditSink
        let cursor: AuditStreamCursorFile
        let syncedHead: SyncedAuditHead?
        let logger: Logger
        let metrics: AuditStreamMetrics
        let interval: Duration
        let batchSize: Int
        let attemptTimeout: Duration
        private(set) var progress: AuditStreamProgress?
        private var receiver: Backoff
        private var database: Backoff
        /// Problems already logged, so that each is logged once while it lasts.
        private var reported: Set<String> = []

        init(
            source: any AuditTrailReader, sink: any AuditSink, cursor: AuditStreamCursorFile,
            syncedHead: SyncedAuditHead?, logger: Logger, metrics: AuditStreamMetrics, interval: Duration,
            batchSize: Int, attemptTimeout: Duration
        ) {
            self.source = source
            self.sink = sink
            self.cursor = cursor
            self.syncedHead = syncedHead
            self.logger = logger
            self.metrics = metrics
            self.interval = interval
            self.batchSize = batchSize
            self.attemptTimeout = attemptTimeout
            receiver = Backoff(
                job: "audit stream", interval: interval, maximum: .seconds(30),
                trouble: "\(sink.destination) does not take records",
                recovery: "\(sink.destination) takes records again")
            database = Backoff(job: "audit stream", interval: interval, maximum: .seconds(30))
        }

        func announce() {
            logger.info("audit stream to \(sink.destination)", metadata: ["audit_stream.cursor": "\(cursor.path)"])
        }

        /// Reads what is due and delivers it. Returns how long to wait before the next pass (zero: more is waiting).
        func pass() async -> Duration {
            if progress == nil {
                switch await timed({ [self] in try await resume() }) {
                case .success(let position):
                    progress = AuditStreamProgress(position: position, unreadWindow: sink.unreadWindow)
                    metrics.position.record(Double(position.sequence))
                    database.succeeded(logger: logger)
                case .failure(let error):
                    metrics.failures.increment()
                    database.failed(error, logger: logger)
                    return database.delay
                }
            }
            guard var progress else { return interval }
            if await sink.connectionBroke() {
                await rewind(&progress, reason: "the connection to \(sink.destination) closed")
            }
            self.progress = progress
            let from = progress.position
            let limit = batchSize
            let source = self.source
            let read = await timed { try await source.auditRecords(from: from.sequence + 1, limit: limit) }
            guard case .success(let fetched) = read else {
                if case .failure(let error) = read {
                    metrics.failures.increment()
                    database.failed(error, logger: logger)
                }
                return database.delay
            }
            database.succeeded(logger: logger)
            let synced = syncedHead?.newestSynced()
            let records = synced.map { bound in Array(fetched.prefix { $0.sequence <= bound }) } ?? fetched
            let newest = await newestCommitted(fetched: fetched)
            guard let first = records.first, let last = records.last else {
                recordLag(newest: newest, delivered: from.sequence)
                return interval
            }
            checkContinuity(of: first, after: from)
            let sink = self.sink
            switch await timed({ try await sink.deliver(records) }) {
            case .success:
                progress.delivered(upTo: AuditStreamPosition(after: last), at: .now)
                self.progress = progress
                receiver.succeeded(logger: logger)
                metrics.sent.increment(by: Int64(records.count))
                metrics.position.record(Double(last.sequence))
                recordLag(newest: newest, delivered: last.sequence)
                await store(progress.position)
                return records.count == batchSize ? .zero : interval
            case .failure(let error):
                metrics.failures.increment()
                receiver.failed(error, logger: logger)
                await sink.close()
                await rewind(&progress, reason: nil)
                self.progress = progress
                recordLag(newest: newest, delivered: progress.position.sequence)
                return receiver.delay
            }
        }

        /// The last pass before the server stops: only if the receiver has been answering.
        func finalPass() async {
            guard progress != nil, receiver.failures == 0, database.failures == 0 else { return }
            _ = await pass()
        }

        /// Where to start: the sink's own position (a file's last line), else the cursor file, each checked against
        /// the database; else record 1.
        private func resume() async throws -> AuditStreamPosition {
            var candidates: [(position: AuditStreamPosition, from: String)] = []
            if let stored = try await sink.storedPosition() {
                candidates.append((stored, "the last line of \(sink.destination)"))
            }
            let cursor = self.cursor
            if let saved = try await NIOThreadPool.singleton.runIfActive({ try cursor.read() }) {
                candidates.append((saved, cursor.path))
            }
            for candidate in candidates {
                if candidate.position.sequence == 0 { return .start }
                let found = try await source.auditRecords(from: candidate.position.sequence, limit: 1).first
                if let found, found.sequence == candidate.position.sequence,
                    constantTimeEqual(found.hash, candidate.position.hash)
                {
                    logger.info(
                        "audit stream resumes after record \(found.sequence)",
                        metadata: ["audit_stream.from": "\(candidate.from)"])
                    return candidate.position
                }
                logger.error(
                    "audit stream: \(candidate.from) names record \(candidate.position.sequence), which the database \(found?.sequence == candidate.position.sequence ? "holds with another hash" : "does not hold") — the database was restored from an older backup or the trail was rewritten; the receiver will see these sequence numbers again with other hashes"
                )
            }
            if candidates.isEmpty {
                logger.notice("audit stream: nothing delivered yet; starting with record 1")
            } else {
                logger.error(
                    "audit stream: no cursor matches the database; sending the whole trail again from record 1")
            }
            return .start
        }

        /// After a break: the records the receiver may not have read are sent again; the cursor says so at once.
        private func rewind(_ progress: inout AuditStreamProgress, reason: String?) async {
            if case .rewind(let position) = progress.connectionBroke(at: .now) {
                logger.notice(
                    "audit stream: \(reason ?? "a delivery failed"); records after \(position.sequence) are sent again")
                await store(position)
            }
        }

        /// Writes the cursor; a failure is logged once (the records go out again after a restart, nothing is lost).
        private func store(_ position: AuditStreamPosition) async {
            let cursor = self.cursor
            do {
                try await NIOThreadPool.singleton.runIfActive { try cursor.write(position) }
                if reported.remove("cursor") != nil { logger.notice("audit stream: the cursor is written again") }
            } catch {
                if reported.insert("cursor").inserted {
                    logger.error(
                        "audit stream: cannot write the cursor; after a restart records are sent again",
                        metadata: ["error": "\(error)"])
                }
            }
        }

        /// The newest committed record: the last one read unless the read was a full batch (or empty); `nil` if the
        /// database could not say. Logs (once) a trail that ends before what was already delivered.
        private func newestCommitted(fetched: [AuditRecord]) async -> Int64? {
            guard let progress else { return nil }
            var newest = fetched.last?.sequence ?? progress.position.sequence
            if fetched.count == batchSize || fetched.isEmpty {
                guard let asked = try? await source.newestAuditSequence() else { return nil }
                newest = asked
            }
            if newest < progress.position.sequence {
                if reported.insert("shorter").inserted {
                    logger.error(
                        "audit stream: the database's audit trail ends at record \(newest), before record \(progress.position.sequence) already delivered — records were deleted, or the database was replaced"
                    )
                }
            } else {
                reported.remove("shorter")
            }
            return newest
        }

        /// `ichigo_audit_stream_lag`: committed records not yet delivered.
        private func recordLag(newest: Int64?, delivered: Int64) {
            guard let newest else { return }
            metrics.lag.record(Double(max(0, newest - delivered)))
        }

        /// Logs (once per episode) when the database's trail does not continue what was delivered.
        private func checkContinuity(of first: AuditRecord, after position: AuditStreamPosition) {
            if first.sequence == position.sequence + 1, constantTimeEqual(first.previousHash, position.hash) {
                reported.remove("fork")
                return
            }
            if reported.insert("fork").inserted {
                logger.error(
                    "audit stream: record \(first.sequence) does not follow record \(position.sequence) as delivered — records are missing or were rewritten; the receiver sees the break in the chain"
                )
            }
        }

        /// Runs `work` with the attempt time limit.
        private func timed<T: Sendable>(_ work: @escaping @Sendable () async throws -> T) async -> Result<T, any Error>
        {
            switch await race(limit: attemptTimeout, work) {
            case .finished(let result): return result
            case .timedOut:
                return .failure(IchigoError(.serviceUnavailable, detail: "no answer within \(attemptTimeout)"))
            }
        }
    }
}
