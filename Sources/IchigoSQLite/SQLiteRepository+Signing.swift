import Foundation
import GRDB
import Ichigo

/// Transaction signing on SQLite: the signature replay state (one conditional update, as for codes) and the JSON
/// API's challenges.
extension SQLiteRepository: SigningRepository {
    public func recordSignature(ofStep step: Int64, for token: TokenID, at now: Date, audit: AuditEvent)
        async throws -> Bool
    {
        try await write { db in
            // The accept-once rule for signatures: only a later OCRA time step (or counter) moves the token.
            try db.execute(
                sql: """
                    UPDATE tokens SET ocra_last_step = ?, failure_count = 0, last_used_at = ?, updated_at = ?
                    WHERE id = ? AND state = 'active' AND ocra_last_step < ?
                    """,
                arguments: [step, now.millis, now.millis, token.rawValue, step])
            guard db.changesCount == 1 else { return false }
            try self.appendAudit(audit, in: db)
            return true
        }
    }

    public func insert(_ challenge: SigningChallenge, audit: AuditEvent) async throws {
        try await write { db in
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM users WHERE id = ?", arguments: [challenge.userID.rawValue])
                != nil
            else { throw IchigoError(.userNotFound) }
            guard try Bool.fetchOne(db, sql: "SELECT 1 FROM tokens WHERE id = ?", arguments: [challenge.tokenID.rawValue])
                != nil
            else { throw IchigoError(.tokenNotFound) }
            try db.execute(
                sql: """
                    INSERT INTO signing_challenges (id, user_id, token_id, suite, challenge, payee_account, amount,
                        created_at, expires_at, answered_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    challenge.id.rawValue, challenge.userID.rawValue, challenge.tokenID.rawValue, challenge.suite,
                    challenge.challenge, challenge.payeeAccount, challenge.amount, challenge.createdAt.millis,
                    challenge.expiresAt.millis, challenge.answeredAt?.millis,
                ])
            try self.appendAudit(audit, in: db)
        }
    }

    public func signingChallenge(_ id: ChallengeID) async throws -> SigningChallenge? {
        try await pool.read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM signing_challenges WHERE id = ?", arguments: [id.rawValue])
                .map(SigningChallenge.init(stored:))
        }
    }

    public func consumeSigningChallenge(_ id: ChallengeID, at now: Date) async throws -> Bool {
        try await write { db in
            try db.execute(
                sql: """
                    UPDATE signing_challenges SET answered_at = ?
                    WHERE id = ? AND answered_at IS NULL AND expires_at > ?
                    """,
                arguments: [now.millis, id.rawValue, now.millis])
            return db.changesCount == 1
        }
    }
}
