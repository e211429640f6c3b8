import Foundation
import Ichigo

/// Where the audit stream stands: the newest record the receiver holds, by sequence number and hash (sequence 0 with
/// the genesis hash: none yet).
public struct AuditStreamPosition: Sendable, Hashable, CustomStringConvertible {
    public var sequence: Int64
    public var hash: String

    public init(sequence: Int64, hash: String) {
        self.sequence = sequence
        self.hash = hash
    }

    /// Before the first record.
    public static let start = AuditStreamPosition(sequence: 0, hash: AuditChain.genesis)

    /// The position just after `record`.
    public init(after record: AuditRecord) {
        self.init(sequence: record.sequence, hash: record.hash)
    }

    public var description: String { "record \(sequence)" }
}

/// The stream's cursor, `audit-stream.cursor` in the data directory: one line
/// `ichigo-audit-stream v1 <sequence> <hash>`, the newest record the receiver acknowledged. Rewritten (a new file
/// renamed into place, so a reader never sees half a line) after every delivery; not synced — after a power loss it
/// may be behind, and the stream then sends some records again, which at-least-once allows.
///
/// An operator may write a lower sequence into it while the server is stopped to have records sent again
/// (`ichigo-audit-stream v1 0 <64 zeros>`: everything from record 1).
public struct AuditStreamCursorFile: Sendable {
    public let path: String

    public init(path: String) { self.path = path }

    static let prefix = "ichigo-audit-stream v1"

    /// The stored position; `nil` if there is no cursor file.
    /// - Throws: `corruptData` if the file holds something else.
    public func read() throws -> AuditStreamPosition? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        let parts = text.split(separator: " ")
        guard parts.count == 4, "\(parts[0]) \(parts[1])" == Self.prefix, let sequence = Int64(parts[2]), sequence >= 0,
            parts[3].count == 64, parts[3].allSatisfy(\.isHexDigit)
        else {
            throw IchigoError(
                .corruptData, detail: "\(path) is not an audit stream cursor (`\(Self.prefix) <sequence> <hash>`)")
        }
        return AuditStreamPosition(sequence: sequence, hash: String(parts[3]))
    }

    /// Stores `position`, replacing the file in one rename.
    public func write(_ position: AuditStreamPosition) throws {
        let line = "\(Self.prefix) \(position.sequence) \(position.hash)\n"
        let temporary = path + ".new"
        guard
            FileManager.default.createFile(
                atPath: temporary, contents: Data(line.utf8), attributes: [.posixPermissions: 0o600])
        else { throw IchigoError(.corruptData, detail: "cannot write \(temporary)") }
        guard rename(temporary, path) == 0 else {
            throw IchigoError(.corruptData, detail: "cannot rename \(temporary) to \(path): errno \(errno)")
        }
    }
}

/// The stream's progress as a value (no I/O; time is a parameter): what the receiver has, and what it may not have
/// read yet.
///
/// "Delivered" means flushed to the destination: a file synced, or every byte acknowledged by the receiver's TCP stack.
/// A receiver that stops (a restart of rsyslog, a crash) may drop what its kernel acknowledged but it had not read
/// yet; so when a connection breaks, records delivered over it within `unreadWindow` before the break are sent again
/// (the receiver de-duplicates by sequence number).
struct AuditStreamProgress {
    /// The newest record delivered (and, after a break, not suspected unread).
    private(set) var position: AuditStreamPosition
    /// How long after delivery a record may still be unread by the receiver (zero: never, e.g. a synced file).
    let unreadWindow: Duration
    /// Deliveries on the current connection within `unreadWindow`: the position before each, and when it finished.
    private var recent: [(before: AuditStreamPosition, at: ContinuousClock.Instant)] = []

    init(position: AuditStreamPosition, unreadWindow: Duration) {
        self.position = position
        self.unreadWindow = unreadWindow
    }

    /// Records up to `newest` were delivered at `now`.
    mutating func delivered(upTo newest: AuditStreamPosition, at now: ContinuousClock.Instant) {
        if unreadWindow > .zero {
            recent.removeAll { now - $0.at > unreadWindow }
            recent.append((position, now))
        }
        position = newest
    }

    /// What to do when the connection broke.
    enum BreakAction: Equatable {
        /// Nothing delivered recently: carry on from `position`.
        case carryOn
        /// Send again from after `position` (and store it as the cursor).
        case rewind(to: AuditStreamPosition)
    }

    /// The connection that carried the recent deliveries broke at `now` (or a delivery on it failed).
    mutating func connectionBroke(at now: ContinuousClock.Instant) -> BreakAction {
        defer { recent.removeAll() }
        guard let oldest = recent.first(where: { now - $0.at <= unreadWindow }) else { return .carryOn }
        position = oldest.before
        return .rewind(to: oldest.before)
    }
}
