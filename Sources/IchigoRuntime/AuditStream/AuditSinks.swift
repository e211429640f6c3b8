import Foundation
import Ichigo
import NIOCore
import NIOPosix
import NIOSSL
import NIOTLS

#if canImport(Glibc)
    import Glibc
#endif
#if canImport(CoreFoundation)
    // `stat` is also declared through CoreFoundation's and Dispatch's headers, which other dependencies bring in.
    import CoreFoundation
#endif
#if canImport(CDispatch)
    import CDispatch
#endif

/// Where the audit stream delivers records.
public protocol AuditSink: Sendable {
    /// For messages: where the records go (never a credential).
    var destination: String { get }
    /// How long after delivery a record may still be unread by the receiver, so that it is sent again if the
    /// connection breaks within that time (zero: a delivered record is kept for good).
    var unreadWindow: Duration { get }
    /// The newest record the destination itself holds, if it can tell (a file: its last complete line); `nil` if it
    /// cannot (syslog: the cursor file decides) or holds none.
    func storedPosition() async throws -> AuditStreamPosition?
    /// Sends `records`, in order, and returns once they are flushed: a file synced, every byte of a connection
    /// acknowledged by the receiver. Throws if not; the records are then sent again.
    func deliver(_ records: [AuditRecord]) async throws
    /// Whether the connection that carried deliveries broke since the last call (records delivered shortly before
    /// may be unread: see `unreadWindow`).
    func connectionBroke() async -> Bool
    /// Closes the connection or file; the next delivery opens it again.
    func close() async
}

/// Why a delivery failed.
struct AuditSinkError: Error, CustomStringConvertible {
    let description: String
}

/// RFC 5424 messages over TCP, framed by octet counting (RFC 6587 §3.4.1), optionally in TLS (RFC 5425).
///
/// TCP carries no acknowledgement of syslog messages, so "delivered" is read off the kernel: after writing a batch,
/// the sink waits until the receiver's TCP stack has acknowledged every byte (Linux `TCP_INFO`: nothing unacknowledged,
/// nothing unsent) before the cursor moves. What a receiver acknowledged but had not read when it stopped is covered
/// by `unreadWindow`: after a break, the last few seconds' records are sent again.
public actor SyslogAuditSink: AuditSink {
    public nonisolated let destination: String
    public nonisolated let unreadWindow: Duration
    let host: String
    let port: Int
    let format: SyslogAuditFormat
    let tls: NIOSSLContext?
    /// How long the receiver may take to acknowledge a batch.
    let acknowledgementTimeout: Duration
    private var channel: (any Channel)?
    /// Whether the current connection carried records.
    private var carried = false

    public init(
        settings: AuditStreamSettings, unreadWindow: Duration = .seconds(5),
        acknowledgementTimeout: Duration = .seconds(10)
    ) throws {
        guard case .syslog(let host, let port, let useTLS) = settings.destination else {
            throw IchigoError(.invalidInput, field: "audit.stream", detail: "not a syslog destination")
        }
        self.destination = settings.destination.description
        self.host = host
        self.port = port
        self.unreadWindow = unreadWindow
        self.acknowledgementTimeout = acknowledgementTimeout
        self.format = SyslogAuditFormat(facility: settings.facility, hostname: settings.hostname)
        if useTLS {
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.minimumTLSVersion = .tlsv12
            do {
                if let caFile = settings.caFile { configuration.trustRoots = .file(caFile) }
                if let certificateFile = settings.certificateFile, let keyFile = settings.keyFile {
                    configuration.certificateChain = try NIOSSLCertificate.fromPEMFile(certificateFile).map {
                        .certificate($0)
                    }
                    configuration.privateKey = .privateKey(try NIOSSLPrivateKey(file: keyFile, format: .pem))
                }
                tls = try NIOSSLContext(configuration: configuration)
            } catch {
                throw IchigoError(
                    .invalidInput, field: "audit.tls.caFile", detail: "the TLS settings cannot be used: \(error)")
            }
        } else {
            tls = nil
        }
    }

    public func storedPosition() async throws -> AuditStreamPosition? { nil }

    public func deliver(_ records: [AuditRecord]) async throws {
        let channel = try await connection()
        var buffer = channel.allocator.buffer(capacity: records.count * 700)
        for record in records { buffer.writeBytes(format.frame(for: record)) }
        carried = true
        try await channel.writeAndFlush(buffer).get()
        try await acknowledged(on: channel)
    }

    public func connectionBroke() async -> Bool {
        guard let channel, !channel.isActive else { return false }
        self.channel = nil
        defer { carried = false }
        return carried
    }

    public func close() async {
        let channel = self.channel
        self.channel = nil
        carried = false
        try? await channel?.close()
    }

    /// The open connection, or a new one.
    private func connection() async throws -> any Channel {
        if let channel, channel.isActive { return channel }
        if let channel { try? await channel.close() }
        channel = nil
        carried = false
        let tls = self.tls
        // SNI and the name check take a host name; an IP address is checked against the certificate's IP addresses.
        let serverHostname = host.contains(":") || host.allSatisfy({ $0.isNumber || $0 == "." }) ? nil : host
        let loop = MultiThreadedEventLoopGroup.singleton.next()
        let handshake = loop.makePromise(of: Void.self)
        let connected: any Channel
        do {
            connected = try await ClientBootstrap(group: loop)
                .connectTimeout(.seconds(10))
                .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
                .channelInitializer { channel in
                    guard let tls else { return channel.eventLoop.makeSucceededVoidFuture() }
                    return channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHandlers(
                            NIOSSLClientHandler(context: tls, serverHostname: serverHostname),
                            TLSHandshakeWaiter(promise: handshake))
                    }
                }
                .connect(host: host, port: port).get()
        } catch {
            handshake.fail(error)
            throw error
        }
        if tls == nil {
            handshake.succeed()
        } else {
            // The handshake's own error (an untrusted certificate, say), not a later "I/O on closed channel".
            do {
                try await handshake.futureResult.get()
            } catch {
                try? await connected.close()
                throw error
            }
        }
        channel = connected
        return connected
    }

    /// Waits until the receiver's TCP stack has acknowledged every byte written on `channel`.
    private func acknowledged(on channel: any Channel) async throws {
        #if os(Linux)
            guard let provider = channel as? any SocketOptionProvider else { return }
            let deadline = ContinuousClock.now + acknowledgementTimeout
            var pause = Duration.microseconds(500)
            while true {
                guard channel.isActive else { throw AuditSinkError(description: "the receiver closed the connection") }
                let info: KernelTCPInfo = try await provider.unsafeGetSocketOption(level: .tcp, name: .tcp_info).get()
                if info.isFullyAcknowledged { return }
                guard ContinuousClock.now < deadline else {
                    throw AuditSinkError(
                        description: "the receiver did not acknowledge the records within \(acknowledgementTimeout)")
                }
                try await Task.sleep(for: pause)
                pause = min(pause * 2, .milliseconds(20))
            }
        #endif
    }
}

/// Completes `promise` when the TLS handshake is done, or fails it with the handshake's error or the connection's end.
private final class TLSHandshakeWaiter: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    let promise: EventLoopPromise<Void>
    private var completed = false

    init(promise: EventLoopPromise<Void>) { self.promise = promise }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event { complete(nil) }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        complete(error)
        context.fireErrorCaught(error)
    }

    func channelInactive(context: ChannelHandlerContext) {
        complete(AuditSinkError(description: "the receiver closed the connection during the TLS handshake"))
        context.fireChannelInactive()
    }

    private func complete(_ error: (any Error)?) {
        guard !completed else { return }
        completed = true
        if let error { promise.fail(error) } else { promise.succeed() }
    }
}

#if os(Linux)
    /// The head of Linux's `struct tcp_info` (`linux/tcp.h`; glibc's copy stops before `tcpi_notsent_bytes`). The
    /// kernel fills what it has; fields it does not have read as zero.
    struct KernelTCPInfo: Sendable {
        var words: InlineArray<40, UInt32>

        /// `tcpi_unacked` (byte offset 24): segments sent and not yet acknowledged.
        var unacknowledgedSegments: UInt32 { words[6] }
        /// `tcpi_notsent_bytes` (byte offset 144, Linux 4.6 and later): bytes written but not yet sent.
        var unsentBytes: UInt32 { words[36] }
        var isFullyAcknowledged: Bool { unacknowledgedSegments == 0 && unsentBytes == 0 }
    }
#endif

/// JSON Lines in a file, one record a line (`AuditJSONLine`), synced after every batch. The file's last complete line
/// is where the stream resumes; a line cut short by a crash is removed first. A file moved away (log rotation) is
/// noticed before the next batch, which starts a new file at the same path.
public actor JSONLinesAuditSink: AuditSink {
    public nonisolated let destination: String
    public nonisolated var unreadWindow: Duration { .zero }
    let path: String
    private var descriptor: Int32 = -1

    public init(path: String) {
        self.path = path
        self.destination = "file:\(path)"
    }

    public func storedPosition() async throws -> AuditStreamPosition? {
        let path = self.path
        return try await NIOThreadPool.singleton.runIfActive { try Self.lastPosition(in: path) }
    }

    public func deliver(_ records: [AuditRecord]) async throws {
        let descriptor = try await openedDescriptor()
        let bytes = Array(records.map(AuditJSONLine.line(for:)).joined().utf8)
        let path = self.path
        try await NIOThreadPool.singleton.runIfActive {
            var info = stat()
            guard fstat(descriptor, &info) == 0 else { throw Self.failure("cannot stat", path) }
            let before = info.st_size
            var written = 0
            while written < bytes.count {
                let count = bytes.withUnsafeBytes {
                    write(descriptor, $0.baseAddress! + written, bytes.count - written)
                }
                if count < 0 && errno == EINTR { continue }
                guard count > 0 else {
                    let failure = Self.failure("cannot write", path)
                    // No half line left behind for the next attempt to follow.
                    _ = ftruncate(descriptor, before)
                    throw failure
                }
                written += count
            }
            guard fsync(descriptor) == 0 else {
                let failure = Self.failure("cannot sync", path)
                _ = ftruncate(descriptor, before)
                throw failure
            }
        }
    }

    public func connectionBroke() async -> Bool { false }

    public func close() async {
        if descriptor >= 0 { closeDescriptor(descriptor) }
        descriptor = -1
    }

    /// The open file, opened again if it was moved away or removed (log rotation).
    private func openedDescriptor() async throws -> Int32 {
        let path = self.path
        let current = descriptor
        let fresh = try await NIOThreadPool.singleton.runIfActive { () throws -> Int32? in
            if current >= 0 {
                var open = stat()
                var named = stat()
                if fstat(current, &open) == 0, stat(path, &named) == 0, open.st_dev == named.st_dev,
                    open.st_ino == named.st_ino
                {
                    return nil
                }
            }
            let opened = openFile(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o600)
            guard opened >= 0 else { throw Self.failure("cannot open", path) }
            return opened
        }
        guard let fresh else { return current }
        if current >= 0 { closeDescriptor(current) }
        descriptor = fresh
        return fresh
    }

    private static func failure(_ what: String, _ path: String) -> AuditSinkError {
        AuditSinkError(description: "\(what) \(path): \(String(cString: strerror(errno)))")
    }

    /// The position of the file's last complete line, after cutting off an incomplete one; `nil` for no file or an
    /// empty one.
    static func lastPosition(in path: String) throws -> AuditStreamPosition? {
        let descriptor = openFile(path, O_RDWR | O_CLOEXEC)
        guard descriptor >= 0 else {
            if errno == ENOENT { return nil }
            throw failure("cannot open", path)
        }
        defer { closeDescriptor(descriptor) }
        var info = stat()
        guard fstat(descriptor, &info) == 0 else { throw failure("cannot stat", path) }
        var end = Int(info.st_size)
        // Read backwards until the last complete line is in view (lines are under a kilobyte; allow 1 MiB).
        var tail: [UInt8] = []
        var start = end
        func read(back count: Int) throws {
            let from = max(0, start - count)
            var chunk = [UInt8](repeating: 0, count: start - from)
            let got = chunk.withUnsafeMutableBytes { pread(descriptor, $0.baseAddress, $0.count, off_t(from)) }
            guard got == chunk.count else { throw failure("cannot read", path) }
            tail = chunk + tail
            start = from
        }
        guard end > 0 else { return nil }
        while start > 0, tail.lastIndex(of: 0x0A) == nil, end - start < 1 << 20 { try read(back: 64 << 10) }
        guard let lastNewline = tail.lastIndex(of: 0x0A) else {
            guard start == 0 else { throw AuditSinkError(description: "\(path) ends in a line over 1 MiB long") }
            // Not one complete line: a first line cut short by a crash.
            guard ftruncate(descriptor, 0) == 0 else { throw failure("cannot truncate", path) }
            return nil
        }
        if lastNewline != tail.count - 1 {
            // A line cut short by a crash: remove it, its records are sent again.
            end = start + lastNewline + 1
            guard ftruncate(descriptor, off_t(end)) == 0 else { throw failure("cannot truncate", path) }
            tail.removeSubrange((lastNewline + 1)...)
        }
        while start > 0, tail.dropLast().lastIndex(of: 0x0A) == nil, end - start < 1 << 20 {
            try read(back: 64 << 10)
        }
        let body = tail.dropLast()
        let lineStart = body.lastIndex(of: 0x0A).map { $0 + 1 } ?? body.startIndex
        guard lineStart > body.startIndex || start == 0 else {
            throw AuditSinkError(description: "\(path) ends in a line over 1 MiB long")
        }
        let line = String(decoding: body[lineStart...], as: UTF8.self)
        guard let position = AuditJSONLine.position(of: line) else {
            throw AuditSinkError(description: "the last line of \(path) is not an audit record written by Ichigo")
        }
        return position
    }
}

/// `open(2)` and `close(2)`, named apart from the sinks' own `close()`.
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t = 0) -> Int32 { open(path, flags, mode) }
private func closeDescriptor(_ descriptor: Int32) { _ = close(descriptor) }
