import Foundation
import GRDB
import Ichigo

/// Passkeys on SQLite. The once-only rules are single statements in the writer's transaction: a challenge is taken by
/// one `DELETE` (whoever deletes the row has it), a counter moves by an `UPDATE … WHERE sign_count = ?`.
extension SQLiteRepository: PasskeyRepository {
    public func insert(_ challenge: PasskeyChallenge) async throws {
        try await write { db in
            try db.execute(
                sql: """
                    INSERT INTO passkey_challenges (challenge_key, challenge, purpose, binding, user_id, audience,
                        bound_digest, created_at, expires_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    PasskeyChallenge.key(challenge.challenge), challenge.challenge, challenge.purpose.rawValue,
                    challenge.binding, challenge.userID?.rawValue, challenge.audience, challenge.boundDigest,
                    challenge.createdAt.millis, challenge.expiresAt.millis,
                ])
        }
    }

    public func consumePasskeyChallenge(_ challenge: String, binding: String, at now: Date) async throws
        -> PasskeyChallenge?
    {
        let key = PasskeyChallenge.key(challenge)
        return try await write { db in
            guard
                let row = try Row.fetchOne(
                    db, sql: "SELECT * FROM passkey_challenges WHERE challenge_key = ? AND binding = ?",
                    arguments: [key, binding])
            else { return nil }
            try db.execute(sql: "DELETE FROM passkey_challenges WHERE challenge_key = ?", arguments: [key])
            guard db.changesCount == 1 else { return nil }
            let found = try PasskeyChallenge(stored: row)
            return now < found.expiresAt ? found : nil
        }
    }


    public func purgePasskeyChallenges(expiredBy now: Date) async throws {
        try await write { db in
            try db.execute(sql: "DELETE FROM passkey_challenges WHERE expires_at <= ?", arguments: [now.millis])
        }
    }


    public func passkeys(of user: UserID) async throws -> [Passkey] {
        try await pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM passkeys WHERE user_id = ? ORDER BY created_at, credential_id",
                arguments: [user.rawValue]
            ).map(Passkey.init(stored:))
        }
    }

    public func passkey(credentialID: String) async throws -> Passkey? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM passkeys WHERE credential_id = ?", arguments: [credentialID])
                .map(Passkey.init(stored:))
        }
    }

    public func insert(_ passkey: Passkey, limit: Int, audit: AuditEvent, mail: OutgoingMail?) async throws {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [passkey.userID.rawValue])
                != nil
            else { throw IchigoError(.userNotFound) }
            guard
                try Bool.fetchOne(
                    db, sql: "SELECT 1 FROM passkeys WHERE credential_id = ?", arguments: [passkey.credentialID]) == nil
            else { throw IchigoError(.passkeyTaken) }
            let held =
                try Int.fetchOne(
                    db, sql: "SELECT COUNT(*) FROM passkeys WHERE user_id = ?", arguments: [passkey.userID.rawValue]) ?? 0
            guard held < limit else { throw IchigoError(.passkeyLimit) }
            try db.execute(
                sql: """
                    INSERT INTO passkeys (credential_id, user_id, name, public_key, algorithm, sign_count, aaguid,
                        transports, backup_eligible, backed_up, attestation, created_at, last_used_at, clone_suspected)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    passkey.credentialID, passkey.userID.rawValue, passkey.name, Data(passkey.publicKey),
                    passkey.algorithm, Int64(passkey.signCount), passkey.aaguid,
                    passkey.transports.joined(separator: ","), passkey.backupEligible, passkey.backedUp,
                    passkey.attestation, passkey.createdAt.millis, passkey.lastUsedAt?.millis, passkey.cloneSuspected,
                ])
            try self.appendAudit(audit, in: db)
            if let mail { try Self.enqueue(mail, in: db) }
        }
    }

    public func recordPasskeyUse(
        credentialID: String, from expected: UInt32, to signCount: UInt32, backedUp: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE passkeys SET sign_count = ?, backed_up = ?, last_used_at = ?
                    WHERE credential_id = ? AND sign_count = ? AND clone_suspected = 0
                    """,
                arguments: [Int64(signCount), backedUp, now.millis, credentialID, Int64(expected)])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func markPasskeyCloneSuspected(credentialID: String, audit: AuditEvent) async throws {
        try await write { db in
            try db.execute(
                sql: "UPDATE passkeys SET clone_suspected = 1 WHERE credential_id = ?", arguments: [credentialID])
            if db.changesCount == 1 { try self.appendAudit(audit, in: db) }
        }
    }

    public func renamePasskey(credentialID: String, of user: UserID, to name: String, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { db in
            try db.execute(
                sql: "UPDATE passkeys SET name = ? WHERE credential_id = ? AND user_id = ?",
                arguments: [name, credentialID, user.rawValue])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func deletePasskeys(_ credentialIDs: [String]?, of user: UserID, audit: AuditEvent, mail: OutgoingMail?)
        async throws -> Int
    {
        try await write { db in
            var removed = 0
            if let credentialIDs {
                for id in credentialIDs {
                    try db.execute(
                        sql: "DELETE FROM passkeys WHERE credential_id = ? AND user_id = ?", arguments: [id, user.rawValue])
                    removed += db.changesCount
                }
            } else {
                try db.execute(sql: "DELETE FROM passkeys WHERE user_id = ?", arguments: [user.rawValue])
                removed = db.changesCount
            }
            guard removed > 0 else { return 0 }
            try self.appendAudit(audit, in: db)
            if let mail { try Self.enqueue(mail, in: db) }
            return removed
        }
    }
}
