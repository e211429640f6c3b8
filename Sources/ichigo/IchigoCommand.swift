import ArgumentParser
import Configuration
import Foundation
import Ichigo
import IchigoFiles
import IchigoKeys
import IchigoSQLite
import IchigoWeb
import Logging
import Metrics
import Prometheus
import IchigoRuntime
import ServiceLifecycle
import UnixSignals

@main
struct IchigoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ichigo",
        abstract: "Ichigo: one-time-password tokens for internet banking (ワンタイムパスワード).",
        subcommands: [
            Serve.self, Migrate.self, Demo.self, Tokens.self, OperatorCommand.self, PasskeysCommand.self, APIKeyCommand.self,
            Audit.self, KeysCommand.self, Backup.self, Restore.self,
            BenchCore.self,
            BenchSeed.self,
        ],
        defaultSubcommand: Serve.self)
}

/// Options every command that opens the database shares.
struct CommonOptions: ParsableArguments {
    @Option(
        name: .customLong("data-dir"),
        help: "Data directory (database, keys). Env: ICHIGO_DATA_DIRECTORY. Default ./data")
    var dataDirectory: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error. Env: ICHIGO_LOG_LEVEL. Default info")
    var logLevel: String?

    @Option(help: "Log format on standard error: text, or json (one object per line). Env: ICHIGO_LOG_FORMAT. Default text")
    var logFormat: String?

    @Option(
        help: """
            PostgreSQL instead of SQLite in the data directory: postgres://user:password@host:port/database \
            (?sslmode=disable|prefer|require|verify-ca|verify-full). Env: ICHIGO_DATABASE_URL
            """)
    var database: String?

    /// Flags first, then `ICHIGO_*` environment variables, then defaults.
    func reader(extra: [AbsoluteConfigKey: ConfigValue] = [:]) -> ConfigReader {
        var values = extra
        if let dataDirectory { values["ichigo.data.directory"] = .init(.string(dataDirectory), isSecret: false) }
        if let logLevel { values["ichigo.log.level"] = .init(.string(logLevel), isSecret: false) }
        if let logFormat { values["ichigo.log.format"] = .init(.string(logFormat), isSecret: false) }
        if let database { values["ichigo.database.url"] = .init(.string(database), isSecret: true) }
        return ConfigReader(providers: [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(
                secretsSpecifier: .specific([
                    "ICHIGO_MASTER_KEY", "ICHIGO_API_KEY", "ICHIGO_DATABASE_URL", "ICHIGO_PKCS11_PIN",
                ])),
        ]).scoped(to: "ichigo")
    }
}

extension Runtime {
    /// Opens the runtime for a command (or `serve`), with the log level and format of `config` (`log.level`,
    /// `log.format`); the request log's format is set for the whole process here, once.
    static func open(_ config: ConfigReader, serving: Bool = false) throws -> Runtime {
        let formatName = config.string(forKey: "log.format", default: "text")
        guard let format = RequestLog.Format(rawValue: formatName) else {
            throw ValidationError("--log-format must be text or json, not \(formatName)")
        }
        let levelName = config.string(forKey: "log.level", default: "info")
        guard let level = Logger.Level(rawValue: levelName) else {
            throw ValidationError("--log-level must be trace, debug, info, notice, warning, error or critical, not \(levelName)")
        }
        RequestLog.bootstrap(format: format)
        var logger = Logger(label: "ichigo")
        logger.logLevel = level
        return try Runtime(config: config, logger: logger, serving: serving)
    }
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the Ichigo server (SQLite in the data directory).")

    @OptionGroup var common: CommonOptions

    @Option(help: "Address to listen on. Env: ICHIGO_HTTP_HOST. Default 127.0.0.1")
    var host: String?

    @Option(help: "Port to listen on. Env: ICHIGO_HTTP_PORT. Default 8080")
    var port: Int?

    @Option(
        help: """
            The address customers use, e.g. https://ib.bank.example.jp behind a TLS proxy: with https:// the \
            session cookie is __Host- and Secure, and HSTS is sent. Env: ICHIGO_HTTP_PUBLIC_URL
            """)
    var publicURL: String?

    @Option(
        help: """
            Transaction authentication (取引認証) for transfers and approvals: off, or required (a signature over the \
            payee account and amount instead of the OTP). Env: ICHIGO_TRANSFER_SIGNING. Default off
            """)
    var transferSigning: String?

    @Option(
        help: """
            The OCRA suite software tokens get while signing is required. Env: ICHIGO_TRANSFER_OCRA_SUITE. \
            Default OCRA-1:HOTP-SHA1-6:QN20-T1M
            """)
    var transferOcraSuite: String?

    @Flag(help: "Fill an empty database with demo customers first.")
    var demo = false

    func run() async throws {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        if let publicURL { values["ichigo.http.publicURL"] = .init(.string(publicURL), isSecret: false) }
        if let transferSigning {
            values["ichigo.transfer.signing"] = .init(.string(transferSigning), isSecret: false)
        }
        if let transferOcraSuite {
            values["ichigo.transfer.ocraSuite"] = .init(.string(transferOcraSuite), isSecret: false)
        }
        if let host { values["ichigo.http.host"] = .init(.string(host), isSecret: false) }
        if let port { values["ichigo.http.port"] = .init(.int(port), isSecret: false) }
        let config = common.reader(extra: values)
        let runtime = try Runtime.open(config, serving: true)
        let auditStream = try runtime.auditStream(settings: AuditStreamSettings(config: config))
        let descriptors = DescriptorLimit.raise(logger: runtime.logger)
        let limits = runtime.settings.connectionLimits(descriptors: descriptors)
        runtime.logger.info(
            "connection limits",
            metadata: [
                "http.max_connections": "\(limits.maximum)", "http.idle_timeout": "\(limits.idleTimeout)",
                "http.header_timeout": "\(limits.headerTimeout)", "http.deadline": "\(runtime.settings.deadlines.standard)",
                "open_files": "\(descriptors)",
            ])
        let settings = runtime.settings
        let apiKeyPath = runtime.directory.apiKeyPath
        let mail = runtime.mailDestination
        let demo = demo
        // The store's services (PostgreSQL's connection pool) run first in the service group and stop last; the
        // schema is migrated and the keys loaded before the server starts.
        let server = StartingService(name: "ichigo server") {
            try await runtime.prepare()
            if demo {
                try await DemoData.fillIfEmpty(runtime.services, directory: runtime.directory.url, out: { say($0) })
            }
            try await buildApplication(
                services: runtime.services, metrics: runtime.metricsRegistry, host: settings.host, port: settings.port,
                backgroundServices: [
                    runtime.mailSender, SessionJanitor(repository: runtime.repository, logger: runtime.logger),
                    KeyService(
                        custodian: runtime.keys, batchSize: runtime.settings.keyResealBatch,
                        pause: runtime.settings.keyResealPause),
                ] + (auditStream.map { [$0] } ?? []),
                connections: limits
            ) { port in
                say("Ichigo is listening on http://\(settings.host):\(port)  (data: \(runtime.directory.url.path))")
                say("Open http://\(settings.host):\(port)/login in a browser. Mail goes to the \(mail).")
                say("JSON API key: see \(settings.apiKey == nil ? apiKeyPath : "ICHIGO_API_KEY")")
                if let auditStream { say("The audit trail streams to \(auditStream.destination).") }
            }.run()
        }
        defer { try? runtime.repository.close() }
        try await ServiceGroup(
            configuration: .init(
                services: runtime.storeServices + [server], gracefulShutdownSignals: [.sigterm, .sigint],
                logger: runtime.logger)
        ).run()
    }
}

/// A service that does some work first (migrations, keys) and then runs what it started (the web application), as
/// one service of the server's group.
struct StartingService: Service, CustomStringConvertible {
    let name: String
    let body: @Sendable () async throws -> Void
    var description: String { name }
    func run() async throws { try await body() }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create or upgrade the database schema, then exit.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await Runtime.open(common.reader()).run { runtime in
            say("Database is up to date: \(runtime.databaseLocation)")
        }
    }
}

struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Fill an empty database with sample retail customers and a corporate contract.")
    @OptionGroup var common: CommonOptions

    func run() async throws {
        try await Runtime.open(common.reader()).run { runtime in
            try await DemoData.fillIfEmpty(runtime.services, directory: runtime.directory.url, out: { say($0) })
        }
    }
}

struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Work with the audit trail.", subcommands: [Verify.self, Checkpoint.self, Search.self])

    /// Reads every audit head line in `path`.
    static func anchors(in path: String) throws -> [AuditHead] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ValidationError("cannot read \(path)")
        }
        let lines = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
            .filter { !$0.trimmingCharacters(in: .whitespaces).isEmpty }
        let heads = lines.compactMap { AuditHead(line: $0.trimmingCharacters(in: .whitespaces)) }
        guard heads.count == lines.count, !heads.isEmpty else {
            throw ValidationError("\(path) holds lines that are not audit checkpoints")
        }
        return heads
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: """
                Print a signed checkpoint of the audit trail's newest record (after checking the trail), for an \
                external system: `audit verify --anchor FILE` later proves nothing up to it was deleted or rewritten.
                """)
        @OptionGroup var common: CommonOptions
        @Option(help: "Append the checkpoint line to this file as well.") var out: String?

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let chain = AuditChain(keyring: runtime.keyring)
                let report = try await AuditVerifier(repository: runtime.repository, chain: chain)
                    .verify(anchors: runtime.auditHead?.read().map { [$0] } ?? [])
                guard report.isIntact, let last = report.last else {
                    say(report.isIntact ? "the audit trail is empty" : "audit trail BROKEN: run `ichigo audit verify`; no checkpoint signed")
                    throw ExitCode(1)
                }
                let line = chain.head(sequence: last.sequence, hash: last.hash, at: Date()).description
                if let out {
                    let handle = FileHandle(forWritingAtPath: out) ?? {
                        FileManager.default.createFile(atPath: out, contents: nil)
                        return FileHandle(forWritingAtPath: out)
                    }()
                    guard let handle else { throw ValidationError("cannot write \(out)") }
                    handle.seekToEndOfFile()
                    handle.write(Data((line + "\n").utf8))
                    try handle.close()
                }
                say(line)
            }
        }
    }

    struct Search: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Search the audit trail by user (login ID or ID), serial, action and time, newest first.")
        @OptionGroup var common: CommonOptions
        @Option(help: "A login ID, user ID or serial.") var party: String?
        @Option(help: "An action, e.g. otp.verify, token.register, token.unlock.") var action: String?
        @Option(help: "From this day (YYYY-MM-DD, Japan time).") var from: String?
        @Option(help: "Until this day, inclusive (YYYY-MM-DD, Japan time).") var until: String?
        @Option(help: "At most this many records.") var limit = 100

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let parser = DateFormatter()
                parser.timeZone = Calendar.japan.timeZone
                parser.dateFormat = "yyyy-MM-dd"
                var who = party
                if let text = party, let loginID = LoginID(rawValue: text),
                    let user = try await runtime.repository.user(loginID: loginID)
                {
                    who = user.id.rawValue
                } else if let text = party, let serial = SerialNumber(rawValue: text) {
                    who = serial.rawValue
                }
                let filter = AuditFilter(
                    party: who, action: action, from: from.flatMap(parser.date(from:)),
                    until: until.flatMap(parser.date(from:)).map { $0 + 86_400 })
                let printer = ISO8601DateFormatter()
                for record in try await runtime.repository.auditRecords(matching: filter, limit: limit) {
                    let event = record.event
                    say(
                        "\(record.sequence)\t\(printer.string(from: event.at))\t\(event.actor)\t\(event.action)\t\(event.subject)\t\(event.outcome)\t\(event.reason ?? "")"
                    )
                }
            }
        }
    }

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check the audit trail's hash chain; exit 1 if a record was edited, inserted or deleted.")
        @OptionGroup var common: CommonOptions
        @Option(
            name: .customLong("anchor"),
            help: "A file of checkpoints from `audit checkpoint` (kept elsewhere) to check the trail against; repeatable.")
        var anchors: [String] = []

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                var heads = try anchors.flatMap { try Audit.anchors(in: $0) }
                let head = runtime.auditHead?.read()
                if let head { heads.append(head) }
                let report = try await AuditVerifier(
                    repository: runtime.repository, chain: AuditChain(keyring: runtime.keyring)
                ).verify(anchors: heads)
                if head == nil {
                    say("warning: no signed head (\(runtime.auditHead?.path ?? "none")): deleting the newest records would go unseen")
                }
                if report.isIntact {
                    say("audit trail intact: \(report.recordCount) records, \(report.anchorsChecked) signed head(s) and checkpoint(s) agree")
                } else {
                    say("audit trail BROKEN: \(report.breaks.count) problem(s) in \(report.recordCount) records")
                    for item in report.breaks.prefix(50) { say("  \(item)") }
                    throw ExitCode(1)
                }
            }
        }
    }
}

/// Writes a line to standard output at once (no buffering), so scripts waiting for it see it.
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}
