import ArgumentParser
import Foundation
import Ichigo
import IchigoPostgres
import IchigoRuntime
import IchigoSQLite
import Logging
import OTP

/// In-process figures for the OTP core and the verification service, without HTTP.
struct BenchCore: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-core",
        abstract: "Measure OTP checks per second in-process (core, and service on SQLite or PostgreSQL).")

    @Option(help: "Seconds to run each measurement.")
    var seconds: Double = 3

    @Option(help: "Tokens for the service measurement (each accepts one new code).")
    var tokens: Int = 5000

    @Option(
        help: """
            Measure the service on this PostgreSQL database (postgres://…; the bench adds its users to it) instead of \
            a temporary SQLite file.
            """)
    var database: String?

    @Option(help: "Concurrent verifications in the service measurement.")
    var concurrency: Int = 16

    func run() async throws {
        let clock = ContinuousClock()
        // 1. Core: decrypt the sealed seed, key HMAC once, check the expected step (the per-request work).
        let key = MasterKey.random()
        let vault = SeedVault(masterKey: key)
        let sealed = try (0..<1000).map { _ in
            let id = TokenID.random()
            let seed = Seed.random()
            return (id, try vault.seal(seed, for: id), TOTP(seed: seed).code(forStep: 29_000_000))
        }
        var checks = 0
        var matched = 0
        let deadline = clock.now + .seconds(seconds)
        while clock.now < deadline {
            for (id, box, code) in sealed {
                let totp = TOTP(seed: try vault.open(box, for: id))
                if totp.matchingStep(for: code, around: 29_000_000, window: 1) != nil { matched += 1 }
                checks += 1
            }
        }
        say(
            String(
                format: "core: %.0f checks/s on one core (decrypt seed + key HMAC + verify; %d matched of %d)",
                Double(checks) / seconds, matched, checks))

        // 2. Pre-keyed HOTP, the floor of the algorithm.
        let hotp = HOTP(seed: Seed.random())
        var generated = 0
        var sink = 0
        let deadline2 = clock.now + .seconds(seconds)
        while clock.now < deadline2 {
            for counter in 0..<10_000 { sink &+= Int(hotp.code(for: UInt64(counter)).count) }
            generated += 10_000
        }
        precondition(sink > 0)  // keeps the codes from being optimised away
        say(String(format: "hotp: %.0f codes/s on one core (pre-keyed HMAC-SHA1)", Double(generated) / seconds))

        // 3. TOTP verification as the server decides it, on one core: 1,000 tokens keyed once (as a verifier that
        // keeps its keys unsealed would), each code checked in the policy's window ±1 around its expected step,
        // 10% of the codes wrong (a wrong code costs all three steps).
        let keyed = (0..<1000).map { index -> (TOTP, OTPCode) in
            let totp = TOTP(seed: Seed.random())
            let right = totp.code(forStep: 29_000_000)
            guard index % 10 == 0 else { return (totp, right) }
            // A wrong code: the right one shifted by half the code space (it may, once in ~300,000, hit a neighbour).
            return (totp, OTPCode(String(format: "%06d", (Int(right.text)! + 500_000) % 1_000_000))!)
        }
        var verified = 0
        var keyedAccepted = 0
        let deadline3 = clock.now + .seconds(seconds)
        while clock.now < deadline3 {
            for (totp, code) in keyed where totp.matchingStep(for: code, around: 29_000_000, window: 1) != nil {
                keyedAccepted += 1
            }
            verified += keyed.count
        }
        say(
            String(
                format: "totp: %.0f verifications/s on one core (pre-keyed, window ±1, %d accepted of %d: 10%% wrong)",
                Double(verified) / seconds, keyedAccepted, verified))

        // 3b. Password checks (scrypt at the production cost, log2 N = 15): a login and a transfer's confirmation
        // password each cost one, on one core. With the OTP check, this is what sizes a deployment's CPU.
        let hasher = PasswordHasher(logRounds: 15)
        let stored = try hasher.hash("ichigo-bench-2026")
        var passwordChecks = 0
        let started5 = clock.now
        while clock.now - started5 < .seconds(seconds) {
            precondition(hasher.verify("ichigo-bench-2026", against: stored))
            passwordChecks += 1
        }
        let passwordSeconds = clock.now - started5
        let elapsed5 = Double(passwordSeconds.components.seconds) + Double(passwordSeconds.components.attoseconds) / 1e18
        say(
            String(
                format: "password: %.1f scrypt checks/s on one core (log2 N = 15, r = 8, p = 1; %.1f ms each)",
                Double(passwordChecks) / elapsed5, elapsed5 * 1000 / Double(passwordChecks)))

        // 4. The verification service on SQLite (durable commits, shared by concurrent writers; accepted code), or on
        // PostgreSQL, `concurrency` tasks at once.
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ichigo-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let repository: any OpenedStore
        let backend: String
        if let database {
            let postgres = try PostgresRepository(url: database, chain: AuditChain(masterKey: key), logger: Logger(label: "bench"))
            (repository, backend) = (postgres, "PostgreSQL")
        } else {
            repository = try SQLiteRepository(
                path: directory.appendingPathComponent("bench.sqlite").path, chain: AuditChain(masterKey: key))
            backend = "SQLite"
        }
        defer { try? repository.close() }
        try await repository.whileRunning {
            // A run of its own, so the bench can run again on the same PostgreSQL database.
            let run = UUID().uuidString.prefix(8).lowercased()
            let service = TokenService(
                repository: repository, vault: vault, policy: .standard, logger: Logger(label: "bench"))
            let customers = CustomerService(repository: repository, hasher: .init(logRounds: 1))
            let now = Date()
            var users: [(UserID, OTPCode)] = []
            for index in 0..<tokens {
                let user = try await customers.createRetailCustomer(
                    NewUser(loginID: LoginID(rawValue: "bench-\(run)-\(index)")!, name: "bench"), actor: "bench", at: now)
                let (token, seed) = try await service.enrolSoftwareToken(
                    for: user.id, state: .active, actor: "bench", at: now)
                users.append((user.id, TOTP(seed: seed, parameters: token.parameters).code(at: now)))
            }
            let work = users
            let start = clock.now
            let accepted = try await withThrowingTaskGroup(of: Int.self) { group in
                for worker in 0..<concurrency {
                    group.addTask {
                        var count = 0
                        for index in stride(from: worker, to: work.count, by: concurrency) {
                            if try await service.verify(work[index].1, for: work[index].0, actor: "bench", at: now)
                                .isAccepted
                            {
                                count += 1
                            }
                        }
                        return count
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = clock.now - start
            let secondsTaken = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            say(
                String(
                    format: "service: %.0f verifications/s in-process on \(backend) (%d accepted, %d refused, %d tokens)",
                    Double(users.count) / secondsTaken, accepted, users.count - accepted, users.count))
        }
    }
}
