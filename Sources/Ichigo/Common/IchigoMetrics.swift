import CoreMetrics
import Synchronization
import Foundation

/// What Ichigo counts and times, through swift-metrics (Prometheus at `/metrics` when the server runs). Made once
/// from a factory — the server's Prometheus registry, or swift-metrics' no-op default in tests that do not look —
/// so the hot path never looks a metric up by name.
public struct IchigoMetrics: Sendable {
    /// `ichigo_otp_verifications_total{action, outcome}`: every code checked, by what it was for
    /// (`otp.verify`, `token.activate`, …) and how it ended (`accepted`, `invalid_code`, `replay`, `locked`, …).
    private let verifications: Cache<Counter>
    /// `ichigo_otp_verification_seconds`: time to check a code and record the outcome (durably).
    public let verificationDuration: CoreMetrics.Timer
    /// `ichigo_token_locks_total`: tokens locked by wrong codes.
    public let tokenLocks: Counter
    /// `ichigo_logins_total{audience, outcome}`: password logins (`accepted`, `wrong_password`, `locked`, …).
    private let logins: Cache<Counter>
    /// `ichigo_login_locks_total`: logins stopped by wrong passwords.
    public let loginLocks: Counter
    /// `ichigo_mails_total{event}`: mails `queued` (committed to the outbox), `sent`, `failed` (a try that failed).
    public let mailsQueued: Counter
    public let mailsSent: Counter
    public let mailsFailed: Counter
    /// Where the metrics are made (the server's Prometheus registry); the HTTP layer makes its own from it.
    public let factory: any MetricsFactory

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        verifications = Cache { dimensions in
            Counter(label: "ichigo_otp_verifications_total", dimensions: dimensions, factory: factory)
        }
        verificationDuration = CoreMetrics.Timer(label: "ichigo_otp_verification_seconds", dimensions: [], factory: factory)
        tokenLocks = Counter(label: "ichigo_token_locks_total", dimensions: [], factory: factory)
        logins = Cache { dimensions in Counter(label: "ichigo_logins_total", dimensions: dimensions, factory: factory) }
        loginLocks = Counter(label: "ichigo_login_locks_total", dimensions: [], factory: factory)
        mailsQueued = Counter(label: "ichigo_mails_total", dimensions: [("event", "queued")], factory: factory)
        mailsSent = Counter(label: "ichigo_mails_total", dimensions: [("event", "sent")], factory: factory)
        mailsFailed = Counter(label: "ichigo_mails_total", dimensions: [("event", "failed")], factory: factory)
    }

    /// Counts one checked code.
    public func verification(action: String, outcome: String) {
        verifications.get([("action", action), ("outcome", outcome)]).increment()
    }

    /// Times one checked code from `start`.
    public func verificationTook(since start: ContinuousClock.Instant) {
        verificationDuration.recordNanoseconds((ContinuousClock.now - start).nanoseconds)
    }

    /// Counts one password login.
    public func login(audience: String, outcome: String) {
        logins.get([("audience", audience), ("outcome", outcome)]).increment()
    }

    public func tokenLocked() { tokenLocks.increment() }
    public func loginLocked() { loginLocks.increment() }
    public func mailQueued(_ count: Int = 1) { if count > 0 { mailsQueued.increment(by: Int64(count)) } }
    public func mailSent() { mailsSent.increment() }
    public func mailFailed() { mailsFailed.increment() }

    /// Metrics made once per set of dimensions (the dimensions come from small fixed sets).
    final class Cache<Metric: Sendable>: Sendable {
        private let make: @Sendable ([(String, String)]) -> Metric
        private let made = LockedDictionary<Metric>()

        init(make: @escaping @Sendable ([(String, String)]) -> Metric) { self.make = make }

        func get(_ dimensions: [(String, String)]) -> Metric {
            let key = dimensions.map { "\($0.0)=\($0.1)" }.joined(separator: ",")
            return made.value(for: key, orMake: { make(dimensions) })
        }
    }
}

final class LockedDictionary<Value: Sendable>: Sendable {
    private let storage = Mutex<[String: Value]>([:])

    func value(for key: String, orMake make: () -> Value) -> Value {
        storage.withLock { storage in
            if let found = storage[key] { return found }
            let value = make()
            storage[key] = value
            return value
        }
    }
}

extension Duration {
    /// The duration in whole nanoseconds, as swift-metrics timers take it.
    public var nanoseconds: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}
