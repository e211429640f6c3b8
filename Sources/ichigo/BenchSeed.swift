import ArgumentParser
import Configuration
import Foundation
import Ichigo
import IchigoRuntime
import IchigoKeys
import IchigoWeb
import Logging
import OTP

/// Loads many users with active tokens for `scripts/bench-verify`, and writes their seeds to a file
/// so an independent implementation (pyotp) can compute the codes.
struct BenchSeed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-seed",
        abstract: "Benchmark setup only: create N users with active tokens and write `userID base32seed` lines.",
        shouldDisplay: false)

    @OptionGroup var common: CommonOptions

    @Option(help: "Number of users, each with an active token.")
    var users: Int = 1000

    @Option(help: "File to write `userID base32seed` lines to (mode 0600).")
    var out: String

    func run() async throws {
        let config = common.reader()
        let settings = try IchigoConfiguration(config: config)
        let directory = try DataDirectory(path: settings.dataDirectory)
        let stores = try KeyStores(config: config, settings: settings, directory: directory)
        let keyring = Keyring()
        let (repository, _) = try Storage.open(
            url: config.string(forKey: "database.url", isSecret: true), directory: directory,
            chain: AuditChain(keyring: keyring), logger: Logger(label: "bench-seed"), bulkLoad: true)
        defer { try? repository.close() }
        try await repository.whileRunning {
            try await stores.custodian(
                keyring: keyring, repository: repository, logger: Logger(label: "bench-seed"), activationDelay: .seconds(5)
            ).load(now: Date())
            let services = IchigoServices(
                repository: repository, keyring: keyring, policy: settings.policy, hasher: PasswordHasher(logRounds: 10),
                apiKey: try directory.apiKey(configured: settings.apiKey), bankName: settings.bankName,
                logger: .init(label: "bench-seed"))
            let now = Date()
            let existing = try await repository.userCount()
            var lines: [String] = []
            lines.reserveCapacity(users)
            // 256 users at a time, so that their writes share commits (group commit) instead of one commit each.
            var done = 0
            while done < users {
                let chunk = done..<min(users, done + 256)
                try await withThrowingTaskGroup(of: String.self) { group in
                    for index in chunk {
                        group.addTask {
                            let user = try await services.customers.createRetailCustomer(
                                NewUser(loginID: LoginID(rawValue: "bench\(existing + index)")!, name: "bench"),
                                actor: "bench", at: now)
                            let (_, seed) = try await services.tokens.enrolSoftwareToken(
                                for: user.id, state: .active, actor: "bench", at: now)
                            return "\(user.id.rawValue) \(seed.base32)"
                        }
                    }
                    for try await line in group { lines.append(line) }
                }
                done = chunk.upperBound
                if users >= 100_000 && done % 100_000 == 0 { say("bench-seed: \(done) of \(users)") }
            }
            _ = FileManager.default.createFile(
                atPath: out, contents: Data((lines.joined(separator: "\n") + "\n").utf8),
                attributes: [.posixPermissions: 0o600])
        }
        say("bench-seed: \(users) users with active tokens; seeds in \(out)")
    }
}
