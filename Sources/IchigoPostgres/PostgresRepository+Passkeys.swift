import Foundation
import Ichigo
import NIOCore
import PostgresNIO

/// Passkeys on PostgreSQL. The once-only rules hold across instances: a challenge is taken by one
/// `DELETE … RETURNING` (PostgreSQL gives the row to one transaction), a counter moves by
/// `UPDATE … WHERE sign_count = $expected`, and a registration locks its user's row so the limit holds under races.
extension PostgresRepository: PasskeyRepository {
    public func insert(_ challenge: PasskeyChallenge) async throws {
        try await write { tx in
            try await tx.run(
                """
                INSERT INTO passkey_challenges (challenge_key, challenge, purpose, binding, user_id, audience,
                    bound_digest, created_at, expires_at)
                VALUES (\(PasskeyChallenge.key(challenge.challenge)), \(challenge.challenge), \(challenge.purpose.rawValue),
                    \(challenge.binding), \(challenge.userID?.rawValue), \(challenge.audience), \(challenge.boundDigest),
                    \(challenge.createdAt.millis), \(challenge.expiresAt.millis))
                """)
        }
    }

    public func consumePasskeyChallenge(_ challenge: String, binding: String, at now: Date) async throws
        -> PasskeyChallenge?
    {
        let key = PasskeyChallenge.key(challenge)
        return try await write { tx in
            guard
                let row = try await tx.row(
                    """
                    DELETE FROM passkey_challenges WHERE challenge_key = \(key) AND binding = \(binding)
                    RETURNING challenge, purpose, binding, user_id, audience, bound_digest, created_at, expires_at
                    """)
            else { return nil }
            let found = try PasskeyChallenge(stored: row)
            return now < found.expiresAt ? found : nil
        }
    }

    public func purgePasskeyChallenges(expiredBy now: Date) async throws {
        try await write { tx in
            try await tx.run("DELETE FROM passkey_challenges WHERE expires_at <= \(now.millis)")
        }
    }


    public func passkeys(of user: UserID) async throws -> [Passkey] {
        try await rows(
            "SELECT * FROM passkeys WHERE user_id = \(user.rawValue) ORDER BY created_at, credential_id"
        ).map(Passkey.init(stored:))
    }

    public func passkey(credentialID: String) async throws -> Passkey? {
        try await row("SELECT * FROM passkeys WHERE credential_id = \(credentialID)").map(Passkey.init(stored:))
    }

    public func insert(_ passkey: Passkey, limit: Int, audit: AuditEvent, mail: OutgoingMail?) async throws {
        try await write { tx in
            // The user's row locked: two registrations of one person are counted one after the other.
            guard try await tx.exists("SELECT 1 FROM users WHERE id = \(passkey.userID.rawValue) FOR UPDATE") else {
                throw IchigoError(.userNotFound)
            }
            guard !(try await tx.exists("SELECT 1 FROM passkeys WHERE credential_id = \(passkey.credentialID)")) else {
                throw IchigoError(.passkeyTaken)
            }
            let held: Int64 = try await tx.row(
                "SELECT COUNT(*) AS n FROM passkeys WHERE user_id = \(passkey.userID.rawValue)"
            ).map { try Columns($0)["n"] } ?? 0
            guard held < Int64(limit) else { throw IchigoError(.passkeyLimit) }
            try await tx.run(
                """
                INSERT INTO passkeys (credential_id, user_id, name, public_key, algorithm, sign_count, aaguid,
                    transports, backup_eligible, backed_up, attestation, created_at, last_used_at, clone_suspected)
                VALUES (\(passkey.credentialID), \(passkey.userID.rawValue), \(passkey.name),
                    \(ByteBuffer(bytes: passkey.publicKey)), \(Int32(passkey.algorithm)), \(Int64(passkey.signCount)),
                    \(passkey.aaguid), \(passkey.transports.joined(separator: ",")), \(passkey.backupEligible),
                    \(passkey.backedUp), \(passkey.attestation), \(passkey.createdAt.millis),
                    \(passkey.lastUsedAt?.millis), \(passkey.cloneSuspected))
                """)
            tx.append(audit)
            if let mail { try await tx.enqueue(mail) }
        }
    }

    public func recordPasskeyUse(
        credentialID: String, from expected: UInt32, to signCount: UInt32, backedUp: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE passkeys SET sign_count = \(Int64(signCount)), backed_up = \(backedUp), last_used_at = \(now.millis)
                WHERE credential_id = \(credentialID) AND sign_count = \(Int64(expected)) AND NOT clone_suspected
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    public func markPasskeyCloneSuspected(credentialID: String, audit: AuditEvent) async throws {
        try await write { tx in
            let changed = try await tx.changes(
                "UPDATE passkeys SET clone_suspected = TRUE WHERE credential_id = \(credentialID) RETURNING 1")
            if changed == 1 { tx.append(audit) }
        }
    }

    public func renamePasskey(credentialID: String, of user: UserID, to name: String, audit: AuditEvent) async throws
        -> Bool
    {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE passkeys SET name = \(name) WHERE credential_id = \(credentialID) AND user_id = \(user.rawValue)
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    public func deletePasskeys(_ credentialIDs: [String]?, of user: UserID, audit: AuditEvent, mail: OutgoingMail?)
        async throws -> Int
    {
        try await write { tx in
            let removed: Int
            if let credentialIDs {
                removed = try await tx.changes(
                    """
                    DELETE FROM passkeys WHERE user_id = \(user.rawValue) AND credential_id = ANY(\(credentialIDs))
                    RETURNING 1
                    """)
            } else {
                removed = try await tx.changes("DELETE FROM passkeys WHERE user_id = \(user.rawValue) RETURNING 1")
            }
            guard removed > 0 else { return 0 }
            tx.append(audit)
            if let mail { try await tx.enqueue(mail) }
            return removed
        }
    }
}
