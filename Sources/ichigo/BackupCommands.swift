import ArgumentParser
import Configuration
import Foundation
import Ichigo
import IchigoRuntime
import IchigoFiles
import IchigoKeys
import IchigoSQLite
import IchigoWeb
import Logging

/// `ichigo backup --out FILE`: an online copy of the SQLite database while the server runs.
struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            Copy the SQLite database while the server runs (SQLite's online backup API): one consistent, \
            self-contained file with every transaction committed before the copy began. The master key is not in \
            it: keep the two apart.
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The file to write (must not exist; mode 0600).") var out: String

    func run() async throws {
        let config = common.reader()
        guard (config.string(forKey: "database.url", isSecret: true) ?? "").isEmpty else {
            throw CommandFailure(
                "ichigo backup copies the SQLite database; for PostgreSQL use pg_dump or pg_basebackup (see the README)"
            )
        }
        let settings = try IchigoConfiguration(config: config)
        let path = URL(fileURLWithPath: settings.dataDirectory).appendingPathComponent("ichigo.sqlite").path
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandFailure("there is no database at \(path)")
        }
        let directory = try DataDirectory(path: settings.dataDirectory)
        let lock = try DataDirectoryLock.shared(directory)
        let started = ContinuousClock.now
        let summary = try SQLiteBackup.copy(database: directory.databasePath, to: out)
        say(
            "backup written: \(out) (\(summary.bytes) bytes in \(ContinuousClock.now - started); audit trail up to record \(summary.newestAuditSequence))"
        )
        say("keep it apart from the master key: with the key, the copy opens every token's seed")
        _ = lock
    }
}

/// `ichigo restore --from FILE`: replaces the SQLite database with a checked copy.
struct Restore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: """
            Replace the SQLite database with a copy from `ichigo backup`, after checking it: SQLite finds it intact, \
            its migrations are ones this version knows, and its audit trail verifies with this data directory's \
            master key. Refused while a server or another command uses the data directory. The replaced database, \
            its signed audit head and the stream cursor are kept in data/before-restore-<time>/.
            """)
    @OptionGroup var common: CommonOptions
    @Option(help: "The copy to restore (a file written by `ichigo backup`).") var from: String

    func run() async throws {
        let config = common.reader()
        guard (config.string(forKey: "database.url", isSecret: true) ?? "").isEmpty else {
            throw CommandFailure(
                "ichigo restore replaces the SQLite database; for PostgreSQL use pg_restore or a base backup (see the README)"
            )
        }
        let settings = try IchigoConfiguration(config: config)
        let directory = try DataDirectory(path: settings.dataDirectory)
        let lock = try DataDirectoryLock.exclusive(directory)
        defer { _ = lock }
        let files = FileManager.default
        let source = URL(fileURLWithPath: from).standardizedFileURL.path
        guard files.isReadableFile(atPath: source) else { throw CommandFailure("cannot read \(from)") }
        guard source != directory.databasePath else {
            throw CommandFailure("\(from) is the database itself; restore from a copy")
        }
        if let size = (try? files.attributesOfItem(atPath: source + "-wal"))?[.size] as? Int, size > 0 {
            throw CommandFailure(
                "\(from) has a write-ahead log beside it (\(from)-wal): it is not a closed copy; restore a file written by `ichigo backup`"
            )
        }
        let stores = try Self.keyStores(config: config, settings: settings, directory: directory)
        let keyring = Keyring()
        let chain = AuditChain(keyring: keyring)

        // Check a scratch copy in the data directory; nothing else is touched until it passes.
        let scratch = directory.url.appendingPathComponent(".restore-\(UUID().uuidString.prefix(8)).sqlite").path
        defer { SQLiteBackup.removeDatabaseFiles(at: scratch) }
        try files.copyItem(atPath: source, toPath: scratch)
        let copy: SQLiteBackup.Summary
        do {
            copy = try await Self.check(scratch, chain: chain, stores: stores)
        } catch let error as IchigoError {
            // The scratch copy's name means nothing to the operator: name their file.
            say("restore refused: \((error.detail ?? "\(error)").replacingOccurrences(of: scratch, with: from))")
            say("nothing was changed in \(directory.url.path)")
            throw ExitCode(1)
        }

        // The head as signed before the restore, for the record.
        let headPath = directory.url.appendingPathComponent("audit.head").path
        let previousHead = (try? AuditHeadFile(path: headPath, chain: chain))?.read()

        // Move the current database, its head and the stream cursor aside; put the copy in place.
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let aside = directory.url.appendingPathComponent("before-restore-\(formatter.string(from: Date()))")
        let cursorPath = directory.url.appendingPathComponent("audit-stream.cursor").path
        let previousCursor = try? AuditStreamCursorFile(path: cursorPath).read()
        let moved = ["ichigo.sqlite", "ichigo.sqlite-wal", "ichigo.sqlite-shm", "audit.head", "audit-stream.cursor"]
            .filter { files.fileExists(atPath: directory.url.appendingPathComponent($0).path) }
        if !moved.isEmpty {
            try files.createDirectory(
                at: aside, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        }
        for name in moved {
            try files.moveItem(
                at: directory.url.appendingPathComponent(name), to: aside.appendingPathComponent(name))
        }
        guard rename(scratch, directory.databasePath) == 0 else {
            throw CommandFailure("cannot move the checked copy into place; the previous database is in \(aside.path)")
        }

        // The stream goes on from where the receiver is, if the copy holds that record; else from the copy's end.
        let repository = try SQLiteRepository(
            path: directory.databasePath, chain: chain, auditHead: try AuditHeadFile(path: headPath, chain: chain))
        if let previousCursor {
            let kept =
                try await repository.auditRecords(from: previousCursor.sequence, limit: 1).first.map {
                    $0.sequence == previousCursor.sequence && constantTimeEqual($0.hash, previousCursor.hash)
                } ?? (previousCursor.sequence == 0)
            let position =
                kept
                ? previousCursor
                : AuditStreamPosition(sequence: copy.newestAuditSequence, hash: copy.newestAuditHash)
            try AuditStreamCursorFile(path: cursorPath).write(position)
        }
        // The restore is itself in the trail (and so on its way to the SIEM): a fork after record L is announced.
        var reason = "restored from a copy ending at record \(copy.newestAuditSequence)"
        if let previousHead, previousHead.sequence > copy.newestAuditSequence {
            reason +=
                "; the trail had reached record \(previousHead.sequence): records \(copy.newestAuditSequence + 1)–\(previousHead.sequence) are not in this database, and their numbers are used again from here"
        }
        try await repository.append(
            AuditEvent(
                at: Date(), actor: "cli", action: "backup.restore", subject: (source as NSString).lastPathComponent,
                outcome: "ok", reason: reason))
        try repository.close()

        say("restored \(from): the audit trail verifies, up to record \(copy.newestAuditSequence)")
        if !moved.isEmpty { say("the replaced database, its signed head and the stream cursor: \(aside.path)") }
        if let previousHead, previousHead.sequence > copy.newestAuditSequence {
            say(
                "note: the signed head had reached record \(previousHead.sequence); records \(copy.newestAuditSequence + 1)–\(previousHead.sequence) are lost from the database (the SIEM has them if the stream delivered them). Keep \(aside.appendingPathComponent("audit.head").path) with the incident record."
            )
        }
    }

    /// The key stores as the server would open them; refuses to make a new master key (a new key would fail every
    /// record).
    static func keyStores(config: ConfigReader, settings: IchigoConfiguration, directory: DataDirectory) throws
        -> KeyStores
    {
        let store = config.string(forKey: "key.store", default: "file")
        let keyFile = directory.url.appendingPathComponent("master.key").path
        if store == "file", settings.masterKeyBase64 == nil, !FileManager.default.fileExists(atPath: keyFile) {
            throw CommandFailure(
                "there is no master key (\(keyFile) or ICHIGO_MASTER_KEY): put the key the copy was made with back first"
            )
        }
        return try KeyStores(config: config, settings: settings, directory: directory)
    }

    /// Checks the scratch copy: intact, an Ichigo database with known migrations, and its audit trail verifies.
    /// - Throws: `IchigoError` with the reason.
    static func check(_ path: String, chain: AuditChain, stores: KeyStores) async throws -> SQLiteBackup.Summary {
        let inspection = try SQLiteBackup.inspect(path)
        guard inspection.unknown.isEmpty else {
            throw IchigoError(
                .corruptData,
                detail:
                    "the copy has migrations this version does not know (\(inspection.unknown.joined(separator: ", "))): it comes from a newer Ichigo"
            )
        }
        let repository = try SQLiteRepository(path: path, chain: chain)
        // The copy's key versions, opened through this installation's key stores (a copy from before key versions
        // gets version 1, the master key, after checking the key against its first record).
        try await stores.custodian(
            keyring: chain.keyring, repository: repository, logger: Logger(label: "ichigo.restore"),
            activationDelay: .seconds(5)
        ).load(now: Date())
        let report = try await AuditVerifier(repository: repository, chain: chain).verify()
        try repository.close()
        guard report.isIntact else {
            throw IchigoError(
                .corruptData,
                detail:
                    "the copy's audit trail does not verify with this master key (\(report.breaks.count) problem(s), first: \(report.breaks[0])): a wrong key, or the copy was altered"
            )
        }
        try SQLiteBackup.consolidate(path)
        return inspection.summary
    }
}
