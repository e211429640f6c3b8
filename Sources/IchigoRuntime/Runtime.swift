import Configuration
import Foundation
import Ichigo
import IchigoFiles
import IchigoKeys
import IchigoPostgres
import IchigoSQLite
import Logging
import Metrics
import Prometheus
import ServiceLifecycle

/// The program's wiring: settings, the data directory, the store, the key versions, the domain's services and the
/// background jobs, opened once for `ichigo serve` and for every command.
///
/// Opening sends nothing to a database: PostgreSQL's connection pool is one of `storeServices`, which the server runs
/// in its service group and the command line in a task group (`run`); `prepare()` then migrates the schema and loads
/// the key versions — before the server starts answering, before a command reads anything.
package struct Runtime {
    package let settings: IchigoConfiguration
    package let directory: DataDirectory
    /// Held shared while this process runs (`ichigo restore` waits for no one).
    package let lock: DataDirectoryLock
    package let repository: any OpenedStore
    /// The signed audit head file in the data directory (`audit.head` for SQLite, `audit-postgres.head` for
    /// PostgreSQL).
    package let auditHead: AuditHeadFile?
    /// The key versions (seeds, audit chain), loaded from the database through the configured key stores.
    package let keyring: Keyring
    package let keys: KeyCustodian
    package let keyStores: KeyStores
    package let services: IchigoServices
    package let mailSender: MailSender
    package let mailDestination: String
    package let logger: Logger
    package let metricsRegistry: PrometheusCollectorRegistry

    /// Opens the data directory, the key stores and the store, and makes the services (nothing is sent to a
    /// PostgreSQL server yet).
    /// - Parameter serving: for `ichigo serve`: PostgreSQL statements get the request deadline as their timeout.
    package init(config: ConfigReader, logger: Logger, serving: Bool = false) throws {
        // Metrics first, so everything made below (the group commit's recorders too) reports to this registry.
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["ichigo_otp_verification_seconds"] = [
            .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
            .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250), .seconds(1),
        ]
        factory.durationHistogramBuckets["ichigo_db_commit_seconds"] =
            factory.durationHistogramBuckets["ichigo_otp_verification_seconds"]
        factory.valueHistogramBuckets["ichigo_db_commit_batch_size"] = [1, 2, 4, 8, 16, 32, 64, 128, 256]
        MetricsSystem.bootstrap(factory)
        metricsRegistry = registry
        let metrics = IchigoMetrics(factory: factory)
        self.logger = logger
        settings = try IchigoConfiguration(config: config)
        directory = try DataDirectory(path: settings.dataDirectory)
        lock = try DataDirectoryLock.shared(directory)
        keyStores = try KeyStores(config: config, settings: settings, directory: directory)
        keyring = Keyring()
        let chain = AuditChain(keyring: keyring)
        (repository, auditHead) = try Storage.open(
            url: config.string(forKey: "database.url", isSecret: true), directory: directory, chain: chain,
            logger: logger, statementTimeout: serving ? settings.deadlines.standard : nil)
        // Long enough for every instance to read a new version (each second) before it is used, with room for their
        // clocks to differ a little.
        let activationDelay = config.int(forKey: "keys.activationDelayMs", default: 5000)
        guard (1000...600_000).contains(activationDelay) else {
            throw IchigoError(.invalidInput, field: "keys.activationDelayMs", detail: "must be 1000 to 600000")
        }
        keys = keyStores.custodian(
            keyring: keyring, repository: repository, logger: logger,
            activationDelay: .milliseconds(Int64(activationDelay)))
        var services = IchigoServices(
            repository: repository, keyring: keyring, policy: settings.policy,
            hasher: PasswordHasher(logRounds: settings.scryptLogRounds), retailPolicy: settings.retailPolicy,
            apiKey: try directory.apiKey(configured: settings.apiKey), bankName: settings.bankName,
            bankContact: settings.bankContact, secureCookies: settings.secureCookies, logger: logger, metrics: metrics,
            signingPolicy: settings.signingPolicy, passkeyPolicy: settings.passkeyPolicy)
        services.deadlines = settings.deadlines
        let custodian = keys
        services.keyProblem = { custodian.problem }
        self.services = services
        let transport: any MailTransport
        if let smtp = try SMTPSettings(config: config) {
            transport = SMTPTransport(settings: smtp)
            mailDestination = "SMTP \(smtp.host):\(smtp.port) (\(smtp.security.rawValue))"
        } else {
            let outbox = directory.url.appendingPathComponent("outbox")
            transport = try OutboxFolderTransport(directory: outbox)
            mailDestination = "outbox folder \(outbox.path)"
        }
        mailSender = MailSender(
            repository: repository, transport: transport, sender: settings.mailFrom, logger: logger,
            attemptTimeout: settings.deadlines.standard * 2, metrics: metrics)
    }

    /// What must run while the store is used (PostgreSQL's connection pool; nothing for SQLite).
    package var storeServices: [any Service] { repository.services }

    /// Brings the schema up to date and loads the key versions (every seed and audit record needs them), with
    /// `storeServices` running. The server runs it before it starts answering; `run` before a command's work.
    package func prepare() async throws {
        try await repository.migrate()
        try await loadKeys()
    }

    /// Loads the key versions from the migrated store.
    private func loadKeys() async throws {
        try await keys.load(now: Date())
        if let path = keyStores.masterKeyPath,
            !keys.known.contains(where: { $0.wrappedBy == KeyVersion.masterKeyStore || $0.wrappedBy == "file" })
        {
            logger.warning(
                "\(path) is no longer needed: every key version is wrapped by the HSM. Delete it (shred) to finish the move.")
        }
    }

    /// Runs `body` for a command: the store's services running, the schema migrated and the keys loaded; then stops
    /// them and closes the store (also when `body` throws).
    package func run<T>(_ body: (Runtime) async throws -> T) async throws -> T {
        defer { try? repository.close() }
        return try await repository.withServicesRunning {
            try await prepare()
            return try await body(self)
        }
    }

    /// Where the data is, for messages: the SQLite file, or the PostgreSQL URL without its password.
    package var databaseLocation: String {
        (repository as? PostgresRepository)?.location ?? directory.databasePath
    }

    /// The audit stream to the SIEM (`audit.stream`), if configured: it tails this store from the cursor file
    /// `audit-stream.cursor` in the data directory. On SQLite it streams no further than the signed head, which moves
    /// only once a commit is on disk.
    package func auditStream(settings: AuditStreamSettings?) throws -> AuditStream? {
        guard let settings else { return nil }
        let sink: any AuditSink
        switch settings.destination {
        case .syslog: sink = try SyslogAuditSink(settings: settings)
        case .file(let path): sink = JSONLinesAuditSink(path: path)
        }
        let synced = repository is SQLiteRepository ? auditHead.map(SyncedAuditHead.init(file:)) : nil
        return AuditStream(
            source: repository, sink: sink,
            cursor: AuditStreamCursorFile(path: directory.url.appendingPathComponent("audit-stream.cursor").path),
            syncedHead: synced, logger: logger)
    }
}
