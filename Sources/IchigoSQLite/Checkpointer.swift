import Foundation
import GRDB
import GRDBSQLite
import Ichigo
import Metrics
import Synchronization
#if canImport(Glibc)
    import Glibc
#endif

/// WAL checkpoints off the writer's thread.
///
/// SQLite's automatic checkpoint runs inside the commit that takes the WAL past 1,000 frames: it copies every page
/// of the WAL into the database file and syncs both, on the writer. Every verification waiting for the writer then
/// waits for that copy too — 5 to 70 ms, which was the whole of the verify benchmark's 99th percentile (with
/// checkpoints off, p99 fell from 18–77 ms to 4.6 ms at the same rate).
///
/// Instead, the writer connection's WAL hook (which replaces the automatic checkpoint) wakes this thread once the WAL
/// holds `threshold` frames (1,000, as SQLite's), and it runs a `PASSIVE` checkpoint on a connection of its own, beside the writer. Such a
/// checkpoint copies only the frames committed when it began, and the WAL can start over from its beginning only
/// once every frame has been copied; under steady load the writer has always committed more meanwhile. So when the
/// background checkpoint ends short, the writer copies the remainder itself between two batches — a few frames, not
/// a thousand — and its next commit starts the WAL over. The WAL stays near `threshold` frames, as before.
///
/// Durability is SQLite's: with `synchronous = NORMAL` a checkpoint syncs the WAL before it copies and the database
/// file before it lets the WAL be reused.
final class Checkpointer: Sendable {
    /// Frames in the WAL past which a checkpoint starts.
    private let threshold: Int32
    private let state: State
    private let thread: BatchThread<Int32>

    /// - Parameters:
    ///   - path: the database file; the checkpointer opens its own connection to it at its first checkpoint.
    ///   - synchronous: the writer's `PRAGMA synchronous`, for this connection too.
    ///   - threshold: frames in the WAL past which a checkpoint starts (SQLite's automatic checkpoint: 1,000).
    init(path: String, synchronous: String, threshold: Int32) {
        self.threshold = threshold
        let state = State(path: path, synchronous: synchronous)
        self.state = state
        thread = BatchThread(name: "ichigo-sqlite-checkpoint", maximumBatch: .max) { _ in state.checkpointInBackground() }
    }

    /// Installs the WAL hook on the writer connection `db` (replacing SQLite's automatic checkpoint).
    func install(on db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, walHook, Unmanaged.passUnretained(self).toOpaque())
    }

    /// Removes the WAL hook from the writer connection `db`.
    static func uninstall(from db: Database) {
        sqlite3_wal_hook(db.sqliteConnection, nil, nil)
    }

    /// Called on the writer thread by the WAL hook after each commit, with the frames now in the WAL.
    fileprivate func walHas(frames: Int32) {
        guard frames >= threshold, !state.catchUp.load(ordering: .acquiring),
            !state.running.exchange(true, ordering: .acquiringAndReleasing)
        else { return }
        if !thread.submit(frames) { state.running.store(false, ordering: .releasing) }
    }

    /// On the writer thread, between two batches: copies what the last background checkpoint left, if it ended
    /// short, so that the next commit starts the WAL over.
    func catchUpIfNeeded(on pool: DatabasePool) {
        guard state.catchUp.load(ordering: .acquiring) else { return }
        let started = ContinuousClock.now
        _ = try? pool.writeWithoutTransaction { db in try db.checkpoint(.passive) }
        state.writerTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        state.catchUp.store(false, ordering: .releasing)
    }

    /// Stops the thread once its checkpoint is done, and closes its connection.
    func stop() {
        thread.stopAndWait()
        state.close()
    }

    private final class State: Sendable {
        let path: String
        let synchronous: String
        let connection = Mutex<DatabaseQueue?>(nil)
        /// A background checkpoint is under way (or queued).
        let running = Atomic<Bool>(false)
        /// The last background checkpoint ended short: the writer copies the rest.
        let catchUp = Atomic<Bool>(false)
        /// `ichigo_db_checkpoint_seconds{thread}`: time per checkpoint, in the background and on the writer.
        let backgroundTime = Metrics.Timer(label: "ichigo_db_checkpoint_seconds", dimensions: [("thread", "checkpoint")])
        let writerTime = Metrics.Timer(label: "ichigo_db_checkpoint_seconds", dimensions: [("thread", "writer")])

        init(path: String, synchronous: String) {
            self.path = path
            self.synchronous = synchronous
        }

        func checkpointInBackground() {
            defer { running.store(false, ordering: .releasing) }
            let started = ContinuousClock.now
            let result = connection.withLock { connection -> (walFrameCount: Int, checkpointedFrameCount: Int)? in
                do {
                    if connection == nil {
                        var configuration = Configuration()
                        let synchronous = synchronous
                        configuration.prepareDatabase { db in try db.execute(sql: "PRAGMA synchronous = \(synchronous)") }
                        connection = try DatabaseQueue(path: path, configuration: configuration)
                    }
                    return try connection?.writeWithoutTransaction { db in
                        // The second pass copies what was committed during the first; then the database file is
                        // synced here (SQLite syncs it only when a checkpoint copied the whole WAL), so that the
                        // writer's catch-up has a few frames to copy and sync, not the thousand copied here.
                        _ = try db.checkpoint(.passive)
                        let result = try db.checkpoint(.passive)
                        try syncDatabaseFile()
                        return result
                    }
                } catch {
                    // Busy or failed: the next commit past the threshold tries again.
                    return nil
                }
            }
            backgroundTime.recordNanoseconds((ContinuousClock.now - started).nanoseconds)
            // What it reports as the WAL is the WAL when it began: the writer has almost always committed more since,
            // and the WAL starts over only if a write transaction begins when every frame has been copied.
            if result != nil { catchUp.store(true, ordering: .releasing) }
        }

        /// `fdatasync` of the database file: flushes the pages the checkpoint wrote (through any descriptor).
        private func syncDatabaseFile() throws {
            let descriptor = open(path, O_RDWR | O_CLOEXEC)
            guard descriptor >= 0 else { throw IchigoError(.corruptData, detail: "cannot open \(path)") }
            defer { _ = Glibc.close(descriptor) }
            guard fdatasync(descriptor) == 0 else { throw IchigoError(.corruptData, detail: "fdatasync of \(path)") }
        }

        func close() {
            connection.withLock { connection in
                try? connection?.close()
                connection = nil
            }
        }
    }
}

/// The writer connection's WAL hook: called after each commit with the number of frames in the WAL.
private func walHook(
    context: UnsafeMutableRawPointer?, db: OpaquePointer?, name: UnsafePointer<CChar>?, frames: Int32
) -> Int32 {
    if let context { Unmanaged<Checkpointer>.fromOpaque(context).takeUnretainedValue().walHas(frames: frames) }
    return SQLITE_OK
}
