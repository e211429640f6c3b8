import Foundation
import Ichigo

/// The storage contract of passkeys: credentials stored and read back exactly, a credential ID registered once, the
/// limit per person (also under concurrency), counters by compare-and-set, challenges taken once, only by the session
/// that asked and never after expiry, and removal with its mail and audit record.
extension RepositoryContract {
    static let passkeyChecks: [ContractCheck] = [
        ContractCheck(name: "passkeys: stored and read back, one credential ID once, at most the limit", run: passkeysRoundTrip),
        ContractCheck(name: "passkeys: a challenge taken once, by its binding only, never after expiry", run: passkeyChallenges),
        ContractCheck(name: "passkeys: 20 concurrent takes of one challenge, one wins; 20 counter moves, one wins", run: passkeyRaces),
        ContractCheck(name: "passkeys: 12 concurrent registrations of one person stop at the limit", run: passkeyLimitRace),
        ContractCheck(name: "passkeys: rename, clone mark, removal of one and of all with mail and audit", run: passkeyManagement),
    ]

    static func samplePasskey(_ user: UserID, _ id: String, at now: Date = ContractFixture.start) -> Passkey {
        Passkey(
            credentialID: id, userID: user, name: "鍵 \(id)", publicKey: Array((0..<77).map { UInt8($0) }),
            algorithm: -7, signCount: 3, aaguid: "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4",
            transports: ["internal", "hybrid"], backupEligible: true, backedUp: false, attestation: "none",
            createdAt: now)
    }

    static func passkeysRoundTrip(_ f: ContractFixture) async throws {
        let user = try await f.customer("pk1")
        let other = try await f.customer("pk2")
        let first = samplePasskey(user.id, "cred-A")
        let mailsBefore = try await f.repository.pendingMails(limit: 100, at: ContractFixture.start + 1).count
        try await f.repository.insert(first, limit: 3, audit: event("passkey.register"), mail: mail("登録"))
        try ensure(try await f.repository.passkey(credentialID: "cred-A") == first, "passkey read back differs")
        try ensure(try await f.repository.passkeys(of: user.id) == [first], "list differs")
        try ensure(
            try await f.repository.pendingMails(limit: 100, at: ContractFixture.start + 1).count == mailsBefore + 1,
            "the registration mail was not queued")
        // The same credential ID for anyone is refused, and nothing changes.
        try await ensureThrows(.passkeyTaken) {
            try await f.repository.insert(samplePasskey(other.id, "cred-A"), limit: 3, audit: event("x"), mail: nil)
        }
        try ensure(try await f.repository.passkeys(of: other.id).isEmpty, "a refused passkey was stored")
        try await ensureThrows(.userNotFound) {
            try await f.repository.insert(samplePasskey(UserID.random(), "cred-Z"), limit: 3, audit: event("x"), mail: nil)
        }
        for id in ["cred-B", "cred-C"] {
            try await f.repository.insert(samplePasskey(user.id, id, at: ContractFixture.start + 1), limit: 3, audit: event("x"), mail: nil)
        }
        try await ensureThrows(.passkeyLimit) {
            try await f.repository.insert(samplePasskey(user.id, "cred-D"), limit: 3, audit: event("x"), mail: nil)
        }
        try ensure(try await f.repository.passkeys(of: user.id).map(\.credentialID) == ["cred-A", "cred-B", "cred-C"], "order or limit")
        try ensure(try await f.repository.passkey(credentialID: "cred-D") == nil, "over the limit stored")
    }

    static func challenge(_ text: String, binding: String = "session:s1", expires: TimeInterval = 300) -> PasskeyChallenge {
        PasskeyChallenge(
            challenge: text, purpose: .approval, binding: binding, userID: UserID(rawValue: "U1"), audience: nil,
            boundDigest: "ab12", createdAt: ContractFixture.start, expiresAt: ContractFixture.start + expires)
    }

    static func passkeyChallenges(_ f: ContractFixture) async throws {
        let now = ContractFixture.start
        try await f.repository.insert(challenge("c1"))
        try ensure(
            try await f.repository.consumePasskeyChallenge("c1", binding: "session:other", at: now) == nil,
            "another session took the challenge")
        let taken = try await f.repository.consumePasskeyChallenge("c1", binding: "session:s1", at: now + 10)
        try ensure(taken == challenge("c1"), "challenge read back differs: \(String(describing: taken))")
        try ensure(
            try await f.repository.consumePasskeyChallenge("c1", binding: "session:s1", at: now + 10) == nil,
            "a challenge was taken twice")
        try await f.repository.insert(challenge("c2", expires: 60))
        try ensure(
            try await f.repository.consumePasskeyChallenge("c2", binding: "session:s1", at: now + 60) == nil,
            "an expired challenge was accepted")
        try ensure(
            try await f.repository.consumePasskeyChallenge("c2", binding: "session:s1", at: now + 1) == nil,
            "an expired challenge was not removed when it was asked for")
        try await f.repository.insert(challenge("c3", expires: 60))
        try await f.repository.insert(challenge("c4", expires: 600))
        try await f.repository.purgePasskeyChallenges(expiredBy: now + 120)
        try ensure(
            try await f.repository.consumePasskeyChallenge("c3", binding: "session:s1", at: now) == nil, "purge kept c3")
        try ensure(
            try await f.repository.consumePasskeyChallenge("c4", binding: "session:s1", at: now) != nil, "purge took c4")
    }

    static func passkeyRaces(_ f: ContractFixture) async throws {
        let user = try await f.customer("pk3")
        try await f.repository.insert(challenge("race"))
        let repository = f.repository
        let wins = try await withThrowingTaskGroup(of: Bool.self) { group in
            for _ in 0..<20 {
                group.addTask {
                    try await repository.consumePasskeyChallenge("race", binding: "session:s1", at: ContractFixture.start)
                        != nil
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try ensure(wins == 1, "\(wins) callers took one challenge")
        try await f.repository.insert(samplePasskey(user.id, "cred-R"), limit: 10, audit: event("x"), mail: nil)
        let before = try await f.repository.auditRecords(from: 0, limit: 100_000).count
        let moves = try await withThrowingTaskGroup(of: Bool.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await repository.recordPasskeyUse(
                        credentialID: "cred-R", from: 3, to: UInt32(4 + index), backedUp: true,
                        at: ContractFixture.start + 5, audit: event("login.passkey"))
                }
            }
            return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try ensure(moves == 1, "\(moves) ceremonies moved one counter value")
        let after = try await f.repository.auditRecords(from: 0, limit: 100_000).count
        try ensure(after == before + 1, "\(after - before) audit records for one accepted ceremony")
        let read = try await f.repository.passkey(credentialID: "cred-R")!
        try ensure(read.signCount >= 4 && read.backedUp && read.lastUsedAt == ContractFixture.start + 5, "use not stored: \(read)")
        try ensure(
            !(try await f.repository.recordPasskeyUse(
                credentialID: "cred-R", from: 3, to: 99, backedUp: true, at: ContractFixture.start, audit: event("x"))),
            "a stale counter moved")
    }

    static func passkeyLimitRace(_ f: ContractFixture) async throws {
        let user = try await f.customer("pk4")
        let repository = f.repository
        let stored = await withTaskGroup(of: Bool.self) { group in
            for index in 0..<12 {
                group.addTask {
                    do {
                        try await repository.insert(
                            samplePasskey(user.id, "cred-L\(index)"), limit: 10, audit: event("x"), mail: nil)
                        return true
                    } catch { return false }
                }
            }
            return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
        }
        try ensure(stored == 10, "\(stored) registrations stored with a limit of 10")
        try ensure(try await f.repository.passkeys(of: user.id).count == 10, "limit not held")
    }

    static func passkeyManagement(_ f: ContractFixture) async throws {
        let user = try await f.customer("pk5")
        let other = try await f.customer("pk6")
        for id in ["cred-M1", "cred-M2", "cred-M3"] {
            try await f.repository.insert(samplePasskey(user.id, id), limit: 10, audit: event("x"), mail: nil)
        }
        try await f.repository.insert(samplePasskey(other.id, "cred-O1"), limit: 10, audit: event("x"), mail: nil)
        try ensure(
            try await f.repository.renamePasskey(credentialID: "cred-M1", of: user.id, to: "スマホ", audit: event("r")),
            "rename refused")
        try ensure(
            !(try await f.repository.renamePasskey(credentialID: "cred-O1", of: user.id, to: "x", audit: event("r"))),
            "renamed another person's passkey")
        try ensure(try await f.repository.passkey(credentialID: "cred-M1")?.name == "スマホ", "name not stored")
        try await f.repository.markPasskeyCloneSuspected(credentialID: "cred-M2", audit: event("clone"))
        try ensure(try await f.repository.passkey(credentialID: "cred-M2")?.cloneSuspected == true, "clone mark lost")
        try ensure(
            !(try await f.repository.recordPasskeyUse(
                credentialID: "cred-M2", from: 3, to: 4, backedUp: false, at: ContractFixture.start, audit: event("x"))),
            "a passkey marked as a possible clone was used")
        // Removing another person's passkey removes nothing.
        try ensure(
            try await f.repository.deletePasskeys(["cred-O1"], of: user.id, audit: event("d"), mail: mail("削除")) == 0,
            "removed another person's passkey")
        try ensure(try await f.repository.passkey(credentialID: "cred-O1") != nil, "another person's passkey gone")
        let mailsBefore = try await f.repository.pendingMails(limit: 100, at: ContractFixture.start + 1).count
        try ensure(
            try await f.repository.deletePasskeys(["cred-M1"], of: user.id, audit: event("d"), mail: mail("削除")) == 1,
            "one removal")
        try ensure(try await f.repository.passkeys(of: user.id).map(\.credentialID) == ["cred-M2", "cred-M3"], "wrong one removed")
        try ensure(
            try await f.repository.deletePasskeys(nil, of: user.id, audit: event("d"), mail: mail("削除")) == 2,
            "removal of all")
        try ensure(try await f.repository.passkeys(of: user.id).isEmpty, "passkeys left")
        try ensure(
            try await f.repository.pendingMails(limit: 100, at: ContractFixture.start + 1).count == mailsBefore + 2,
            "removal mails not queued")
        try ensure(try await f.repository.passkeys(of: other.id).count == 1, "the other person's passkeys changed")
    }
}
