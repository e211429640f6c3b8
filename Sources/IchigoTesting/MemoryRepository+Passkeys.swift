import Foundation
import Ichigo

/// Passkeys on the in-memory store: each method checks before it changes anything, as one transaction.
extension MemoryRepository: PasskeyRepository {
    public func insert(_ challenge: PasskeyChallenge) async throws {
        let key = PasskeyChallenge.key(challenge.challenge)
        guard passkeyChallenges[key] == nil else { throw IchigoError(.concurrentUpdate) }
        passkeyChallenges[key] = challenge
    }

    public func consumePasskeyChallenge(_ challenge: String, binding: String, at now: Date) async throws
        -> PasskeyChallenge?
    {
        let key = PasskeyChallenge.key(challenge)
        guard let found = passkeyChallenges[key], found.binding == binding else { return nil }
        passkeyChallenges[key] = nil
        return now < found.expiresAt ? found : nil
    }

    public func purgePasskeyChallenges(expiredBy now: Date) async throws {
        passkeyChallenges = passkeyChallenges.filter { now < $0.value.expiresAt }
    }

    public func passkeys(of user: UserID) async throws -> [Passkey] { passkeyList.filter { $0.userID == user } }

    public func passkey(credentialID: String) async throws -> Passkey? {
        passkeyList.first { $0.credentialID == credentialID }
    }

    public func insert(_ passkey: Passkey, limit: Int, audit event: AuditEvent, mail: OutgoingMail?) async throws {
        guard usersByID[passkey.userID] != nil else { throw IchigoError(.userNotFound) }
        guard !passkeyList.contains(where: { $0.credentialID == passkey.credentialID }) else {
            throw IchigoError(.passkeyTaken)
        }
        guard passkeyList.filter({ $0.userID == passkey.userID }).count < limit else { throw IchigoError(.passkeyLimit) }
        passkeyList.append(passkey)
        appendAudit(event)
        if let mail { queue(mail) }
    }

    public func recordPasskeyUse(
        credentialID: String, from expected: UInt32, to signCount: UInt32, backedUp: Bool, at now: Date,
        audit event: AuditEvent
    ) async throws -> Bool {
        guard let index = passkeyList.firstIndex(where: { $0.credentialID == credentialID }),
            passkeyList[index].signCount == expected, !passkeyList[index].cloneSuspected
        else { return false }
        passkeyList[index].signCount = signCount
        passkeyList[index].backedUp = backedUp
        passkeyList[index].lastUsedAt = now
        appendAudit(event)
        return true
    }

    public func markPasskeyCloneSuspected(credentialID: String, audit event: AuditEvent) async throws {
        guard let index = passkeyList.firstIndex(where: { $0.credentialID == credentialID }) else { return }
        passkeyList[index].cloneSuspected = true
        appendAudit(event)
    }

    public func renamePasskey(credentialID: String, of user: UserID, to name: String, audit event: AuditEvent)
        async throws -> Bool
    {
        guard let index = passkeyList.firstIndex(where: { $0.credentialID == credentialID && $0.userID == user }) else {
            return false
        }
        passkeyList[index].name = name
        appendAudit(event)
        return true
    }

    public func deletePasskeys(_ credentialIDs: [String]?, of user: UserID, audit event: AuditEvent, mail: OutgoingMail?)
        async throws -> Int
    {
        let removing = passkeyList.filter { $0.userID == user && (credentialIDs?.contains($0.credentialID) ?? true) }
        guard !removing.isEmpty else { return 0 }
        passkeyList.removeAll { $0.userID == user && (credentialIDs?.contains($0.credentialID) ?? true) }
        appendAudit(event)
        if let mail { queue(mail) }
        return removing.count
    }
}
