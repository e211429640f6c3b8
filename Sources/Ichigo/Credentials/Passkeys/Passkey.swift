import Crypto
import Foundation

/// A customer's passkey (a WebAuthn credential registered with the bank): personal, never shared, even where users of
/// a corporate contract share one hardware token.
public struct Passkey: Sendable, Hashable {
    /// The credential ID, base64url (as the browser names it).
    public var credentialID: String
    public var userID: UserID
    /// The customer's name for it (「会社のパソコン」); 1–30 characters.
    public var name: String
    /// The COSE_Key exactly as the authenticator encoded it.
    public var publicKey: [UInt8]
    /// The COSE algorithm (-7 ES256, -8 EdDSA, -257 RS256).
    public var algorithm: Int
    /// The signature counter after the last ceremony (0: the authenticator keeps none).
    public var signCount: UInt32
    /// The authenticator model, `8-4-4-4-12` hex (all zero when it does not say).
    public var aaguid: String
    /// How the browser can reach it (`internal`, `hybrid`, `usb`, …).
    public var transports: [String]
    /// BE: the credential may be synced to the customer's other devices (a synced passkey).
    public var backupEligible: Bool
    /// BS: it was backed up at the last ceremony.
    public var backedUp: Bool
    /// How the authenticator vouched for itself at registration (`none`, `self`, `basic`, `basic-unverified`).
    public var attestation: String
    public var createdAt: Date
    public var lastUsedAt: Date?
    /// Its counter went backwards once (a possible clone): it is refused until the bank removes it.
    public var cloneSuspected: Bool

    public init(
        credentialID: String, userID: UserID, name: String, publicKey: [UInt8], algorithm: Int, signCount: UInt32,
        aaguid: String, transports: [String], backupEligible: Bool, backedUp: Bool, attestation: String,
        createdAt: Date, lastUsedAt: Date? = nil, cloneSuspected: Bool = false
    ) {
        self.credentialID = credentialID
        self.userID = userID
        self.name = name
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.aaguid = aaguid
        self.transports = transports
        self.backupEligible = backupEligible
        self.backedUp = backedUp
        self.attestation = attestation
        self.createdAt = createdAt
        self.lastUsedAt = lastUsedAt
        self.cloneSuspected = cloneSuspected
    }

    /// 同期パスキー (synced) or デバイス固定 (device-bound), as BE tells.
    public var isSynced: Bool { backupEligible }

    /// The user handle Ichigo gives a user's credentials: the user ID's bytes (random, no personal data).
    public static func userHandle(of user: UserID) -> [UInt8] { Array(user.rawValue.utf8) }
}

/// What a passkey ceremony's challenge is for.
public enum PasskeyPurpose: String, Sendable, Hashable, Codable {
    /// パスキーの登録 by a user who passed the step-up.
    case registration
    /// パスキーでログイン on one of the login pages (the user is not known until the assertion names them).
    case login
    /// パスキーで承認: an approval bound to what is approved (`boundDigest`).
    case approval
}

/// A challenge issued for one passkey ceremony: random, single use, expiring, tied to the browser session (or the API
/// key) that asked for it.
public struct PasskeyChallenge: Sendable, Hashable {
    /// The challenge's bytes as the browser signs them, base64url. For an approval: 32 random bytes then the 32-byte
    /// digest of what is approved, so the signed client data itself names the transaction.
    public var challenge: String
    public var purpose: PasskeyPurpose
    /// Who asked: `session:<hash of the session ID>` or `api:<key ID>`.
    public var binding: String
    /// The user (registration, approval); nil for a login, where the assertion names the user.
    public var userID: UserID?
    /// A login's page (`retail`, `corporate_user`, `corporate_admin`).
    public var audience: String?
    /// An approval's digest of what is approved (hex of `ApprovalSubject.digest`).
    public var boundDigest: String?
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        challenge: String, purpose: PasskeyPurpose, binding: String, userID: UserID? = nil, audience: String? = nil,
        boundDigest: String? = nil, createdAt: Date, expiresAt: Date
    ) {
        self.challenge = challenge
        self.purpose = purpose
        self.binding = binding
        self.userID = userID
        self.audience = audience
        self.boundDigest = boundDigest
        self.createdAt = createdAt
        self.expiresAt = expiresAt
    }

    /// How the store finds a challenge: SHA-256 of its text, hex (the store never needs the challenge itself back).
    public static func key(_ challenge: String) -> String { SHA256.hash(data: Array(challenge.utf8)).hexString }
}

/// Where passkeys and their challenges are kept. The once-only rules are the store's, atomically: a challenge is
/// consumed by one delete that only one caller can win, and a counter moves by compare-and-set.
public protocol PasskeyRepository: Sendable {
    /// Stores a challenge.
    func insert(_ challenge: PasskeyChallenge) async throws
    /// Takes the challenge out of the store if it exists, is bound to `binding` and has not expired; at most one
    /// caller ever gets it. An expired one is removed and `nil` is returned.
    func consumePasskeyChallenge(_ challenge: String, binding: String, at now: Date) async throws -> PasskeyChallenge?
    /// Removes challenges that expired before `now`.
    func purgePasskeyChallenges(expiredBy now: Date) async throws

    /// The user's passkeys, oldest first.
    func passkeys(of user: UserID) async throws -> [Passkey]
    /// The passkey with this credential ID, whoever holds it.
    func passkey(credentialID: String) async throws -> Passkey?
    /// Stores a new passkey with its audit record and mail, in one transaction.
    /// Throws `passkeyTaken` if the credential ID is registered (to anyone), `passkeyLimit` if the user holds `limit`
    /// already, `userNotFound` for an unknown user.
    func insert(_ passkey: Passkey, limit: Int, audit: AuditEvent, mail: OutgoingMail?) async throws
    /// Records a ceremony: moves the counter from `expected` to `signCount` only if it is still `expected` and the
    /// passkey is not marked as a possible clone (compare-and-set); also stores BS and the time.
    /// - Returns: whether it moved (false: another ceremony used the same counter value, or the passkey is gone).
    func recordPasskeyUse(
        credentialID: String, from expected: UInt32, to signCount: UInt32, backedUp: Bool, at now: Date,
        audit: AuditEvent
    ) async throws -> Bool
    /// Marks a passkey whose counter went backwards; it is refused from then on.
    func markPasskeyCloneSuspected(credentialID: String, audit: AuditEvent) async throws
    /// Renames one of the user's passkeys. Returns whether it was theirs.
    func renamePasskey(credentialID: String, of user: UserID, to name: String, audit: AuditEvent) async throws -> Bool
    /// Removes the given passkeys of the user (all of them when `credentialIDs` is nil), with the audit record and the
    /// mail, in one transaction. Returns how many were removed (the mail and record only go with at least one).
    func deletePasskeys(
        _ credentialIDs: [String]?, of user: UserID, audit: AuditEvent, mail: OutgoingMail?
    ) async throws -> Int
}
