import Foundation
import Ichigo
import Logging
import Metrics
import Synchronization

/// Whether the disk under a database has room: set when a write failed for lack of space, cleared by the next write
/// that succeeds or by a probe write that does. `/ready` answers 503 (`storage.full`) while it is set, so a load
/// balancer sends traffic elsewhere, and recovers by itself when space returns.
public final class StorageHealth: Sendable {
    /// The folder the database lives in: where the probe writes.
    public let directory: String
    private let full = Atomic<Bool>(false)
    private let logger = Logger(label: "ichigo.storage")
    /// `ichigo_storage_full_total`: writes refused because the disk was full.
    private let refusals = Counter(label: "ichigo_storage_full_total")
    /// How much the probe writes: enough that a write of a few transactions would fit too.
    static let probeBytes = 1 << 20

    public init(directory: String) {
        self.directory = directory
    }

    /// Whether the last write failed for lack of space (and no probe has found room since).
    public var isFull: Bool { full.load(ordering: .acquiring) }

    /// A write failed for lack of space: counted, and logged when the episode begins (not once per write).
    public func noteFull(path: String) {
        refusals.increment()
        if !full.exchange(true, ordering: .acquiringAndReleasing) {
            logger.error(
                "the disk is full: writes to the database fail and /ready answers 503 until space is freed",
                metadata: ["db.path": "\(path)", "storage.directory": "\(directory)"])
        }
    }

    /// A write succeeded: the disk has room.
    public func noteWritten() {
        if full.exchange(false, ordering: .acquiringAndReleasing) {
            logger.notice("the disk has room again: writes succeed", metadata: ["storage.directory": "\(directory)"])
        }
    }

    /// Throws `storageFull` while the disk is full. When the last write failed for lack of space, writes and syncs a
    /// probe file of 1 MiB beside the database (then removes it): if that succeeds, space has returned.
    public func checkSpace() throws {
        guard isFull else { return }
        let path = (directory as NSString).appendingPathComponent(".ichigo-space-probe")
        defer { unlink(path) }
        let descriptor = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard descriptor >= 0 else { throw IchigoError(.storageFull, detail: "cannot create a probe file in \(directory)") }
        defer { close(descriptor) }
        let chunk = [UInt8](repeating: 0, count: 64 * 1024)
        var written = 0
        while written < Self.probeBytes {
            let count = chunk.withUnsafeBytes { write(descriptor, $0.baseAddress, $0.count) }
            guard count > 0 else { throw IchigoError(.storageFull, detail: "the disk under \(directory) is full") }
            written += count
        }
        guard fsync(descriptor) == 0 else { throw IchigoError(.storageFull, detail: "the disk under \(directory) is full") }
        noteWritten()
    }
}
