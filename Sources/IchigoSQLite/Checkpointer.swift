import Foundation
import GRDB
import GRDBSQLite
import Ichigo
import Metrics
import Synchronization

/// Copies the WAL back into the database file on a thread and connection of its own, so that the writer thread —
/// which every verification waits for — does not. SQLite's automatic checkpoint runs inside the commit that crosses
/// its threshold: that commit writes a thousand pages back and syncs the database file while every verification
/// queued behind it waits.
///
/// The writer's WAL hook (`install(on:)`, which replaces SQLite's automatic checkpoint) records the WAL's length
/// after each commit and wakes this thread past `thresholdFrames`. The checkpoints are PASSIVE: they take no lock
/// the writer needs, so it keeps committing meanwhile, and SQLite starts the WAL over at the writer's next
/// transaction once a checkpoint has copied all of it. Should this thread fall far behind (`backstopFrames`), the
/// hook checkpoints on the writer itself, as SQLite would have, so the WAL stays bounded.
final class Checkpointer: Sendable {
    /// A checkpoint starts once the WAL holds this many frames (SQLite's default threshold).
    static let thresholdFrames = 1_000
    /// The writer checkpoints itself past this (64 MiB of 4 KiB pages).
    static let backstopFrames = 16_384

    private let frames = Atomic<Int>(0)
    private let stopped = Atomic<Bool>(false)
    private let waiting = Atomic<Bool>(false)
    private let wakeup = DispatchSemaphore(value: 0)
    private let finished = DispatchSemaphore(value: 0)
    /// `ichigo_db_checkpoint_seconds`: time per checkpoint.
    private let checkpointTime = Metrics.Timer(label: "ichigo_db_checkpoint_seconds")

    init(path: String) throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(10)
        configuration.label = "checkpointer"
        // Its own connection: its checkpoints do not pass through the writer's queue.
        let connection = try DatabaseQueue(path: path, configuration: configuration)
        let thread = Thread { [self] in run(connection: connection) }
        thread.name = "ichigo-sqlite-checkpoint"
        thread.start()
    }

    /// Installs the WAL hook on the writer's connection (`db`); SQLite calls it after each commit, on the writer.
    /// The hook keeps this object alive for as long as the connection may call it (one small object per database
    /// opened, never freed).
    func install(on db: Database) {
        let context = Unmanaged.passRetained(self).toOpaque()
        sqlite3_wal_hook(
            db.sqliteConnection,
            { context, connection, name, frameCount in
                let checkpointer = Unmanaged<Checkpointer>.fromOpaque(context!).takeUnretainedValue()
                return checkpointer.committed(frameCount: Int(frameCount), connection: connection, name: name)
            }, context)
    }

    /// Tells the thread to stop after any checkpoint under way. From then on the writer checkpoints itself past
    /// `backstopFrames`.
    func stop() {
        guard !stopped.exchange(true, ordering: .acquiringAndReleasing) else { return }
        wakeup.signal()
    }

    /// `stop`, then waits for the thread to end.
    func stopAndWait() {
        stop()
        finished.wait()
        finished.signal()  // for any other caller waiting
    }

    private func committed(frameCount: Int, connection: OpaquePointer?, name: UnsafePointer<CChar>?) -> Int32 {
        frames.store(frameCount, ordering: .relaxed)
        if frameCount >= Self.backstopFrames {
            // Far behind (or stopped): copy on the writer, as SQLite's own automatic checkpoint does.
            sqlite3_wal_checkpoint_v2(connection, name, SQLITE_CHECKPOINT_PASSIVE, nil, nil)
        } else if frameCount >= Self.thresholdFrames, waiting.exchange(false, ordering: .acquiringAndReleasing) {
            wakeup.signal()
        }
        return SQLITE_OK
    }

    private func run(connection: DatabaseQueue) {
        defer {
            try? connection.close()
            finished.signal()
        }
        var lastCheckpointed = -1
        while !stopped.load(ordering: .acquiring) {
            if frames.load(ordering: .relaxed) >= Self.thresholdFrames {
                let started = ContinuousClock.now
                // A failed checkpoint loses nothing (the WAL keeps every commit): the next commit wakes us again.
                let result = try? connection.writeWithoutTransaction { db in try db.checkpoint(.passive) }
                checkpointTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
                // Copied everything there was: nothing to do until the writer has started the WAL over and filled
                // it again. Otherwise (commits came in meanwhile) go on copying.
                if let result, result.checkpointedFrameCount >= result.walFrameCount {
                    frames.store(0, ordering: .relaxed)
                } else if result == nil || result?.checkpointedFrameCount == lastCheckpointed {
                    usleep(5_000)  // no headway (a failure, or a reader holding an old snapshot): do not spin
                }
                lastCheckpointed = result?.checkpointedFrameCount ?? -1
                continue
            }
            waiting.store(true, ordering: .releasing)
            // Re-check after announcing: a commit past the threshold may have come in between.
            if frames.load(ordering: .relaxed) >= Self.thresholdFrames {
                if waiting.exchange(false, ordering: .acquiringAndReleasing) { continue }
            }
            wakeup.wait()
        }
    }
}
