import Configuration
import Foundation
import Ichigo
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle

/// Renders an outgoing mail as an RFC 5322 / MIME message: UTF-8 text, base64 body, encoded-word subject.
public enum MIMEMessage {
    public static func render(_ mail: OutgoingMail, from sender: String, messageID: String) -> String {
        let subject = "=?UTF-8?B?\(Data(mail.subject.utf8).base64EncodedString())?="
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = Calendar.japan.timeZone
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss Z"
        let body = Data(mail.body.replacingOccurrences(of: "\n", with: "\r\n").utf8)
            .base64EncodedString(options: [.lineLength76Characters, .endLineWithCarriageReturn, .endLineWithLineFeed])
        return [
            "From: \(sender)",
            "To: \(mail.recipient)",
            "Subject: \(subject)",
            "Date: \(formatter.string(from: mail.createdAt))",
            "Message-ID: <\(messageID)>",
            "MIME-Version: 1.0",
            "Content-Type: text/plain; charset=UTF-8",
            "Content-Transfer-Encoding: base64",
            "",
            body,
            "",
        ].joined(separator: "\r\n")
    }
}

/// Delivers one rendered message.
public protocol MailTransport: Sendable {
    func deliver(_ message: String, from sender: String, to recipient: String) async throws
}

/// With no SMTP server configured: each mail becomes an `.eml` file in the outbox folder.
public struct OutboxFolderTransport: MailTransport {
    public let directory: URL

    public init(directory: URL) throws {
        self.directory = directory
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    public func deliver(_ message: String, from sender: String, to recipient: String) async throws {
        let stamp = ISO8601DateFormatter().string(from: Date()).replacingOccurrences(of: ":", with: "")
        let name = "\(stamp)-\(UUID().uuidString.prefix(8)).eml"
        let temporary = directory.appendingPathComponent("." + name)
        try Data(message.utf8).write(to: temporary)
        // Rename into place, so a reader never sees half a file.
        try FileManager.default.moveItem(at: temporary, to: directory.appendingPathComponent(name))
    }
}

/// SMTP settings (`smtp.*` keys; `ICHIGO_SMTP_*`).
public struct SMTPSettings: Sendable, CustomStringConvertible, CustomReflectable {
    /// Host, port and security only: the password never reaches a log line or a dump.
    public var description: String { "SMTPSettings(\(host):\(port), \(security.rawValue))" }
    public var customMirror: Mirror { Mirror(self, children: ["host": host, "port": port, "security": security.rawValue]) }

    public enum Security: String, Sendable {
        /// Plain connection, upgraded with STARTTLS (required).
        case starttls
        /// No encryption: only for a local test server.
        case plain
    }
    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// PEM file of CA certificates to trust (else the system's).
    public var caFile: String?

    /// Reads `smtp.host`, `smtp.port` (587), `smtp.security` (`starttls`), `smtp.username`, `smtp.password` (secret),
    /// `smtp.caFile`. Returns nil when `smtp.host` is not set.
    public init?(config: ConfigReader) throws {
        guard let host = config.string(forKey: "smtp.host") else { return nil }
        self.host = host
        port = config.int(forKey: "smtp.port", default: 587)
        let securityText = config.string(forKey: "smtp.security", default: "starttls")
        guard let security = Security(rawValue: securityText) else {
            throw IchigoError(.invalidInput, field: "smtp.security", detail: "starttls or plain")
        }
        self.security = security
        username = config.string(forKey: "smtp.username")
        password = config.string(forKey: "smtp.password", isSecret: true)
        caFile = config.string(forKey: "smtp.caFile")
    }

    public init(host: String, port: Int, security: Security, username: String? = nil, password: String? = nil, caFile: String? = nil) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.caFile = caFile
    }
}

/// A small SMTP client (RFC 5321) on SwiftNIO, with STARTTLS (RFC 3207) and AUTH PLAIN (RFC 4954).
public struct SMTPTransport: MailTransport {
    public let settings: SMTPSettings

    public init(settings: SMTPSettings) { self.settings = settings }

    struct SMTPError: Error, CustomStringConvertible {
        let description: String
    }

    public func deliver(_ message: String, from sender: String, to recipient: String) async throws {
        let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .connectTimeout(.seconds(10))
            .connect(host: settings.host, port: settings.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try NIOAsyncChannel<ByteBuffer, ByteBuffer>(wrappingChannelSynchronously: channel)
                }
            }
        let settings = self.settings
        try await channel.executeThenClose { inbound, outbound in
            var lines = LineReader(inbound.makeAsyncIterator())
            func expect(_ code: Int) async throws {
                var reply = try await lines.reply()
                while reply.more { reply = try await lines.reply() }
                guard reply.code == code else { throw SMTPError(description: "expected \(code), got \(reply.code) \(reply.text)") }
            }
            func send(_ line: String) async throws {
                try await outbound.write(ByteBuffer(string: line + "\r\n"))
            }
            try await expect(220)
            try await send("EHLO ichigo.localdomain")
            try await expect(250)
            if settings.security == .starttls {
                try await send("STARTTLS")
                try await expect(220)
                var tls = TLSConfiguration.makeClientConfiguration()
                if let caFile = settings.caFile { tls.trustRoots = .file(caFile) }
                let context = try NIOSSLContext(configuration: tls)
                let host = settings.host
                let underlying = channel.channel
                try await underlying.eventLoop.submit {
                    let handler = try NIOSSLClientHandler(context: context, serverHostname: host)
                    try underlying.pipeline.syncOperations.addHandler(handler, position: .first)
                }.get()
                try await send("EHLO ichigo.localdomain")
                try await expect(250)
            }
            if let username = settings.username, let password = settings.password {
                let token = Data("\u{0}\(username)\u{0}\(password)".utf8).base64EncodedString()
                try await send("AUTH PLAIN \(token)")
                try await expect(235)
            }
            try await send("MAIL FROM:<\(Self.address(sender))>")
            try await expect(250)
            try await send("RCPT TO:<\(recipient)>")
            try await expect(250)
            try await send("DATA")
            try await expect(354)
            // Dot-stuffing (RFC 5321 §4.5.2).
            let stuffed = message.components(separatedBy: "\r\n").map { $0.hasPrefix(".") ? "." + $0 : $0 }.joined(separator: "\r\n")
            try await outbound.write(ByteBuffer(string: stuffed + "\r\n.\r\n"))
            try await expect(250)
            try await send("QUIT")
            _ = try? await lines.reply()
        }
    }

    /// The bare address inside `Name <address>`.
    static func address(_ text: String) -> String {
        guard let open = text.lastIndex(of: "<"), let close = text.lastIndex(of: ">"), open < close else { return text }
        return String(text[text.index(after: open)..<close])
    }

    /// Splits the inbound bytes into SMTP reply lines.
    struct LineReader {
        var iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator
        var buffer = ""

        init(_ iterator: NIOAsyncChannelInboundStream<ByteBuffer>.AsyncIterator) { self.iterator = iterator }

        mutating func line() async throws -> String {
            while true {
                if let range = buffer.range(of: "\r\n") {
                    let line = String(buffer[..<range.lowerBound])
                    buffer.removeSubrange(..<range.upperBound)
                    return line
                }
                guard let chunk = try await iterator.next() else { throw SMTPError(description: "connection closed") }
                buffer += String(buffer: chunk)
            }
        }

        /// One reply line: its code, whether more lines follow (`250-`), and the text.
        mutating func reply() async throws -> (code: Int, more: Bool, text: String) {
            let text = try await line()
            guard text.count >= 3, let code = Int(text.prefix(3)) else { throw SMTPError(description: "bad reply \(text.prefix(80))") }
            let more = text.count > 3 && text[text.index(text.startIndex, offsetBy: 3)] == "-"
            return (code, more, text)
        }
    }
}

/// Delivers the outbox: polls for pending mails, sends each, records delivery or schedules a retry.
/// Runs in the application's service group.
public struct MailSender: Service, CustomStringConvertible {
    /// What ServiceLifecycle logs when it starts the service: never the SMTP settings (they hold the password).
    public var description: String { "MailSender" }

    let repository: any RetailRepository
    let transport: any MailTransport
    let sender: String
    let logger: Logger
    let interval: Duration
    /// How long one poll of the outbox may take before it counts as failed (the database does not answer).
    let attemptTimeout: Duration
    let metrics: IchigoMetrics
    /// What "now" is for due mails and delivery times (the services' clock; tests move it).
    let clock: any IchigoClock

    public init(
        repository: any RetailRepository, transport: any MailTransport, sender: String, logger: Logger,
        interval: Duration = .milliseconds(500), attemptTimeout: Duration = .seconds(10),
        metrics: IchigoMetrics = IchigoMetrics(), clock: any IchigoClock = SystemClock()
    ) {
        self.clock = clock
        self.attemptTimeout = attemptTimeout
        self.metrics = metrics
        self.repository = repository
        self.transport = transport
        self.sender = sender
        self.logger = logger
        self.interval = interval
    }

    public func run() async throws {
        // On graceful shutdown the sleep is cancelled at once; what is due is still sent before leaving. While the
        // outbox cannot be read (the database is away), the polls back off (`Backoff`), logged once.
        // A poll that does not finish within `attemptTimeout` (the database does not answer) counts as a failure; the
        // next poll starts only once it has finished, so no mail is sent twice.
        try? await cancelWhenGracefulShutdown {
            var backoff = Backoff(job: "mail sender", interval: interval)
            var running: TimedWork<(delivered: Int, outboxError: (any Error)?)>?
            while !Task.isCancelled {
                let attempt = running ?? TimedWork { await self.deliverDue() }
                switch await attempt.wait(limit: attemptTimeout) {
                case .finished(let result):
                    running = nil
                    if let error = (try? result.get())?.outboxError {
                        backoff.failed(error, logger: logger)
                    } else {
                        backoff.succeeded(logger: logger)
                    }
                case .timedOut:
                    running = attempt
                    backoff.failed(
                        IchigoError(.serviceUnavailable, detail: "the outbox did not answer within \(attemptTimeout)"),
                        logger: logger)
                }
                try await Task.sleep(for: backoff.delay)
            }
        }
        await deliverPending()
    }

    /// Sends every mail due now. Returns how many were delivered.
    @discardableResult
    public func deliverPending() async -> Int {
        let (delivered, error) = await deliverDue()
        if let error { logger.error("outbox unavailable", metadata: ["error": "\(error)"]) }
        return delivered
    }

    /// Sends every mail due now: how many were delivered, and why the outbox could not be read or updated, if so.
    func deliverDue() async -> (delivered: Int, outboxError: (any Error)?) {
        var delivered = 0
        do {
            for mail in try await repository.pendingMails(limit: 50, at: clock.now()) {
                guard let id = mail.id else { continue }
                do {
                    let message = MIMEMessage.render(mail, from: sender, messageID: "\(id).\(UUID().uuidString)@ichigo")
                    try await transport.deliver(message, from: sender, to: mail.recipient)
                    try await repository.markSent(id, at: clock.now())
                    metrics.mailSent()
                    delivered += 1
                    logger.debug("mail delivered", metadata: ["mail.id": "\(id)"])
                } catch {
                    logger.warning("mail delivery failed; will retry", metadata: ["mail.id": "\(id)", "error": "\(error)"])
                    metrics.mailFailed()
                    try await repository.markFailed(id, error: "\(error)", at: clock.now())
                }
            }
        } catch {
            return (delivered, error)
        }
        return (delivered, nil)
    }
}
