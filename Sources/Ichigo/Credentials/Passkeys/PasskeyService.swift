import Crypto
import Foundation
import Logging
import WebAuthn

/// Passkeys (WebAuthn) beside the one-time password: registration after a step-up, sign-in, approvals bound to what
/// is approved, and removal by the customer or the bank. The relying-party checks are the `WebAuthn` target's; this
/// service keeps the challenges single-use, expiring and tied to the session that asked, the counters moving by
/// compare-and-set, and writes every outcome to the audit trail.
public struct PasskeyService: Sendable {
    public let repository: any IchigoRepository & RetailRepository & PasskeyRepository
    public let policy: PasskeyPolicy
    public let bankName: String
    public let bankContact: String
    /// The password and OTP checks of the step-up, and the transfer an approval carries out.
    /// The confirmation password, OTP and mail password checks a step-up takes.
    public let credentials: CredentialService
    let logger: Logger

    public init(
        repository: any IchigoRepository & RetailRepository & PasskeyRepository, policy: PasskeyPolicy,
        credentials: CredentialService, bankName: String, bankContact: String, logger: Logger
    ) {
        self.credentials = credentials
        self.repository = repository
        self.policy = policy
        self.bankName = bankName
        self.bankContact = bankContact
        self.logger = logger
    }

    static let algorithms: [COSEAlgorithm] = [.es256, .edDSA, .rs256]

    // MARK: Reading

    /// The user's passkeys, oldest first.
    public func passkeys(of user: UserID) async throws -> [Passkey] { try await repository.passkeys(of: user) }

    /// Whether the user must sign in with a passkey: the policy is `required-once-registered` and they have one.
    public func loginRequiresPasskey(_ user: User) async throws -> Bool {
        guard policy.login == .requiredOnceRegistered else { return false }
        return !(try await repository.passkeys(of: user.id).isEmpty)
    }

    /// Refuses a password (and OTP) sign-in of a user who must sign in with a passkey (`loginRequiresPasskey`):
    /// throws `passkeyRequired` after auditing the refusal, so a phished password and code are worthless.
    public func requirePasswordLoginAllowed(_ user: User, at now: Date) async throws {
        guard try await loginRequiresPasskey(user) else { return }
        try await repository.append(
            AuditEvent(
                at: now, actor: "user:\(user.id.rawValue)", action: "login.password", subject: user.id.rawValue,
                outcome: "refused", reason: "passkey_required"))
        throw IchigoError(.passkeyRequired)
    }

    /// Whether the user may register one more passkey (the bank's most per person, `maxPerUser`).
    public func mayRegisterAnother(_ user: UserID) async throws -> Bool {
        try await repository.passkeys(of: user).count < policy.maxPerUser
    }

    // MARK: Challenges

    func newChallenge(
        _ purpose: PasskeyPurpose, binding: String, user: UserID? = nil, audience: String? = nil,
        digest: [UInt8]? = nil, at now: Date
    ) async throws -> PasskeyChallenge {
        var bytes = Array(SymmetricKey(size: .bits256).withUnsafeBytes { Data($0) })
        if let digest { bytes += digest }
        let challenge = PasskeyChallenge(
            challenge: Base64URL.encode(bytes), purpose: purpose, binding: binding, userID: user, audience: audience,
            boundDigest: digest?.hexString, createdAt: now, expiresAt: now + policy.challengeLifetime)
        try await repository.insert(challenge)
        return challenge
    }

    /// The challenge the client data names, taken out of the store (once), if it is for `purpose` and `binding`.
    func consume(_ clientDataJSON: [UInt8], _ purpose: PasskeyPurpose, binding: String, at now: Date) async throws
        -> PasskeyChallenge?
    {
        guard clientDataJSON.count <= 4096,
            let object = try? JSONSerialization.jsonObject(with: Data(clientDataJSON)) as? [String: Any],
            let text = object["challenge"] as? String, text.count <= 128
        else { return nil }
        guard let challenge = try await repository.consumePasskeyChallenge(text, binding: binding, at: now),
            challenge.purpose == purpose
        else { return nil }
        return challenge
    }

    var timeoutMillis: Int { Int(policy.challengeLifetime * 1000) }

    static func descriptor(_ passkey: Passkey) -> PasskeyCreationOptions.Descriptor {
        .init(id: passkey.credentialID, transports: passkey.transports.isEmpty ? nil : passkey.transports)
    }

    // MARK: Registration (パスキーの登録)

    /// The options for `navigator.credentials.create()`: a fresh challenge tied to `binding`, the user's handle, and
    /// their passkeys to exclude. Call only after the step-up (confirmation password and OTP or mail password).
    /// Throws `passkeyLimit` when the user holds the most passkeys the bank allows.
    public func registrationOptions(for user: User, binding: String, at now: Date) async throws
        -> PasskeyCreationOptions
    {
        let existing = try await repository.passkeys(of: user.id)
        guard existing.count < policy.maxPerUser else { throw IchigoError(.passkeyLimit) }
        let challenge = try await newChallenge(.registration, binding: binding, user: user.id, at: now)
        return PasskeyCreationOptions(
            challenge: challenge.challenge,
            rp: .init(id: policy.relyingParty.id, name: policy.relyingPartyName),
            user: .init(
                id: Base64URL.encode(Passkey.userHandle(of: user.id)), name: user.loginID.rawValue,
                displayName: user.name),
            pubKeyCredParams: Self.algorithms.map { .init(alg: $0.rawValue) }, timeout: timeoutMillis,
            excludeCredentials: existing.map(Self.descriptor), authenticatorSelection: .init(),
            attestation: policy.wantsAttestation ? "direct" : "none")
    }

    /// Checks a `create()` response against its challenge (WebAuthn L3 §7.1) and stores the passkey, mailing the
    /// customer that a passkey was added. Throws `passkeyFailed` for a refused ceremony (the reason is audited),
    /// `passkeyTaken`, `passkeyLimit`, or an invalid name as a field error.
    @discardableResult
    public func register(
        _ json: PasskeyRegistrationJSON, name rawName: String, for user: User, binding: String, at now: Date
    ) async throws -> Passkey {
        let name = try Self.validName(rawName)
        let actor = "user:\(user.id.rawValue)"
        func refuse(_ reason: String) async throws -> Never {
            try await repository.append(
                AuditEvent(at: now, actor: actor, action: "passkey.register", subject: user.id.rawValue,
                           outcome: "refused", reason: reason))
            logger.info("passkey registration refused", metadata: ["user.id": "\(user.id)", "passkey.reason": "\(reason)"])
            throw IchigoError(.passkeyFailed)
        }
        guard let response = json.decoded else { try await refuse("malformed_response") }
        guard let challenge = try await consume(response.clientDataJSON, .registration, binding: binding, at: now),
            challenge.userID == user.id
        else { try await refuse("challenge_unknown_used_or_expired") }
        let verified: VerifiedRegistration
        do {
            verified = try verifyRegistration(
                response,
                expecting: RegistrationExpectation(
                    challenge: Base64URL.decode(challenge.challenge) ?? [], relyingParty: policy.relyingParty,
                    userVerificationRequired: true, allowedAAGUIDs: policy.allowedAAGUIDs,
                    trustedRoots: policy.trustedRoots, allowedAlgorithms: Set(Self.algorithms)))
        } catch {
            try await refuse(error.code.description)
        }
        let passkey = Passkey(
            credentialID: Base64URL.encode(verified.credentialID), userID: user.id, name: name,
            publicKey: verified.publicKey, algorithm: verified.algorithm.rawValue, signCount: verified.signCount,
            aaguid: verified.aaguid.description, transports: verified.transports,
            backupEligible: verified.flags.backupEligible, backedUp: verified.flags.backedUp,
            attestation: verified.attestationType.rawValue, createdAt: now)
        let mail = user.email.map {
            OutgoingMail(
                recipient: $0,
                mail: .passkeyRegistered(
                    bank: bankName, name: user.name, passkey: passkey.name,
                    model: AuthenticatorNames.name(of: passkey.aaguid), contact: bankContact, at: now),
                createdAt: now)
        }
        try await repository.insert(
            passkey, limit: policy.maxPerUser,
            audit: AuditEvent(
                at: now, actor: actor, action: "passkey.register", subject: user.id.rawValue, outcome: "ok",
                reason: "credential=\(passkey.credentialID.prefix(16)) aaguid=\(passkey.aaguid) "
                    + "synced=\(passkey.backupEligible) attestation=\(passkey.attestation)"),
            mail: mail)
        return passkey
    }

    /// A passkey's name: 1–30 characters after trimming, no control characters.
    static func validName(_ text: String) throws -> String {
        let name = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !name.isEmpty else { throw IchigoError(.required, field: "name") }
        guard name.count <= 30, !name.unicodeScalars.contains(where: { CharacterSet.controlCharacters.contains($0) })
        else { throw IchigoError(.passkeyNameInvalid, field: "name") }
        return name
    }

    // MARK: Sign-in (パスキーでログイン)

    /// The options for `navigator.credentials.get()` on a login page: no credentials listed (the authenticator offers
    /// the bank's discoverable passkeys, also as autofill), a fresh challenge tied to `binding`.
    public func loginOptions(for audience: LoginAudience, binding: String, at now: Date) async throws
        -> PasskeyRequestOptions
    {
        let challenge = try await newChallenge(.login, binding: binding, audience: audience.rawValue, at: now)
        return PasskeyRequestOptions(
            challenge: challenge.challenge, rpId: policy.relyingParty.id, timeout: timeoutMillis, allowCredentials: [])
    }

    /// Signs a user in with a passkey (WebAuthn L3 §7.2): stands for login password + OTP. Throws `passkeyFailed` for
    /// every refusal (unknown credential, wrong page, bad signature, used challenge, …: the audit says which),
    /// `loginLocked` for a user whose login the bank stopped.
    public func login(_ json: PasskeyAssertionJSON, as audience: LoginAudience, binding: String, at now: Date)
        async throws -> (User, Passkey)
    {
        let (user, passkey) = try await assert(
            json, .login, binding: binding, action: "login.passkey", at: now,
            expectedUser: nil, audience: audience.rawValue, digest: nil)
        return (user, passkey)
    }

    // MARK: Approval (パスキーで承認)

    /// The options for an approval: the user's own passkeys and a challenge whose last 32 bytes are the digest of
    /// `subject`.
    public func approvalOptions(for user: User, subject: ApprovalSubject, binding: String, at now: Date) async throws
        -> PasskeyRequestOptions?
    {
        let existing = try await repository.passkeys(of: user.id).filter { !$0.cloneSuspected }
        guard !existing.isEmpty else { return nil }
        let challenge = try await newChallenge(
            .approval, binding: binding, user: user.id, digest: subject.digest, at: now)
        return PasskeyRequestOptions(
            challenge: challenge.challenge, rpId: policy.relyingParty.id, timeout: timeoutMillis,
            allowCredentials: existing.map(Self.descriptor))
    }

    /// Checks an approval: the assertion is the user's, its challenge was issued for this session and for `subject`
    /// as the server holds it now. A subject changed since the challenge (another tab, malware) is refused, and its
    /// challenge is used up. Returns the passkey that approved; the caller then carries out the subject.
    @discardableResult
    public func approve(
        _ json: PasskeyAssertionJSON, by user: User, subject: ApprovalSubject, action: String, binding: String,
        at now: Date
    ) async throws -> Passkey {
        try await assert(
            json, .approval, binding: binding, action: action, at: now, expectedUser: user.id, audience: nil,
            digest: subject.digest
        ).1
    }

    // MARK: JSON API (a bank's own front end)

    /// Options for an authentication through the JSON API: a discoverable login when `user` is nil, else the user's
    /// own passkeys; bound to `subject` when one is given (its digest ends the challenge).
    public func apiAuthenticationOptions(for user: User?, subject: ApprovalSubject?, binding: String, at now: Date)
        async throws -> PasskeyRequestOptions
    {
        let allowed = try await user.asyncFlatMap { try await repository.passkeys(of: $0.id) } ?? []
        if user != nil && allowed.isEmpty { throw IchigoError(.passkeyNotFound) }
        let challenge = try await newChallenge(
            subject == nil ? .login : .approval, binding: binding, user: user?.id, digest: subject?.digest, at: now)
        return PasskeyRequestOptions(
            challenge: challenge.challenge, rpId: policy.relyingParty.id, timeout: timeoutMillis,
            allowCredentials: allowed.filter { !$0.cloneSuspected }.map(Self.descriptor))
    }

    /// Checks an assertion through the JSON API, against a challenge this API key asked for (and the transaction it
    /// was bound to, recomputed from what the caller sends now).
    public func apiAuthenticate(
        _ json: PasskeyAssertionJSON, expectedUser: UserID?, subject: ApprovalSubject?, actor: String, binding: String,
        at now: Date
    ) async throws -> (User, Passkey) {
        try await assert(
            json, subject == nil ? .login : .approval, binding: binding, action: "api.passkey.authenticate", at: now,
            expectedUser: expectedUser, audience: nil, digest: subject?.digest)
    }

    /// The steps both sign-in and approval take.
    private func assert(
        _ json: PasskeyAssertionJSON, _ purpose: PasskeyPurpose, binding: String, action: String, at now: Date,
        expectedUser: UserID?, audience: String?, digest: [UInt8]?
    ) async throws -> (User, Passkey) {
        let actor = expectedUser.map { "user:\($0.rawValue)" } ?? "web"
        func refuse(_ reason: String, subject: String? = nil, code: IchigoError.Code = .passkeyFailed) async throws
            -> Never
        {
            try await repository.append(
                AuditEvent(at: now, actor: actor, action: action,
                           subject: subject ?? expectedUser?.rawValue ?? "passkey", outcome: "refused", reason: reason))
            logger.info("passkey assertion refused", metadata: ["passkey.action": "\(action)", "passkey.reason": "\(reason)"])
            throw IchigoError(code)
        }
        guard let response = json.decoded else { try await refuse("malformed_response") }
        // The challenge first: every attempt uses it up, whatever follows.
        guard let challenge = try await consume(response.clientDataJSON, purpose, binding: binding, at: now) else {
            try await refuse("challenge_unknown_used_or_expired")
        }
        let credentialID = Base64URL.encode(response.credentialID)
        guard let passkey = try await repository.passkey(credentialID: credentialID) else {
            try await refuse("unknown_credential credential=\(credentialID.prefix(16))")
        }
        let subject = passkey.userID.rawValue
        if let expectedUser, passkey.userID != expectedUser {
            try await refuse("credential_of_another_user credential=\(credentialID.prefix(16))")
        }
        if let owner = challenge.userID, owner != passkey.userID {
            try await refuse("challenge_of_another_user", subject: subject)
        }
        if let handle = response.userHandle, !constantTimeEqual(handle, Passkey.userHandle(of: passkey.userID)) {
            try await refuse("user_handle_mismatch", subject: subject)
        }
        if let digest {
            guard let bound = challenge.boundDigest, constantTimeEqual(Array(bound.utf8), Array(digest.hexString.utf8))
            else { try await refuse("approved_data_changed", subject: subject, code: .passkeyTransactionChanged) }
        }
        if passkey.cloneSuspected { try await refuse("clone_suspected", subject: subject) }
        guard let user = try await repository.user(passkey.userID) else { try await refuse("unknown_user") }
        if let audience, let page = LoginAudience(rawValue: audience) {
            guard challenge.audience == audience, page.admits(user) else {
                try await refuse("wrong_login_page page=\(audience)", subject: subject)
            }
        }
        if user.loginLocked { try await refuse("login_locked", subject: subject, code: .loginLocked) }
        let verified: VerifiedAuthentication
        do {
            verified = try verifyAuthentication(
                response,
                expecting: AuthenticationExpectation(
                    challenge: Base64URL.decode(challenge.challenge) ?? [], relyingParty: policy.relyingParty,
                    userVerificationRequired: true, credentialPublicKey: passkey.publicKey,
                    storedSignCount: passkey.signCount))
        } catch {
            if error.code == .signCountWentBackwards {
                // A counter that goes back means a copy of the key may exist: refuse, mark, alert.
                try await repository.markPasskeyCloneSuspected(
                    credentialID: credentialID,
                    audit: AuditEvent(
                        at: now, actor: "system", action: "passkey.clone_suspected", subject: subject, outcome: "ok",
                        reason: "credential=\(credentialID.prefix(16)) stored=\(passkey.signCount)"))
                logger.warning(
                    "passkey counter went backwards: possible cloned authenticator",
                    metadata: ["user.id": "\(subject)", "passkey.credential": "\(credentialID.prefix(16))"])
            }
            try await refuse(error.code.description, subject: subject)
        }
        var reason = "credential=\(credentialID.prefix(16))"
        if let digest { reason += " approved=\(digest.hexString.prefix(16))" }
        let moved = try await repository.recordPasskeyUse(
            credentialID: credentialID, from: passkey.signCount, to: verified.signCount,
            backedUp: verified.flags.backedUp, at: now,
            audit: AuditEvent(at: now, actor: "user:\(subject)", action: action, subject: subject, outcome: "accepted",
                              reason: reason))
        guard moved else { try await refuse("counter_raced", subject: subject) }
        return (user, passkey)
    }

    // MARK: Management

    /// Renames one of the user's passkeys.
    public func rename(_ credentialID: String, to rawName: String, by user: User, at now: Date) async throws {
        let name = try Self.validName(rawName)
        guard
            try await repository.renamePasskey(
                credentialID: credentialID, of: user.id, to: name,
                audit: AuditEvent(at: now, actor: "user:\(user.id.rawValue)", action: "passkey.rename",
                                  subject: user.id.rawValue, outcome: "ok", reason: "credential=\(credentialID.prefix(16))"))
        else { throw IchigoError(.passkeyNotFound) }
    }

    /// Removes one of the user's passkeys (削除) and mails them.
    public func remove(_ credentialID: String, by user: User, at now: Date) async throws {
        try await remove([credentialID], of: user, actor: "user:\(user.id.rawValue)", byBank: false, at: now)
    }

    /// The bank removes one passkey or all of a customer's (a lost phone), audited, and mails them.
    /// - Returns: how many were removed.
    @discardableResult
    public func remove(_ credentialIDs: [String]?, of user: User, actor: String, byBank: Bool, at now: Date)
        async throws -> Int
    {
        let all = try await repository.passkeys(of: user.id)
        let removing = credentialIDs.map { ids in all.filter { ids.contains($0.credentialID) } } ?? all
        guard !removing.isEmpty else { throw IchigoError(.passkeyNotFound) }
        let mail = user.email.map {
            OutgoingMail(
                recipient: $0,
                mail: .passkeyRemoved(
                    bank: bankName, name: user.name, passkeys: removing.map(\.name), byBank: byBank,
                    contact: bankContact, at: now),
                createdAt: now)
        }
        let count = try await repository.deletePasskeys(
            credentialIDs, of: user.id,
            audit: AuditEvent(
                at: now, actor: actor, action: "passkey.remove", subject: user.id.rawValue, outcome: "ok",
                reason: "count=\(removing.count) "
                    + removing.map { "credential=\($0.credentialID.prefix(16))" }.joined(separator: " ")),
            mail: mail)
        guard count > 0 else { throw IchigoError(.passkeyNotFound) }
        return count
    }

    /// Removes expired challenges (the session janitor calls this).
    public func purgeChallenges(at now: Date) async throws {
        try await repository.purgePasskeyChallenges(expiredBy: now)
    }
}
