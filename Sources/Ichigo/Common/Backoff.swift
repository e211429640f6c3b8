import Foundation
import Logging

/// How a background job (the mail sender, the session janitor, the audit stream) waits while what it needs is away
/// (the database, a receiver): its usual interval while it works, then twice as long after each failure in a row, up
/// to `maximum`; one log line when the trouble begins, one every `reminder` while it lasts, and one when it is over —
/// not one per attempt.
public struct Backoff: Sendable {
    public let job: String
    public let interval: Duration
    public let maximum: Duration
    public let reminder: Duration
    /// What the log lines say is wrong, and that it is over.
    let trouble: String
    let recovery: String
    public private(set) var failures = 0
    private var lastLogged: ContinuousClock.Instant?

    public init(
        job: String, interval: Duration, maximum: Duration = .seconds(30), reminder: Duration = .seconds(300),
        trouble: String = "the database is unavailable", recovery: String = "the database answers again"
    ) {
        self.job = job
        self.interval = interval
        self.maximum = max(interval, maximum)
        self.reminder = reminder
        self.trouble = trouble
        self.recovery = recovery
    }

    /// How long to wait before the next attempt.
    public var delay: Duration {
        guard failures > 0 else { return interval }
        var delay = interval
        for _ in 0..<min(failures, 30) {
            delay = delay * 2
            if delay >= maximum { return maximum }
        }
        return delay
    }

    /// An attempt failed: counts it and logs if the trouble just began or the last line is `reminder` old.
    public mutating func failed(_ error: any Error, logger: Logger, now: ContinuousClock.Instant = .now) {
        failures += 1
        if failures == 1 || lastLogged.map({ now - $0 >= reminder }) ?? true {
            lastLogged = now
            logger.error(
                "\(job): \(trouble); retrying with back-off",
                metadata: ["error": "\(error)", "failures": "\(failures)", "next_attempt": "\(delay)"])
        }
    }

    /// An attempt succeeded: logs the recovery if there was trouble.
    public mutating func succeeded(logger: Logger) {
        if failures > 0 {
            logger.notice("\(job): \(recovery)", metadata: ["failures": "\(failures)"])
        }
        failures = 0
        lastLogged = nil
    }
}
