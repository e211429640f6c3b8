import Foundation
import Ichigo
import Synchronization

#if canImport(Glibc)
    import Glibc
#endif

/// The audit trail's signed head, in a file outside the database (`audit.head` beside SQLite's file,
/// `audit-postgres.head` in each PostgreSQL instance's data directory), advanced after every commit that appended
/// records. Before advancing, each write transaction checks that the record the file names is still in the database
/// with the same hash (`confirm`); if it is not, the newest records were deleted or rewritten behind Ichigo's back:
/// the head stops advancing (so `ichigo audit verify` keeps the evidence) and the problem is reported on standard
/// error and by `problem`.
///
/// Written without `fsync`: after a power loss the head may be behind the database (never ahead: it is written
/// after the commit), which only narrows what it proves. Several processes on one database (the server and a
/// CLI command, or several server instances sharing a data directory) advance it under `flock`, never backwards.
public final class AuditHeadFile: Sendable {
    public let path: String
    private let chain: AuditChain
    private let descriptor: Int32
    private let state = Mutex<String?>(nil)
    /// The head as last read or written here, with the file's size and change time then: while they are unchanged
    /// the file is not read, parsed and authenticated again on every commit.
    private let known = Mutex<(head: AuditHead, stamp: [Int])?>(nil)
    /// Where a stopped head is reported (the server's logger; standard error if not given).
    private let report: @Sendable (String) -> Void

    public init(
        path: String, chain: AuditChain,
        report: @escaping @Sendable (String) -> Void = {
            FileHandle.standardError.write(Data(("ERROR " + $0 + "\n").utf8))
        }
    ) throws {
        self.path = path
        self.chain = chain
        self.report = report
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard descriptor >= 0 else { throw IchigoError(.corruptData, detail: "cannot open \(path)") }
    }

    deinit { close(descriptor) }

    /// Why the head stopped advancing, if it did.
    public var problem: String? { state.withLock { $0 } }

    /// The head as stored, if any.
    public func read() -> AuditHead? {
        var buffer = [UInt8](repeating: 0, count: 512)
        let count = buffer.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, 512, 0) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer.prefix(count), as: UTF8.self)
        return text.split(separator: "\n").first.flatMap { AuditHead(line: $0) }
    }

    /// The file's size and modification time, to tell whether another process wrote it.
    private func stamp() -> [Int]? {
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { return nil }
        return [Int(info.st_size), Int(info.st_mtim.tv_sec), Int(info.st_mtim.tv_nsec), Int(info.st_ctim.tv_nsec)]
    }

    /// The head as this process last read or wrote it, if the file's stamp is still `stamp`.
    private func remembered(at stamp: [Int]?) -> AuditHead? {
        guard let stamp, let cached = known.withLock({ $0 }), cached.stamp == stamp else { return nil }
        return cached.head
    }

    /// The stored head and whether its signature verifies; from memory while the file is as this process last saw
    /// it. `nil`: no head yet.
    public func stored() -> (head: AuditHead, authentic: Bool)? {
        let now = stamp()
        if let head = remembered(at: now) { return (head, true) }
        guard let head = read() else { return nil }
        // Signed with a key version this process has not loaded (another instance already uses a rotation this one
        // has not read yet): it cannot be checked here, which is no proof of tampering. Treated as no head (as a
        // deleted file would be): not confirmed, overwritten by the next head this process signs if it is behind.
        guard chain.keyring.versions.contains(head.keyVersion) else { return nil }
        let authentic = chain.isAuthentic(head)
        if authentic, let now { known.withLock { $0 = (head, now) } }
        return (head, authentic)
    }

    /// The newest record a commit appended: where the head goes once that commit is durable.
    public struct Position: Sendable, Equatable {
        public let sequence: Int64
        public let hash: String

        public init(sequence: Int64, hash: String) {
            self.sequence = sequence
            self.hash = hash
        }
    }

    /// Inside the write transaction, before commit: whether the database still holds the record `head` names
    /// (`stored()`), with the same hash — `hashInDatabase` is the hash the database has at `head.head.sequence`,
    /// `nil` if it has no such record. If not (or the head's signature does not verify), the head stops here for
    /// good: the problem is reported, `problem` says it, and the result is `false`.
    public func confirm(_ head: (head: AuditHead, authentic: Bool), hashInDatabase: String?) -> Bool {
        if let hashInDatabase, constantTimeEqual(hashInDatabase, head.head.hash), head.authentic { return true }
        let message =
            "audit trail: record \(head.head.sequence) named by the signed head \(path) is "
            + (hashInDatabase == nil ? "missing" : "different")
            + " — the newest records were deleted or rewritten; the head stops here as evidence"
        state.withLock { $0 = message }
        report(message)
        return false
    }

    /// After the commit: signs and writes the head at `position` unless another process already wrote a later one.
    public func advance(to position: Position) {
        flock(descriptor, LOCK_EX)
        defer { flock(descriptor, LOCK_UN) }
        // The file as this process last wrote it (same size and change time) need not be read back.
        if let current = remembered(at: stamp()) ?? read(), current.sequence >= position.sequence { return }
        let head = chain.head(sequence: position.sequence, hash: position.hash, at: Date())
        let line = Array((head.description + "\n").utf8)
        _ = line.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, line.count, 0) }
        _ = ftruncate(descriptor, off_t(line.count))
        if let now = stamp() { known.withLock { $0 = (head, now) } }
    }
}
