import Foundation
import Ichigo
import HTTPTypes
import HummingbirdCore
import Logging
import Metrics
import NIOCore
import NIOHTTPTypes
import Synchronization

/// The process's open-file limit: raised at start from the soft to the hard limit, where the hard limit allows (the
/// common soft limit of 1,024 lets a thousand idle clients take every descriptor).
public enum DescriptorLimit {
    /// The soft limit now.
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        return Int(clamping: limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one (capped at 1,048,576). Returns the soft limit in force afterwards.
    @discardableResult
    public static func raise(logger: Logger) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
        let wanted = min(limit.rlim_max, 1_048_576)
        if limit.rlim_cur < wanted {
            let before = limit.rlim_cur
            limit.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 {
                logger.info("raised the open-file limit", metadata: ["from": "\(before)", "to": "\(wanted)"])
            } else {
                limit.rlim_cur = before
            }
        }
        return Int(clamping: limit.rlim_cur)
    }
}

/// The open connections and what each is doing, shared by every connection's handlers. At the limit, a new connection
/// takes the place of the one that has waited longest without a request under way (idle, or trickling a head), so
/// idle and slow clients cannot keep real ones out; only when every connection is serving a request is the new one
/// refused with 503.
final class ConnectionRegistry: Sendable {
    enum Phase: Sendable { case idle, readingHead, busy }

    struct Entry: Sendable {
        let channel: any Channel
        var phase: Phase
        var since: NIODeadline
        /// Bumped at each phase change: a timer set for an older generation does nothing.
        var generation: UInt64
        var requestsInFlight: Int
    }

    let limits: ConnectionLimits
    private let logger: Logger
    private let entries = Mutex<[ObjectIdentifier: Entry]>([:])
    private let lastLimitLog = Mutex<NIODeadline>(.uptimeNanoseconds(0))
    /// `ichigo_http_connections_closed_total{reason}`: connections the server closed (idle, header_timeout, evicted,
    /// refused).
    private let closedIdle = Counter(label: "ichigo_http_connections_closed_total", dimensions: [("reason", "idle")])
    private let closedHeader = Counter(
        label: "ichigo_http_connections_closed_total", dimensions: [("reason", "header_timeout")])
    private let evicted = Counter(label: "ichigo_http_connections_closed_total", dimensions: [("reason", "evicted")])
    private let refused = Counter(label: "ichigo_http_connections_closed_total", dimensions: [("reason", "refused")])

    init(limits: ConnectionLimits, logger: Logger) {
        self.limits = limits
        self.logger = logger
    }

    /// Open connections now.
    var count: Int { entries.withLock { $0.count } }

    enum Admission { case admitted(generation: UInt64), refused }

    /// A new connection: admitted (maybe in place of the longest-waiting idle one) or refused.
    func admit(_ channel: any Channel) -> Admission {
        let now = NIODeadline.now()
        let (admission, victim, atLimit) = entries.withLock {
            entries -> (Admission, (any Channel)?, Bool) in
            var victim: (any Channel)?
            var atLimit = false
            if entries.count >= limits.maximum {
                atLimit = true
                let candidate = entries.filter { $0.value.phase != .busy }.min { $0.value.since < $1.value.since }
                guard let candidate else { return (.refused, nil, true) }
                entries[candidate.key] = nil
                victim = candidate.value.channel
            }
            entries[ObjectIdentifier(channel)] = Entry(
                channel: channel, phase: .idle, since: now, generation: 1, requestsInFlight: 0)
            return (.admitted(generation: 1), victim, atLimit)
        }
        if let victim {
            evicted.increment()
            victim.close(promise: nil)
        }
        if case .refused = admission { refused.increment() }
        if atLimit { noteLimit(evicting: victim != nil) }
        return admission
    }

    private func noteLimit(evicting: Bool) {
        let now = NIODeadline.now()
        let due = lastLimitLog.withLock { last -> Bool in
            guard now - last >= .seconds(10) else { return false }
            last = now
            return true
        }
        if due {
            logger.warning(
                evicting
                    ? "connection limit reached: new connections take the place of the longest-idle ones"
                    : "connection limit reached and every connection is serving a request: new connections get 503",
                metadata: ["http.max_connections": "\(limits.maximum)"])
        }
    }

    func remove(_ channel: any Channel) {
        _ = entries.withLock { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    /// Bytes arrived: if no request was under way, a head has begun. Returns the generation to time it by.
    func bytesArrived(_ channel: any Channel) -> UInt64? {
        entries.withLock { entries -> UInt64? in
            guard var entry = entries[ObjectIdentifier(channel)], entry.phase == .idle else { return nil }
            entry.phase = .readingHead
            entry.since = .now()
            entry.generation += 1
            entries[ObjectIdentifier(channel)] = entry
            return entry.generation
        }
    }

    /// A request's head was read: the connection is serving it.
    func requestStarted(_ channel: any Channel) {
        entries.withLock { entries in
            guard var entry = entries[ObjectIdentifier(channel)] else { return }
            entry.requestsInFlight += 1
            entry.phase = .busy
            entry.generation += 1
            entries[ObjectIdentifier(channel)] = entry
        }
    }

    /// A response ended. Returns the generation to time the idle period by, when no request is under way.
    func responseEnded(_ channel: any Channel) -> UInt64? {
        entries.withLock { entries -> UInt64? in
            guard var entry = entries[ObjectIdentifier(channel)] else { return nil }
            entry.requestsInFlight = max(0, entry.requestsInFlight - 1)
            guard entry.requestsInFlight == 0 else {
                entries[ObjectIdentifier(channel)] = entry
                return nil
            }
            entry.phase = .idle
            entry.since = .now()
            entry.generation += 1
            entries[ObjectIdentifier(channel)] = entry
            return entry.generation
        }
    }

    /// A timer set at `generation` for `phase` fired: closes the connection if nothing happened since.
    func timerFired(_ channel: any Channel, generation: UInt64, phase: Phase) {
        let expired = entries.withLock { entries -> Bool in
            guard let entry = entries[ObjectIdentifier(channel)], entry.generation == generation,
                entry.phase == phase
            else { return false }
            entries[ObjectIdentifier(channel)] = nil
            return true
        }
        guard expired else { return }
        (phase == .readingHead ? closedHeader : closedIdle).increment()
        channel.close(promise: nil)
    }

    /// The answer to a connection over the limit, written before the HTTP codec.
    static let refusal: ByteBuffer = {
        let body = ErrorMiddleware<IchigoRequestContext>.jsonBody(
            code: "service.unavailable", message: "The server has too many connections. Please try again in a moment.",
            field: nil)
        var buffer = ByteBuffer(
            string: "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\n"
                + "Retry-After: 1\r\nConnection: close\r\nContent-Length: \(body.count)\r\n\r\n")
        buffer.writeBytes(body)
        return buffer
    }()
}

/// First in each connection's pipeline (raw bytes): registers the connection, refuses it over the limit, and times
/// the idle period and the head's arrival.
final class ConnectionGuardHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer
    typealias InboundOut = ByteBuffer

    private let registry: ConnectionRegistry
    private var refused = false
    private var admitted = false

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { admit(context) }
    }

    func channelActive(context: ChannelHandlerContext) {
        admit(context)
        if !refused { context.fireChannelActive() }
    }

    private func admit(_ context: ChannelHandlerContext) {
        guard !admitted else { return }
        admitted = true
        switch registry.admit(context.channel) {
        case .refused:
            refused = true
            let channel = context.channel
            context.writeAndFlush(NIOAny(ConnectionRegistry.refusal)).whenComplete { _ in channel.close(promise: nil) }
        case .admitted(let generation):
            Self.schedule(registry, context, generation: generation, phase: .idle, after: registry.limits.idleTimeout)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        registry.remove(context.channel)
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if refused { return }
        if let generation = registry.bytesArrived(context.channel) {
            Self.schedule(
                registry, context, generation: generation, phase: .readingHead, after: registry.limits.headerTimeout)
        }
        context.fireChannelRead(data)
    }

    static func schedule(
        _ registry: ConnectionRegistry, _ context: ChannelHandlerContext, generation: UInt64,
        phase: ConnectionRegistry.Phase, after delay: Duration
    ) {
        let channel = context.channel
        let nanoseconds = delay.components.seconds * 1_000_000_000 + delay.components.attoseconds / 1_000_000_000
        context.eventLoop.scheduleTask(in: .nanoseconds(nanoseconds)) {
            registry.timerFired(channel, generation: generation, phase: phase)
        }
    }
}

/// After the HTTP codec: tells the registry when a request's head arrived and when its response ended.
final class RequestPhaseHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPRequestPart
    typealias InboundOut = HTTPRequestPart
    typealias OutboundIn = HTTPResponsePart
    typealias OutboundOut = HTTPResponsePart

    private let registry: ConnectionRegistry

    init(registry: ConnectionRegistry) {
        self.registry = registry
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .head = unwrapInboundIn(data) { registry.requestStarted(context.channel) }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data), let generation = registry.responseEnded(context.channel) {
            ConnectionGuardHandler.schedule(
                registry, context, generation: generation, phase: .idle, after: registry.limits.idleTimeout)
        }
        context.write(data, promise: promise)
    }
}

/// HTTP/1.1 with the connection guard in front of Hummingbird's pipeline.
struct GuardedHTTP1Channel: ServerChildChannel {
    typealias Value = HTTP1Channel.Value
    let inner: HTTP1Channel
    let registry: ConnectionRegistry

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        do {
            try channel.pipeline.syncOperations.addHandler(ConnectionGuardHandler(registry: registry))
        } catch {
            return channel.eventLoop.makeFailedFuture(error)
        }
        return inner.setup(channel: channel, logger: logger)
    }

    func handle(value: Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 behind the connection guard (`ConnectionLimits`), with `handlers` after the HTTP codec.
    static func guardedHTTP1(
        registry: ConnectionRegistry, handlers: @escaping @Sendable () -> [any RemovableChannelHandler]
    ) -> HTTPServerBuilder {
        .init { responder in
            GuardedHTTP1Channel(
                inner: HTTP1Channel(
                    responder: responder,
                    configuration: .init(
                        additionalChannelHandlers: handlers() + [RequestPhaseHandler(registry: registry)])),
                registry: registry)
        }
    }
}
