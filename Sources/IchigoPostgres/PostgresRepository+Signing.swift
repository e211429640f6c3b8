import Foundation
import Ichigo
import PostgresNIO

/// Transaction signing on PostgreSQL: the signature replay state (one conditional update that PostgreSQL re-checks
/// after a concurrent one, so a signature works once across instances) and the JSON API's challenges.
extension PostgresRepository: SigningRepository {
    public func recordSignature(ofStep step: Int64, for token: TokenID, at now: Date, audit: AuditEvent)
        async throws -> Bool
    {
        try await write { tx in
            let changed = try await tx.changes(
                """
                UPDATE tokens SET ocra_last_step = \(step), failure_count = 0, last_used_at = \(now.millis),
                    updated_at = \(now.millis)
                WHERE id = \(token.rawValue) AND state = 'active' AND ocra_last_step < \(step)
                RETURNING 1
                """)
            guard changed == 1 else { return false }
            tx.append(audit)
            return true
        }
    }

    public func insert(_ challenge: SigningChallenge, audit: AuditEvent) async throws {
        try await write { tx in
            guard try await tx.exists("SELECT 1 FROM users WHERE id = \(challenge.userID.rawValue)") else {
                throw IchigoError(.userNotFound)
            }
            guard try await tx.exists("SELECT 1 FROM tokens WHERE id = \(challenge.tokenID.rawValue)") else {
                throw IchigoError(.tokenNotFound)
            }
            try await tx.run(
                """
                INSERT INTO signing_challenges (id, user_id, token_id, suite, challenge, payee_account, amount,
                    created_at, expires_at, answered_at)
                VALUES (\(challenge.id.rawValue), \(challenge.userID.rawValue), \(challenge.tokenID.rawValue), \(challenge.suite),
                    \(challenge.challenge), \(challenge.payeeAccount), \(challenge.amount), \(challenge.createdAt.millis),
                    \(challenge.expiresAt.millis), \(challenge.answeredAt?.millis))
                """)
            tx.append(audit)
        }
    }

    public func signingChallenge(_ id: ChallengeID) async throws -> SigningChallenge? {
        try await row("SELECT * FROM signing_challenges WHERE id = \(id.rawValue)").map(SigningChallenge.init(stored:))
    }

    public func consumeSigningChallenge(_ id: ChallengeID, at now: Date) async throws -> Bool {
        try await write { tx in
            try await tx.changes(
                """
                UPDATE signing_challenges SET answered_at = \(now.millis)
                WHERE id = \(id.rawValue) AND answered_at IS NULL AND expires_at > \(now.millis)
                RETURNING 1
                """) == 1
        }
    }
}
