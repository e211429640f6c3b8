import Foundation
import Ichigo
import OTP

/// The storage contract of key versions (`KeyVersionRepository`): versions stored once, moved between stores all or
/// nothing, seeds re-sealed in batches that each seed joins once (also with two callers at once), tokens' state
/// untouched by a re-seal, retirement only of a version no seed uses, and audit records signed before and after a
/// rotation verifying together. Needs the fixture's keyring to be the repository chain's.
extension RepositoryContract {
    static let keyChecks: [ContractCheck] = [
        ContractCheck(name: "keys: versions stored once, re-wrapped all or nothing", run: keyVersionStorage),
        ContractCheck(name: "keys: re-sealing keeps seeds and token state, each seed once with two callers", run: resealing),
        ContractCheck(name: "keys: a version is retired only when no seed uses it; the chain verifies across", run: retiring),
    ]

    static func version(_ number: Int, wrappedBy: String = "file", at now: Date = ContractFixture.start) -> KeyVersion {
        KeyVersion(
            version: number, wrappedBy: wrappedBy, wrapped: Array(repeating: UInt8(number), count: 40), createdAt: now,
            activeFrom: now + 5)
    }

    static func keyVersionStorage(_ f: ContractFixture) async throws {
        let repository = f.repository
        try ensure(try await repository.keyVersions().isEmpty, "no versions at first")
        let auditBefore = try await repository.auditRecords(from: 1, limit: 1000).count
        try ensure(try await repository.insert(version(1, wrappedBy: KeyVersion.masterKeyStore), audit: nil), "v1")
        var first = version(1, wrappedBy: KeyVersion.masterKeyStore)
        first.wrapped = nil
        try ensure(try await repository.insert(version(2), audit: event("key.rotate", "key version 2")), "v2")
        try ensure(!(try await repository.insert(version(2, wrappedBy: "pkcs11:x/y"), audit: event("key.rotate"))), "a second v2 is refused")
        var stored = try await repository.keyVersions()
        try ensure(stored.map(\.version) == [1, 2], "both, in order: \(stored.map(\.version))")
        try ensure(stored[1] == version(2), "v2 as stored: \(stored[1])")
        try ensure(stored[0].wrapped == nil || stored[0].wrapped == version(1).wrapped, "v1 as stored")
        let auditAfter = try await repository.auditRecords(from: 1, limit: 1000)
        try ensure(auditAfter.count == auditBefore + 1, "one audit record (the refused insert wrote none)")
        try ensure(auditAfter.last?.event.action == "key.rotate", "the rotation is audited")

        // Re-wrapping: all or nothing.
        var moved = version(2, wrappedBy: "pkcs11:hsm/kek")
        moved.wrapped = [9, 9, 9]
        try await ensureThrows(.corruptData) {
            try await repository.rewrap([moved, version(7, wrappedBy: "pkcs11:hsm/kek")], audit: event("key.rewrap"))
        }
        stored = try await repository.keyVersions()
        try ensure(stored[1].wrappedBy == "file", "nothing moved when one version is unknown")
        try await repository.rewrap([moved], audit: event("key.rewrap"))
        stored = try await repository.keyVersions()
        try ensure(stored[1].wrappedBy == "pkcs11:hsm/kek" && stored[1].wrapped == [9, 9, 9], "moved: \(stored[1])")
        try ensure(stored[1].activeFrom == version(2).activeFrom, "the activation time stays")
    }

    /// Customers with active tokens whose seeds are sealed under version 1.
    static func sealedCustomers(_ f: ContractFixture, _ prefix: String, count: Int) async throws -> [(User, Token, TOTP)] {
        var made: [(User, Token, TOTP)] = []
        for index in 0..<count { made.append(try await f.activeCustomer("\(prefix)\(index)")) }
        return made
    }

    static func resealing(_ f: ContractFixture) async throws {
        let repository = f.repository
        let old = try await sealedCustomers(f, "rs", count: 12)
        try ensure(try await repository.sealedSeedCounts() == [1: 12], "12 seeds under version 1")
        // Version 2 arrives; a token enrolled now is sealed under it.
        f.keyring.install(2, key: .random())
        try f.keyring.use(2)
        let (_, newest, _) = try await f.activeCustomer("rsnew")
        try ensure(newest.sealedSeed.keyVersion == 2, "a new seed is sealed under the current version")
        try ensure(try await repository.token(newest.id)?.sealedSeed.keyVersion == 2, "and stored with it")
        try ensure(try await repository.sealedSeedCounts() == [1: 12, 2: 1], "counts by version")

        // A re-seal aiming at an older version (an instance not yet on version 2) touches nothing.
        let vault = f.vault
        let none = try await repository.resealSeeds(olderThan: 1, after: nil, limit: 100) { id, sealed in
            try? vault.reseal(sealed, for: id)
        }
        try ensure(none.examined == 0 && none.last == nil, "nothing is older than version 1")

        // A seed that is left as it is (it would not open) stays, and the pass goes on past it by the cursor.
        let skipped = old[3].1.id
        let passed = try await repository.resealSeeds(olderThan: 2, after: nil, limit: 1000) { id, sealed in
            id == skipped ? nil : try? vault.reseal(sealed, for: id)
        }
        try ensure(passed.examined == 12 && passed.resealed == 11, "one left, eleven re-sealed: \(passed)")
        try ensure(passed.last == old.map(\.1.id).max { $0.rawValue < $1.rawValue }, "the cursor is the last ID taken")
        let after = try await repository.resealSeeds(olderThan: 2, after: passed.last, limit: 1000) { id, sealed in
            try? vault.reseal(sealed, for: id)
        }
        try ensure(after.examined == 0, "nothing after the cursor")
        try ensure(try await repository.token(skipped)?.sealedSeed.keyVersion == 1, "the skipped seed is untouched")
        try ensure(try await repository.sealedSeedCounts() == [1: 1, 2: 12], "counts after the first pass")

        // Two callers at once, batches of 5 from the start: the one seed left is re-sealed once, by one of them.
        let calls = Counter()
        let totals = try await withThrowingTaskGroup(of: Int.self) { group in
            for _ in 0..<2 {
                group.addTask {
                    var total = 0
                    var cursor: TokenID?
                    while true {
                        let batch = try await repository.resealSeeds(olderThan: 2, after: cursor, limit: 5) { id, sealed in
                            calls.add()
                            return try? vault.reseal(sealed, for: id)
                        }
                        if batch.examined == 0 { return total }
                        total += batch.resealed
                        cursor = batch.last
                    }
                }
            }
            return try await group.reduce(into: [Int]()) { $0.append($1) }
        }
        try ensure(totals.reduce(0, +) == 1, "the one left re-sealed once in all: \(totals)")
        try ensure(calls.value == 1, "each seed handed out once: \(calls.value) calls")
        try ensure(try await repository.sealedSeedCounts() == [2: 13], "every seed under version 2")

        // Every seed opens under version 2 and the tokens' state is as it was: the code used at activation is still
        // refused, the current one accepted once.
        for (user, before, totp) in old {
            guard let after = try await repository.token(before.id) else { throw ContractFailure("token gone") }
            try ensure(after.sealedSeed.keyVersion == 2 && after.sealedSeed != before.sealedSeed, "re-sealed")
            try ensure(try f.vault.open(after.sealedSeed, for: after.id) == f.vault.open(before.sealedSeed, for: before.id), "same seed")
            try ensure(
                after.lastAcceptedStep == before.lastAcceptedStep && after.state == before.state
                    && after.failureCount == before.failureCount && after.driftSteps == before.driftSteps,
                "state untouched")
            let replay = try await f.tokens.verify(
                totp.code(at: ContractFixture.start - 60), for: user.id, actor: "test", at: ContractFixture.start)
            try ensure(!replay.isAccepted, "the activation code stays used")
        }
        let (user, _, totp) = old[0]
        let now = ContractFixture.start
        try ensure(try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now).isAccepted, "verifies")
        try ensure(!(try await f.tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now).isAccepted), "once")
    }

    static func retiring(_ f: ContractFixture) async throws {
        let repository = f.repository
        _ = try await sealedCustomers(f, "rt", count: 3)
        _ = try await repository.insert(version(1, wrappedBy: KeyVersion.masterKeyStore), audit: nil)
        _ = try await repository.insert(version(2), audit: event("key.rotate", "key version 2"))
        // Version 2 with version 1's very key: only the version inside the hash tells their records apart.
        f.keyring.install(2, key: f.masterKey)
        try f.keyring.use(2)
        try ensure(
            !(try await repository.retire(1, at: ContractFixture.start, audit: event("key.retire", "key version 1"))),
            "version 1 still seals seeds")
        try ensure(try await repository.keyVersions()[0].retiredAt == nil, "not retired")
        let vault = f.vault
        var cursor: TokenID?
        while true {
            let batch = try await repository.resealSeeds(olderThan: 2, after: cursor, limit: 2) { try? vault.reseal($1, for: $0) }
            if batch.examined == 0 { break }
            cursor = batch.last
        }
        try ensure(
            try await repository.retire(1, at: ContractFixture.start + 1, audit: event("key.retire", "key version 1")),
            "retired once nothing uses it")
        try ensure(!(try await repository.retire(1, at: ContractFixture.start + 2, audit: event("key.retire"))), "once")
        try ensure(try await repository.keyVersions()[0].retiredAt == ContractFixture.start + 1, "retirement time kept")

        // The chain: records signed with version 1, then 2, read back with their versions and verifying together;
        // a record claiming another version does not verify.
        let records = try await repository.auditRecords(from: 1, limit: 10_000)
        let versions = Set(records.map(\.keyVersion))
        try ensure(versions == [1, 2], "records under both versions: \(versions)")
        try ensure(records.last?.keyVersion == 2 && records.first?.keyVersion == 1, "in order")
        try ensure(f.chain.verify(records, after: nil).isEmpty, "the chain verifies across the rotation")
        var relabelled = records
        relabelled[relabelled.count - 1].keyVersion = 1
        try ensure(!f.chain.verify(relabelled, after: nil).isEmpty, "the version is covered by the hash")
        let head = f.chain.head(sequence: records.last!.sequence, hash: records.last!.hash, at: ContractFixture.start)
        try ensure(head.keyVersion == 2 && f.chain.isAuthentic(head), "a head signed with version 2")
        try ensure(AuditHead(line: head.description) == head, "its text form keeps the version")
        try ensure(!AuditChain(masterKey: .random()).isAuthentic(head), "another key cannot check it")
        // Once version 2 has taken over (its activation and the grace), a record signed with version 1 is a break.
        let late = ContractFixture.start.addingTimeInterval(Keyring.switchOverGrace + 60)
        f.keyring.install(2, key: f.masterKey, activeFrom: ContractFixture.start)
        let forged = AuditChain(masterKey: f.masterKey).record(
            for: event("token.unlock", "t", at: late), after: (records.last!.sequence, records.last!.hash))
        try ensure(forged.keyVersion == 1, "signed with version 1")
        try ensure(
            f.chain.verify(records + [forged], after: nil).map(\.problem)
                == ["signed with key version 1 after a newer version took over"], "the late version-1 record is a break")
        try ensure(!f.chain.isAuthentic(AuditChain(masterKey: f.masterKey).head(sequence: 1, hash: records[0].hash, at: late)),
            "so is a late version-1 head")
    }
}

/// A thread-safe call counter for the checks.
final class Counter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    func add() { lock.withLock { count += 1 } }
    var value: Int { lock.withLock { count } }
}
