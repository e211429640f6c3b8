import Foundation
import Ichigo

/// Transaction signing on the in-memory store: each method checks before it changes anything, as one transaction.
extension MemoryRepository: SigningRepository {
    public func recordSignature(ofStep step: Int64, for token: TokenID, at now: Date, audit event: AuditEvent)
        async throws -> Bool
    {
        guard var stored = tokens[token], stored.state == .active, stored.lastSignatureStep < step else { return false }
        stored.lastSignatureStep = step
        stored.failureCount = 0
        stored.lastUsedAt = now
        stored.updatedAt = now
        tokens[token] = stored
        appendAudit(event)
        return true
    }

    public func insert(_ challenge: SigningChallenge, audit event: AuditEvent) async throws {
        guard usersByID[challenge.userID] != nil else { throw IchigoError(.userNotFound) }
        guard tokens[challenge.tokenID] != nil else { throw IchigoError(.tokenNotFound) }
        guard signingChallenges[challenge.id] == nil else { throw IchigoError(.concurrentUpdate) }
        signingChallenges[challenge.id] = challenge
        appendAudit(event)
    }

    public func signingChallenge(_ id: ChallengeID) async throws -> SigningChallenge? { signingChallenges[id] }

    public func consumeSigningChallenge(_ id: ChallengeID, at now: Date) async throws -> Bool {
        guard var challenge = signingChallenges[id], challenge.answeredAt == nil, now < challenge.expiresAt else {
            return false
        }
        challenge.answeredAt = now
        signingChallenges[id] = challenge
        return true
    }
}
