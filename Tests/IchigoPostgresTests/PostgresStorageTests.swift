import Foundation
import GRDB
import Ichigo
import IchigoFiles
import IchigoPostgres
import IchigoSQLite
import IchigoTesting
import Logging
import OTP
import PostgresNIO
import Synchronization
import Testing

/// What only a shared database needs: several instances (each with its own connection pool) on one database.
@Suite("PostgreSQL with several instances", .enabled(if: TestDatabase.isConfigured, TestDatabase.notConfigured))
struct PostgresStorageTests {
    static let start = ContractFixture.start

    @Test("instances starting at once apply each migration once")
    func concurrentMigrations() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<4 {
                    group.addTask { try await TestDatabase.withRepository(url: url, masterKey: key) { _ in } }
                }
                try await group.waitForAll()
            }
            try await TestDatabase.withRepository(url: url, masterKey: key) { repository in
                let status = try await repository.schemaStatus()
                #expect(status.isCurrent)
                #expect(status.applied.count == status.known.count)
                #expect(Set(status.applied).count == status.applied.count)
            }
        }
    }

    @Test("a code is accepted once across instances")
    func onceAcrossInstances() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { first in
                try await TestDatabase.withRepository(url: url, masterKey: key) { second in
                    let fixture = ContractFixture(repository: first, masterKey: key)
                    let other = ContractFixture(repository: second, masterKey: key)
                    let (user, token, totp) = try await fixture.activeCustomer("across")
                    let code = totp.code(at: Self.start)
                    let results = try await withThrowingTaskGroup(of: VerificationResult.self) { group in
                        for index in 0..<40 {
                            let service = index.isMultiple(of: 2) ? fixture.tokens : other.tokens
                            group.addTask { try await service.verify(code, for: user.id, actor: "t", at: Self.start) }
                        }
                        return try await group.reduce(into: [VerificationResult]()) { $0.append($1) }
                    }
                    #expect(results.filter(\.isAccepted).count == 1)
                    #expect(results.allSatisfy { $0.isAccepted || $0 == .refused(.replay) })
                    #expect(try await second.token(token.id)?.lastAcceptedStep == token.parameters.step(at: Self.start))
                }
            }
        }
    }

    /// Adds `count` concurrent appends of `test.append` records (subjects `s0`, `s1`, …) to `group`, alternating
    /// between the two instances.
    static func appendAlternately(
        _ count: Int, _ first: PostgresRepository, _ second: PostgresRepository,
        in group: inout ThrowingTaskGroup<Void, any Error>
    ) {
        for index in 0..<count {
            let repository = index.isMultiple(of: 2) ? first : second
            group.addTask {
                try await repository.append(
                    AuditEvent(
                        at: start + Double(index), actor: "instance\(index % 2)", action: "test.append",
                        subject: "s\(index)", outcome: "ok"))
            }
        }
    }

    @Test("one audit chain for every instance, verifiable, its head row at its end")
    func auditChainAcrossInstances() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { first in
                try await TestDatabase.withRepository(url: url, masterKey: key) { second in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        Self.appendAlternately(60, first, second, in: &group)
                        // State changes with their audit records, interleaved with the plain appends.
                        for index in 0..<10 {
                            let fixture = ContractFixture(
                                repository: index.isMultiple(of: 2) ? first : second, masterKey: key)
                            group.addTask { _ = try await fixture.customer("chain\(index)") }
                        }
                        try await group.waitForAll()
                    }
                    let chain = AuditChain(masterKey: key)
                    let report = try await AuditVerifier(repository: second, chain: chain).verify(pageSize: 7)
                    #expect(report.isIntact, "\(report.breaks)")
                    let records = try await first.auditRecords(from: 1, limit: 1000)
                    #expect(records.map(\.sequence) == Array(1...Int64(records.count)))
                    #expect(records.filter { $0.event.action == "test.append" }.count == 60)
                    #expect(report.recordCount == records.count && records.count > 60)
                    let head = try await first.client.query("SELECT seq, hash FROM audit_chain_head")
                        .decode((Int64, String).self).reduce(into: [(Int64, String)]()) { $0.append($1) }
                    #expect(head.count == 1)
                    #expect(head.first?.0 == records.last?.sequence && head.first?.1 == records.last?.hash)
                }
            }
        }
    }

    @Test("the signed head file outside the database follows every commit, and stops when the newest records go")
    func signedHeadFile() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent(
            "ichigo-pghead-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("audit-postgres.head").path
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            let chain = AuditChain(masterKey: key)
            let problems = Mutex<[String]>([])
            let report: @Sendable (String) -> Void = { message in problems.withLock { $0.append(message) } }
            // Two instances sharing one data directory, so one file: each advances it, never backwards.
            let firstHead = try AuditHeadFile(path: path, chain: chain, report: report)
            let secondHead = try AuditHeadFile(path: path, chain: chain, report: report)
            try await TestDatabase.withRepository(url: url, masterKey: key, auditHead: firstHead) { first in
                try await TestDatabase.withRepository(url: url, masterKey: key, auditHead: secondHead) { second in
                    try await withThrowingTaskGroup(of: Void.self) { group in
                        Self.appendAlternately(40, first, second, in: &group)
                        try await group.waitForAll()
                    }
                    // The file names the trail's last record, signed.
                    let signed = try #require(firstHead.read())
                    let last = try #require(try await first.auditRecords(from: 1, limit: 100).last)
                    #expect(signed.sequence == 40 && last.sequence == 40 && signed.hash == last.hash)
                    #expect(chain.isAuthentic(signed))
                    let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as? Int
                    #expect(mode == 0o600)
                    let intact = try await AuditVerifier(repository: first, chain: chain).verify(anchors: [signed])
                    #expect(intact.isIntact && intact.anchorsChecked == 1)

                    // Someone who owns the database deletes the newest five records and moves the head row back.
                    _ = try await first.client.query(
                        "ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update_or_delete")
                    _ = try await first.client.query("DELETE FROM audit_log WHERE seq > 35")
                    _ = try await first.client.query(
                        "UPDATE audit_chain_head SET seq = a.seq, hash = a.hash FROM audit_log a WHERE a.seq = 35")
                    _ = try await first.client.query(
                        "ALTER TABLE audit_log ENABLE TRIGGER audit_log_no_update_or_delete")
                    // The chain alone cannot see it; the file can.
                    #expect(try await AuditVerifier(repository: first, chain: chain).verify().isIntact)
                    let broken = try await AuditVerifier(repository: first, chain: chain).verify(anchors: [signed])
                    #expect(!broken.isIntact)
                    #expect(broken.breaks.contains { $0.sequence == 40 })

                    // The next write is committed (the bank keeps working), but the file stays as evidence.
                    try await second.append(
                        AuditEvent(at: Self.start, actor: "t", action: "test.append", subject: "after", outcome: "ok"))
                    #expect(try await second.auditRecords(from: 36, limit: 10).map(\.event.subject) == ["after"])
                    #expect(firstHead.read() == signed)
                    #expect(secondHead.problem?.contains("record 40") == true)
                    #expect(problems.withLock { $0.count } == 1)
                    try await first.append(
                        AuditEvent(at: Self.start, actor: "t", action: "test.append", subject: "later", outcome: "ok"))
                    #expect(firstHead.read() == signed)
                    #expect(firstHead.problem != nil)
                    #expect(
                        try await !AuditVerifier(repository: first, chain: chain).verify(anchors: [signed]).isIntact)
                }
            }
        }
    }

    @Test("concurrent writes share transactions, and a failing one takes back only its own work")
    func groupCommitIsolatesFailures() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { repository in
                // 20 login IDs, each inserted twice at once: one insert of each pair must fail, and take back the
                // contract it had already inserted in its part of the shared transaction.
                let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                    for index in 0..<40 {
                        group.addTask {
                            let contract = Contract(
                                id: .random(), kind: .retail, name: "c\(index)", createdAt: Self.start)
                            let user = User(
                                id: .random(), contractID: contract.id,
                                loginID: LoginID(rawValue: "pair\(index % 20)")!, name: "u", role: .customer,
                                createdAt: Self.start)
                            do {
                                try await repository.insert(
                                    contract, with: user,
                                    audit: [
                                        AuditEvent(
                                            at: Self.start, actor: "t", action: "user.create",
                                            subject: user.id.rawValue, outcome: "ok")
                                    ])
                                return true
                            } catch let error as IchigoError where error.code == .loginIDTaken {
                                return false
                            }
                        }
                    }
                    return try await group.reduce(into: [Bool]()) { $0.append($1) }
                }
                #expect(outcomes.filter { $0 }.count == 20)
                #expect(try await repository.userCount() == 20)
                let contracts = try await repository.client.query("SELECT count(*) FROM contracts")
                    .decode(Int.self).reduce(into: [Int]()) { $0.append($1) }
                #expect(contracts == [20])
                let records = try await repository.auditRecords(from: 1, limit: 100)
                #expect(records.count == 20)
                let report = try await AuditVerifier(repository: repository, chain: AuditChain(masterKey: key))
                    .verify()
                #expect(report.isIntact && report.recordCount == 20)
            }
        }
    }

    @Test("text with a NUL character is refused as input, and nothing is stored")
    func nulCharacter() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { repository async throws in
                let contract = Contract(id: .random(), kind: .retail, name: "a\u{0}b", createdAt: Self.start)
                let event = AuditEvent(at: Self.start, actor: "t", action: "t", subject: "t", outcome: "ok")
                let error = await #expect(throws: IchigoError.self) {
                    try await repository.insert(contract, audit: event)
                }
                #expect(error?.code == .invalidInput)
                #expect(try await repository.contract(contract.id) == nil)
                #expect(try await repository.auditRecords(from: 1, limit: 10).isEmpty)
            }
        }
    }

    @Test("the audit trail refuses UPDATE, DELETE and TRUNCATE")
    func auditAppendOnly() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { repository in
                try await repository.append(
                    AuditEvent(at: Self.start, actor: "t", action: "t", subject: "t", outcome: "ok"))
                for statement: PostgresQuery in [
                    "UPDATE audit_log SET outcome = 'refused' WHERE seq = 1", "DELETE FROM audit_log WHERE seq = 1",
                    "TRUNCATE audit_log",
                ] {
                    await #expect(throws: PSQLError.self, "\(statement.sql)") {
                        try await repository.client.query(statement)
                    }
                }
                #expect(try await repository.auditRecords(from: 1, limit: 10).map(\.event.outcome) == ["ok"])
            }
        }
    }

    @Test("outbox: two instances never get the same mail while the claim holds")
    func mailClaims() async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            try await TestDatabase.withRepository(url: url, masterKey: key) { first in
                try await TestDatabase.withRepository(url: url, masterKey: key) { second in
                    for index in 0..<30 {
                        try await first.enqueue(
                            OutgoingMail(
                                recipient: "r@example.jp", subject: "m\(index)", body: "b", createdAt: Self.start))
                    }
                    async let a = first.pendingMails(limit: 20, at: Self.start)
                    async let b = second.pendingMails(limit: 20, at: Self.start)
                    let (mailsA, mailsB) = try await (a, b)
                    let idsA = Set(mailsA.compactMap(\.id))
                    let idsB = Set(mailsB.compactMap(\.id))
                    #expect(idsA.isDisjoint(with: idsB))
                    #expect(idsA.count + idsB.count == 30)
                    // An instance gets its own claims again; the other does not, until the lease runs out.
                    #expect(Set(try await first.pendingMails(limit: 50, at: Self.start + 1).compactMap(\.id)) == idsA)
                    #expect(Set(try await second.pendingMails(limit: 50, at: Self.start + 1).compactMap(\.id)) == idsB)
                    let sentByA = try #require(mailsA.first?.id)
                    try await first.markSent(sentByA, at: Self.start + 2)
                    let afterLease = Self.start + PostgresRepository.mailLease + 5
                    let takenOver = Set(try await second.pendingMails(limit: 50, at: afterLease).compactMap(\.id))
                    #expect(takenOver == idsA.union(idsB).subtracting([sentByA]))
                    #expect(try await first.pendingMails(limit: 50, at: afterLease).isEmpty)
                }
            }
        }
    }
}

/// URL parsing needs no server.
@Suite("PostgreSQL URL")
struct PostgresLocationTests {
    @Test func readsTheParts() throws {
        let location = try PostgresLocation(url: "postgres://ichigo:s%40cret@db.example.jp:6432/bank?sslmode=disable")
        #expect(location.configuration.host == "db.example.jp")
        #expect(location.configuration.port == 6432)
        #expect(location.configuration.username == "ichigo")
        #expect(location.configuration.password == "s@cret")
        #expect(location.configuration.database == "bank")
        #expect(!location.redacted.contains("cret") && location.redacted.contains("db.example.jp"))
    }

    @Test func defaultsAndSockets() throws {
        let plain = try PostgresLocation(url: "postgresql://ichigo@localhost")
        #expect(plain.configuration.port == 5432 && plain.configuration.database == "ichigo")
        #expect(plain.configuration.password == nil)
        let socket = try PostgresLocation(url: "postgres://ichigo@/bank?host=/run/postgresql")
        #expect(socket.configuration.unixSocketPath == "/run/postgresql/.s.PGSQL.5432")
    }

    @Test(arguments: [
        "sqlite:///tmp/x", "postgres://db.example.jp/bank", "postgres://u@h/b?sslmode=sometimes",
        "postgres://u@h/b?ssl=true", "postgres://u:p@/bank",
    ])
    func refuses(_ url: String) {
        #expect(throws: IchigoError.self) { try PostgresLocation(url: url) }
    }

    @Test func tellsPostgresFromSQLite() {
        #expect(
            PostgresLocation.isPostgresURL("postgres://u@h/b") && PostgresLocation.isPostgresURL("POSTGRESQL://u@h"))
        #expect(!PostgresLocation.isPostgresURL("./data/ichigo.sqlite"))
    }
}

/// The two schemas stay the same: a migration added to one backend and not the other fails here.
@Suite("PostgreSQL schema", .enabled(if: TestDatabase.isConfigured, TestDatabase.notConfigured))
struct PostgresSchemaTests {
    /// What only PostgreSQL has: the chain's head row, the migration table, and the outbox claims.
    static let postgresOnly: Set<String> = [
        "audit_chain_head.id", "audit_chain_head.seq", "audit_chain_head.hash", "schema_migrations.id",
        "schema_migrations.applied_at", "mail_outbox.claimed_by", "mail_outbox.claimed_until",
    ]

    @Test("the tables and columns of SQLite's end state")
    func sameColumnsAsSQLite() async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("ichigo.sqlite").path
        let key = MasterKey.random()
        try SQLiteRepository(path: path, chain: AuditChain(masterKey: key)).close()
        let sqlite = try await DatabaseQueue(path: path).read { db in
            var columns = Set<String>()
            let tables = try String.fetchAll(
                db,
                sql:
                    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'grdb_%'"
            )
            for table in tables {
                for column in try db.columns(in: table) { columns.insert("\(table).\(column.name)") }
            }
            return columns
        }
        try await TestDatabase.withFreshDatabase { url in
            try await TestDatabase.withRepository(url: url, masterKey: key) { repository in
                var postgres = Set<String>()
                let rows = try await repository.client.query(
                    "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'")
                for try await (table, column) in rows.decode((String, String).self) {
                    postgres.insert("\(table).\(column)")
                }
                #expect(sqlite.subtracting(postgres).sorted() == [], "in SQLite only")
                #expect(
                    postgres.subtracting(sqlite).subtracting(Self.postgresOnly).sorted() == [], "in PostgreSQL only")
                #expect(sqlite.count > 50)
            }
        }
    }
}
