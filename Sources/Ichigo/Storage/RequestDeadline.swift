import Foundation
import Synchronization

/// The promise a request's deadline makes: a caller told "unavailable" (503) is never committed for afterwards — or,
/// when the database went away in the very middle of a `COMMIT`, the audit trail says that the answer was not
/// delivered.
///
/// The web layer gives each request one (`RequestDeadline.$current`, `DeadlineResponder`); stores read it when a
/// write is queued. Its states move once each way:
/// - `open` → `expired`: the deadline passed before any write of the request began; the caller hears 503 and every
///   write it queued is dropped before its work runs (`claimForWrite` fails), even when the database comes back a
///   minute later.
/// - `open` → `writing` (`claimForWrite`): a write's work runs in a transaction. The answer waits for it, up to a
///   grace period; past that, `abandon` moves it to `abandoned`, the caller hears 503, and the store rolls the
///   transaction back instead of committing it (`enterCommit` fails).
/// - `writing` → `committing` (`enterCommit`, just before `COMMIT`): from here the outcome is the database's. If the
///   grace period ends now, the caller hears 503 and the state becomes `undelivered`; the store then records in the
///   audit trail, once the commit is through, that this request's answer was not delivered.
///
/// A request without a deadline (the command line, background jobs, tests) writes as before.
public final class RequestDeadline: Sendable {
    /// The deadline of the request the current task serves.
    @TaskLocal public static var current: RequestDeadline?

    private enum State: UInt8 {
        case open, writing, expired, committing, abandoned, undelivered
    }
    private let state = Atomic<UInt8>(State.open.rawValue)
    /// What the request was (`POST /api/v1/users/…/verify`, with its request ID), for the audit trail.
    public let label: String

    public init(label: String = "") {
        self.label = label
    }

    private func move(from old: State, to new: State) -> (Bool, State) {
        let (exchanged, original) = state.compareExchange(
            expected: old.rawValue, desired: new.rawValue, ordering: .acquiringAndReleasing)
        return (exchanged, State(rawValue: original) ?? .open)
    }

    /// Called by a store as a write's work begins. `false`: the caller was told the request failed; drop the write.
    public func claimForWrite() -> Bool {
        let (moved, original) = move(from: .open, to: .writing)
        return moved || original == .writing || original == .committing || original == .undelivered
    }

    /// Called by a store just before `COMMIT`. `false`: the caller was told the request failed while its work ran;
    /// roll the transaction back.
    public func enterCommit() -> Bool {
        let (moved, original) = move(from: .writing, to: .committing)
        return moved || original == .committing || original == .undelivered || original == .open
    }

    /// Called when the deadline passes. `true`: no write of the request has begun and none will; answer 503.
    /// `false`: a write began; wait for it (then `abandon`).
    public func expire() -> Bool {
        let (moved, original) = move(from: .open, to: .expired)
        return moved || original == .expired
    }

    /// Called when the grace period for a write under way ends; the caller will hear 503 either way. `true`: the
    /// write had not reached its commit and will be rolled back. `false`: it was committing; the store records that
    /// the answer was not delivered.
    public func abandon() -> Bool {
        let (moved, original) = move(from: .writing, to: .abandoned)
        if moved || original == .abandoned { return true }
        if original == .committing { _ = move(from: .committing, to: .undelivered) }
        return false
    }

    /// Whether the caller was told 503 while this request's write was committing.
    public var isUndelivered: Bool { state.load(ordering: .acquiring) == State.undelivered.rawValue }

    /// The error a store answers a dropped write with.
    public static var droppedError: IchigoError {
        IchigoError(.serviceUnavailable, detail: "the request's deadline passed before its write; nothing was written")
    }

    /// The audit record of an answer not delivered (`isUndelivered`), written after the commit.
    public func undeliveredEvent(at now: Date) -> AuditEvent {
        AuditEvent(
            at: now, actor: "system", action: "request.undelivered", subject: label, outcome: "ok",
            reason: "committed after the caller was answered 503 at the deadline")
    }
}
