import Foundation

/// How long the server works on a request, and what a caller hears past that.
public struct RequestDeadlines: Sendable, Equatable {
    /// Every request's (`http.deadline`, default 5 s): verifications, screens, the API.
    public var standard: Duration = .seconds(5)
    /// After the deadline, how long an answer may still wait for a write that began before it (its commit is bounded by
    /// the database's statement and lock timeouts, which equal `standard`).
    public var commitGrace: Duration = .seconds(5)
    /// `/ready`'s: a load balancer's health check must get an answer, 503 if the database does not answer in time.
    public var ready: Duration = .seconds(1)

    public init(standard: Duration = .seconds(5), commitGrace: Duration? = nil, ready: Duration = .seconds(1)) {
        self.standard = standard
        self.commitGrace = commitGrace ?? standard
        self.ready = ready
    }

    /// Seconds for `Retry-After`: the deadline, rounded up, at least 1.
    public var retryAfter: String { "\(max(1, standard.components.seconds + (standard.components.attoseconds > 0 ? 1 : 0)))" }
}

/// How many connections the server keeps and for how long (`http.*`; see the README's operations section).
public struct ConnectionLimits: Sendable, Equatable {
    /// The most connections open at once (`http.maxConnections`). Default: 10,000, or fewer so that 128 descriptors
    /// stay free for the database, the log and files (`defaultMaximum(descriptors:)`).
    public var maximum: Int
    /// A connection with no request under way is closed after this long (`http.idleTimeout`, default 30 s).
    public var idleTimeout: Duration
    /// A request's head (request line and headers) must arrive within this long of its first byte
    /// (`http.headerTimeout`, default 10 s): a client that trickles its headers is closed.
    public var headerTimeout: Duration

    public init(maximum: Int, idleTimeout: Duration = .seconds(30), headerTimeout: Duration = .seconds(10)) {
        self.maximum = maximum
        self.idleTimeout = idleTimeout
        self.headerTimeout = headerTimeout
    }

    /// Connections the descriptor limit leaves room for: the soft limit less 128 (at least 16), at most 10,000.
    public static func defaultMaximum(descriptors: Int) -> Int {
        max(16, min(10_000, descriptors - 128))
    }
}
