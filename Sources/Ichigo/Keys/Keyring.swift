import Crypto
import Foundation
import Synchronization

/// One version of the key everything at rest is protected with (seeds, the audit chain, the audit head), as the
/// database keeps it: wrapped by a key-encryption key that is not in the database.
///
/// Version 1 of an installation that began with a key file is that file's key itself (`wrappedBy` `master-key`, no
/// blob). Later versions are random 256-bit keys wrapped by the key store they were made under: `file` (AES-256-GCM
/// under a key derived from `master.key`) or `pkcs11:<token>/<key>` (CKM_AES_KEY_WRAP_PAD under the HSM's
/// never-extractable key).
public struct KeyVersion: Sendable, Hashable {
    public var version: Int
    /// Which key store can unwrap `wrapped`: `master-key`, `file` or `pkcs11:<token>/<key>`.
    public var wrappedBy: String
    /// The wrapped key; `nil` for `master-key`.
    public var wrapped: [UInt8]?
    public var createdAt: Date
    /// From when new seeds and audit records use it: a few seconds after it is made, so that every instance sharing
    /// the database has loaded it before any seed or record needs it.
    public var activeFrom: Date
    /// When it stopped sealing anything (no seed is sealed under it and a newer version is in use). A retired
    /// version's key is kept, wrapped, only to check the audit records and heads it signed.
    public var retiredAt: Date?

    public static let masterKeyStore = "master-key"

    public init(
        version: Int, wrappedBy: String, wrapped: [UInt8]?, createdAt: Date, activeFrom: Date, retiredAt: Date? = nil
    ) {
        self.version = version
        self.wrappedBy = wrappedBy
        self.wrapped = wrapped
        self.createdAt = createdAt
        self.activeFrom = activeFrom
        self.retiredAt = retiredAt
    }
}

/// How many seeds each key version seals.
public typealias SealedSeedCounts = [Int: Int]

/// What one re-sealing transaction did.
public struct ResealBatch: Sendable, Hashable {
    /// Seeds taken (re-sealed or left), the ones re-sealed, and the last token ID taken (where the next batch starts).
    public var examined: Int
    public var resealed: Int
    public var last: TokenID?

    public init(examined: Int, resealed: Int, last: TokenID?) {
        self.examined = examined
        self.resealed = resealed
        self.last = last
    }
}

/// Where key versions are kept (the same database as the seeds they seal). Part of every store.
public protocol KeyVersionRepository: Sendable {
    /// Every version, oldest first.
    func keyVersions() async throws -> [KeyVersion]
    /// Adds `version`; `false` (and nothing written) if a version with its number exists (another instance made it).
    func insert(_ version: KeyVersion, audit: AuditEvent?) async throws -> Bool
    /// Replaces the wrapped form of existing versions (moving them to another key store), in one transaction.
    func rewrap(_ versions: [KeyVersion], audit: AuditEvent) async throws
    /// How many seeds each version seals.
    func sealedSeedCounts() async throws -> SealedSeedCounts
    /// Re-seals, in one transaction, up to `limit` seeds sealed under a version older than `target`, taken in token
    /// ID order after `after`. A seed only ever moves to a newer version, so instances that briefly disagree on the
    /// newest never undo each other; each seed is claimed by one caller only (several instances may run this at
    /// once). `reseal` gives the seed sealed anew, or `nil` to leave it as it is (a seed that does not open).
    func resealSeeds(
        olderThan target: Int, after: TokenID?, limit: Int,
        reseal: @escaping @Sendable (TokenID, SealedSeed) -> SealedSeed?
    ) async throws -> ResealBatch
    /// Marks `version` retired at `now` if no seed is sealed under it (checked in the same transaction).
    /// Returns whether it did.
    func retire(_ version: Int, at now: Date, audit: AuditEvent) async throws -> Bool
}

/// The key versions this process has unwrapped, and which one seals new seeds and signs new audit records.
/// Shared by `SeedVault` and `AuditChain`; the runtime installs versions as they appear in the database and
/// moves `current` when a version's activation time comes. Holds no clock and does no I/O.
public final class Keyring: Sendable {
    struct Keys: Sendable {
        let seed: SymmetricKey
        let record: HMAC<SHA256>
        let head: HMAC<SHA256>

        init(_ key: MasterKey) {
            seed = key.derivedKey(for: "seed-encryption v1")
            record = HMAC(key: key.derivedKey(for: "audit-chain v1"))
            head = HMAC(key: key.derivedKey(for: "audit-head v1"))
        }
    }

    private struct State: Sendable {
        var keys: [Int: Keys] = [:]
        var current = 1
        /// When each version began to be used (absent: from the start).
        var activeFrom: [Int: Date] = [:]
    }

    /// How long after a version's activation an older version may still sign an audit record or head: instances
    /// read the versions each second and their clocks differ a little. Past it, a record signed with an older
    /// version is a break in the chain (someone holding a retired key cannot write records that pass).
    public static let switchOverGrace: TimeInterval = 30

    private let state: Mutex<State>

    /// A keyring with one version (`version`, default 1) in use.
    public init(_ key: MasterKey, version: Int = 1) {
        var state = State()
        state.keys[version] = Keys(key)
        state.current = version
        self.state = Mutex(state)
    }

    /// A keyring with no key yet: the runtime installs the stored versions before anything is sealed or signed
    /// (`KeyCustodian.load`). Sealing or signing before that is a programming error and stops the process.
    public init() { state = Mutex(State(keys: [:], current: 0)) }

    /// Adds (or replaces) a version's key, in use from `activeFrom` (`nil`: from the start).
    public func install(_ version: Int, key: MasterKey, activeFrom: Date? = nil) {
        let keys = Keys(key)
        state.withLock {
            $0.keys[version] = keys
            $0.activeFrom[version] = activeFrom
        }
    }

    /// Whether `version` may sign something made at `at`: no newer version had taken over (its activation plus
    /// `switchOverGrace`) by then.
    public func maySign(_ version: Int, at: Date) -> Bool {
        state.withLock { state in
            !state.activeFrom.contains { newer, from in
                newer > version && from.addingTimeInterval(Self.switchOverGrace) <= at
            }
        }
    }

    /// Makes `version` the one that seals and signs from now on. It must be installed.
    public func use(_ version: Int) throws(IchigoError) {
        try state.withLock { (state: inout State) throws(IchigoError) in
            guard state.keys[version] != nil else {
                throw IchigoError(.serviceUnavailable, detail: "key version \(version) is not loaded")
            }
            state.current = version
        }
    }

    /// The version that seals new seeds and signs new records.
    public var current: Int { state.withLock { $0.current } }

    /// The versions installed, ascending.
    public var versions: [Int] { state.withLock { $0.keys.keys.sorted() } }

    /// The current version and its keys.
    func currentKeys() -> (version: Int, keys: Keys) {
        state.withLock { state in
            guard let keys = state.keys[state.current] else {
                preconditionFailure("the keyring was used before its key versions were loaded")
            }
            return (state.current, keys)
        }
    }

    /// The keys of `version`; `serviceUnavailable` if this process has not loaded it (yet).
    func keys(_ version: Int) throws(IchigoError) -> Keys {
        guard let keys = state.withLock({ $0.keys[version] }) else {
            throw IchigoError(.serviceUnavailable, detail: "key version \(version) is not loaded here")
        }
        return keys
    }
}
