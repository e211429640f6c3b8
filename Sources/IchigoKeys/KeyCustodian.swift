import Crypto
import Foundation
import Ichigo
import Logging
import Metrics
import Synchronization

/// Keeps the process's `Keyring` in step with the key versions in the database, makes new versions (rotation),
/// re-seals seeds under the newest version in small batches, and retires versions that seal nothing any more.
///
/// Every instance sharing a database runs one (`KeyService` in the server's service group); they coordinate only
/// through the database: a new version becomes active `activationDelay` after it is made (by then every instance has
/// loaded it, `pollInterval` being much shorter), a batch of seeds is claimed by one instance, and a seed only ever
/// moves to a newer version.
public final class KeyCustodian: Sendable {
    public let keyring: Keyring
    let repository: any KeyVersionRepository
    /// The key store that wraps new versions.
    public let primary: any KeyWrapper
    /// Stores that can unwrap older versions (the primary first).
    let wrappers: [any KeyWrapper]
    /// The file's master key: version 1 of an installation that began with it (`master-key`), when configured.
    let masterKey: MasterKey?
    /// Writes `masterKey` to its file when it was made just now (a first start): called only if this database
    /// adopts it as version 1, so a start that fails leaves no key file behind.
    let saveMasterKey: (@Sendable () throws -> Void)?
    public let activationDelay: Duration
    let logger: Logger
    private let state = Mutex(State())
    private let resealed = Counter(label: "ichigo_keys_resealed_total")
    private let currentGauge = Gauge(label: "ichigo_key_version_current")

    struct State {
        var known: [Int: KeyVersion] = [:]
        /// From the last store check, and from the last read of the versions (kept apart: neither clears the other).
        var storeProblem: String?
        var readProblem: String?
        var loaded = false
        /// The new master key was written (this database adopted it).
        var savedMasterKey = false
    }

    public init(
        keyring: Keyring, repository: any KeyVersionRepository, primary: any KeyWrapper,
        others: [any KeyWrapper] = [], masterKey: MasterKey?, saveMasterKey: (@Sendable () throws -> Void)? = nil,
        activationDelay: Duration = .seconds(5), logger: Logger
    ) {
        self.saveMasterKey = saveMasterKey
        self.keyring = keyring
        self.repository = repository
        self.primary = primary
        self.wrappers = [primary] + others
        self.masterKey = masterKey
        self.activationDelay = activationDelay
        self.logger = logger
    }

    /// Why the keys are not in order (a version that does not unwrap, an HSM that stopped answering), if so.
    public var problem: String? { state.withLock { $0.storeProblem ?? $0.readProblem } }

    /// The versions as last read from the database.
    public var known: [KeyVersion] { state.withLock { $0.known.values.sorted { $0.version < $1.version } } }

    // MARK: Loading

    /// Loads every stored version into the keyring and picks the current one. On a database without versions,
    /// makes version 1: the file's master key (`master-key`) if there is one, else a new key wrapped by `primary`.
    /// Throws, and installs nothing more, if a version cannot be unwrapped by the stores configured here.
    public func load(now: Date) async throws {
        var versions = try await repository.keyVersions()
        if versions.isEmpty {
            let first: KeyVersion
            if masterKey != nil {
                try saveMasterKey?()
                state.withLock { $0.savedMasterKey = true }
                first = KeyVersion(
                    version: 1, wrappedBy: KeyVersion.masterKeyStore, wrapped: nil, createdAt: now,
                    activeFrom: Date(timeIntervalSince1970: 0))
            } else {
                guard try await repository.sealedSeedCounts().isEmpty else {
                    throw IchigoError(
                        .corruptData,
                        detail: "the database holds seeds sealed with a master key that is not configured here (it has no key versions yet: start once with its master.key)")
                }
                let key = MasterKey.random()
                first = KeyVersion(
                    version: 1, wrappedBy: primary.name, wrapped: try primary.wrap(key.bytes, version: 1),
                    createdAt: now, activeFrom: Date(timeIntervalSince1970: 0))
            }
            _ = try await repository.insert(first, audit: nil)
            versions = try await repository.keyVersions()
        }
        try install(versions, now: now)
    }

    /// Reads the versions again and installs new ones; moves `current` when a version's activation time came.
    public func refresh(now: Date) async throws {
        try install(try await repository.keyVersions(), now: now)
    }

    private func install(_ versions: [KeyVersion], now: Date) throws {
        let known = state.withLock { $0.known }
        for version in versions {
            if let old = known[version.version], old.wrapped == version.wrapped, old.wrappedBy == version.wrappedBy {
                continue
            }
            if known[version.version] == nil || !keyring.versions.contains(version.version) {
                keyring.install(version.version, key: try unwrap(version))
            } else {
                // Re-wrapped under another store: the key must be the same; check it unwraps here.
                _ = try unwrap(version)
            }
        }
        state.withLock { state in
            for version in versions { state.known[version.version] = version }
        }
        let usable = versions.filter { $0.activeFrom <= now }.map(\.version)
        guard let newest = usable.max() else {
            throw IchigoError(.corruptData, detail: "no key version is active yet")
        }
        if newest > keyring.current {
            try keyring.use(newest)
            currentGauge.record(newest)
            if state.withLock({ $0.loaded }) {
                logger.notice("key version \(newest) now seals new seeds and signs the audit trail")
            }
        }
        state.withLock { $0.loaded = true }
    }

    private func unwrap(_ version: KeyVersion) throws -> MasterKey {
        if version.wrappedBy == KeyVersion.masterKeyStore || version.wrappedBy == "file", saveMasterKey != nil,
            !state.withLock({ $0.savedMasterKey })
        {
            throw IchigoError(
                .invalidInput, field: "master.key",
                detail: "the master key file is missing, and key version \(version.version) of this database needs it")
        }
        if version.wrappedBy == KeyVersion.masterKeyStore {
            guard let masterKey else {
                throw IchigoError(
                    .invalidInput, field: "key.store",
                    detail: "key version \(version.version) is the file master key (master.key), which is not configured here")
            }
            return masterKey
        }
        guard let wrapper = wrappers.first(where: { $0.name == version.wrappedBy }) else {
            throw IchigoError(
                .invalidInput, field: "key.store",
                detail: "key version \(version.version) is wrapped by \(version.wrappedBy), a key store not configured here (configured: \(wrappers.map(\.name).joined(separator: ", ")))")
        }
        guard let blob = version.wrapped, let key = MasterKey(bytes: try wrapper.unwrap(blob, version: version.version))
        else { throw IchigoError(.corruptData, detail: "key version \(version.version) is not a 256-bit key") }
        return key
    }

    // MARK: Rotation

    /// Makes a new version wrapped by `primary`, active `activationDelay` from `now`; versions wrapped by another
    /// store are re-wrapped by `primary` in the same step (moving between stores is a rotation with a new store).
    /// - Returns: the new version.
    public func rotate(now: Date, actor: String) async throws -> KeyVersion {
        try await refresh(now: now)
        let versions = try await repository.keyVersions()
        // The file store's version 1 is its master key itself: nothing to move. Any other store's versions move.
        let elsewhere = versions.filter {
            $0.wrappedBy != primary.name && !(primary is FileKeyWrapper && $0.wrappedBy == KeyVersion.masterKeyStore)
        }
        if !elsewhere.isEmpty {
            var moved: [KeyVersion] = []
            for var version in elsewhere {
                let key = try unwrap(version)
                version.wrapped = try primary.wrap(key.bytes, version: version.version)
                version.wrappedBy = primary.name
                moved.append(version)
            }
            try await repository.rewrap(
                moved,
                audit: AuditEvent(
                    at: now, actor: actor, action: "key.rewrap",
                    subject: moved.map { "key version \($0.version)" }.joined(separator: ", "), outcome: "ok",
                    reason: primary.name))
        }
        let number = (versions.map(\.version).max() ?? 0) + 1
        let key = MasterKey.random()
        let version = KeyVersion(
            version: number, wrappedBy: primary.name, wrapped: try primary.wrap(key.bytes, version: number),
            createdAt: now, activeFrom: now.addingTimeInterval(activationDelay.seconds))
        let made = try await repository.insert(
            version,
            audit: AuditEvent(
                at: now, actor: actor, action: "key.rotate", subject: "key version \(number)", outcome: "ok",
                reason: primary.name))
        guard made else {
            throw IchigoError(
                .concurrentUpdate, detail: "another rotation made key version \(number) at the same time")
        }
        keyring.install(number, key: key)
        state.withLock { $0.known[number] = version }
        return version
    }

    // MARK: Re-sealing and retiring

    /// Re-seals at most `limit` seeds sealed under an older version than the current one. Returns how many.
    public func resealBatch(limit: Int = 500) async throws -> Int {
        let target = keyring.current
        let vault = SeedVault(keyring: keyring)
        let count = try await repository.resealSeeds(olderThan: target, limit: limit) { id, sealed in
            try vault.reseal(sealed, for: id)
        }
        if count > 0 { resealed.increment(by: count) }
        return count
    }

    /// Retires every version older than the current one that no seed refers to any more. Returns those retired.
    public func retireUnused(now: Date) async throws -> [Int] {
        let counts = try await repository.sealedSeedCounts()
        var retired: [Int] = []
        let current = keyring.current
        for version in known where version.version < current && version.retiredAt == nil {
            guard (counts[version.version] ?? 0) == 0 else { continue }
            let done = try await repository.retire(
                version.version, at: now,
                audit: AuditEvent(
                    at: now, actor: "system", action: "key.retire", subject: "key version \(version.version)",
                    outcome: "ok"))
            if done {
                retired.append(version.version)
                logger.notice("key version \(version.version) retired: no seed is sealed under it any more")
            }
        }
        if !retired.isEmpty { try await refresh(now: now) }
        return retired
    }

    /// Each version with how many seeds it seals.
    public func status() async throws -> [(version: KeyVersion, seeds: Int)] {
        let versions = try await repository.keyVersions()
        let counts = try await repository.sealedSeedCounts()
        return versions.map { ($0, counts[$0.version] ?? 0) }
    }

    /// Checks the key stores (an HSM that stopped answering) and records the problem for `/ready`.
    public func checkStores() {
        var failure: String?
        for wrapper in wrappers {
            do { try wrapper.check() } catch { failure = "\(wrapper.name): \(error)" }
        }
        let changed = state.withLock { state -> Bool in
            defer { state.storeProblem = failure }
            return state.storeProblem != failure
        }
        if changed {
            if let failure { logger.error("key store not usable: \(failure)") } else {
                logger.notice("key store usable again")
            }
        }
    }

    /// Records a problem found while refreshing (logged when it starts and when it ends).
    func note(_ problem: String?) {
        let changed = state.withLock { state -> Bool in
            defer { state.readProblem = problem }
            return state.readProblem != problem
        }
        if changed {
            if let problem { logger.error("key versions: \(problem)") } else { logger.notice("key versions readable again") }
        }
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
