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
/// through the database: a new version becomes active `activationDelay` after it is made (every instance reads the
/// versions each second, so all have loaded it by then as long as their clocks agree to within a few seconds), a
/// batch of seeds is claimed by one instance, and a seed only ever moves to a newer version.
///
/// What the database says is not trusted blindly: version 1 as the file's master key carries a check value, a
/// version wrapped by the HSM names its own number inside the wrapping, a version repeating an older version's key is
/// refused, and a running server never switches to a version that its primary store did not wrap (someone who can
/// write to the database cannot slip in a key they know).
public final class KeyCustodian: Sendable {
    public let keyring: Keyring
    let repository: any KeyVersionRepository & IchigoRepository
    /// The key store that wraps new versions.
    public let primary: any KeyWrapper
    /// Stores that can unwrap older versions (the primary first).
    let wrappers: [any KeyWrapper]
    /// The file's master key: version 1 of an installation that began with it (`master-key`), when configured.
    let masterKey: MasterKey?
    /// Writes `masterKey` to its file when it was made just now (a first start): called only once this database
    /// adopted it as version 1, so a start that fails leaves no key file behind.
    let saveMasterKey: (@Sendable () throws -> Void)?
    public let activationDelay: Duration
    let logger: Logger
    private let state = Mutex(State())
    private let resealed = Counter(label: "ichigo_keys_resealed_total")
    private let resealFailures = Counter(label: "ichigo_keys_reseal_failed_total")
    private let currentGauge = Gauge(label: "ichigo_key_version_current")

    struct State {
        var known: [Int: KeyVersion] = [:]
        /// SHA-256 of each installed version's key: a re-wrapped version must give the same key, a new one another.
        var fingerprints: [Int: [UInt8]] = [:]
        /// From the last store check, and from the last read of the versions (kept apart: neither clears the other).
        var storeProblem: String?
        var readProblem: String?
        var loaded = false
        /// Where the re-sealing pass goes on (token ID order), and the seeds it found that do not open (logged once).
        var cursor: TokenID?
        var unopenable: Set<TokenID> = []
        /// Versions not used because another store wrapped them (logged once each).
        var ignored: Set<Int> = []
    }

    public init(
        keyring: Keyring, repository: any KeyVersionRepository & IchigoRepository, primary: any KeyWrapper,
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

    /// Why the keys are not in order (a store that stopped answering, versions that cannot be read), if so.
    public var problem: String? { state.withLock { $0.storeProblem ?? $0.readProblem } }

    /// The versions as last read from the database.
    public var known: [KeyVersion] { state.withLock { $0.known.values.sorted { $0.version < $1.version } } }

    /// The check value stored with version 1 when it is the file's master key: proves a later start has the same file.
    static func checkValue(of key: MasterKey) -> [UInt8] {
        Array(HMAC<SHA256>.authenticationCode(for: Array("ichigo key check v1".utf8), using: SymmetricKey(data: key.bytes)))
    }

    // MARK: Loading

    /// Loads every stored version into the keyring and picks the current one. On a database without versions,
    /// makes version 1: the file's master key (`master-key`) if there is one — after checking it is the key the
    /// database's audit trail began with, if it has one — else a new key wrapped by `primary` (only for a database
    /// with nothing sealed or signed yet). Throws, and installs nothing more, if a version cannot be unwrapped by the
    /// stores configured here or fails a check.
    public func load(now: Date) async throws {
        var versions = try await repository.keyVersions()
        if versions.isEmpty {
            let first = try await firstVersion(now: now)
            if try await repository.insert(first, audit: nil) {
                if first.wrappedBy == KeyVersion.masterKeyStore { try saveMasterKey?() }
            }
            // Made by another instance at the same moment: the checks below tell whether its key is this one.
            versions = try await repository.keyVersions()
        }
        try install(versions, now: now)
    }

    private func firstVersion(now: Date) async throws -> KeyVersion {
        let firstRecord = try await repository.auditRecords(from: 1, limit: 1).first
        let hasSeeds = !(try await repository.sealedSeedCounts().isEmpty)
        if let masterKey {
            if let firstRecord {
                // An installation from before key versions: its first record must verify under this key.
                guard saveMasterKey == nil,
                    AuditChain(masterKey: masterKey).verify([firstRecord], after: nil).isEmpty
                else {
                    throw IchigoError(
                        .invalidInput, field: "master.key",
                        detail: saveMasterKey == nil
                            ? "master.key is not the key this database's audit trail was signed with"
                            : "master.key is missing, and this database's seeds and audit trail need it")
                }
            } else if hasSeeds {
                throw IchigoError(
                    .invalidInput, field: "master.key", detail: "the database holds seeds but no audit trail to check the key against")
            }
            return KeyVersion(
                version: 1, wrappedBy: KeyVersion.masterKeyStore, wrapped: Self.checkValue(of: masterKey), createdAt: now,
                activeFrom: Date(timeIntervalSince1970: 0))
        }
        guard !hasSeeds, firstRecord == nil else {
            throw IchigoError(
                .corruptData,
                detail: "the database holds seeds and audit records sealed with a master key that is not configured here (it has no key versions yet: start once with its master.key)")
        }
        let key = MasterKey.random()
        return KeyVersion(
            version: 1, wrappedBy: primary.name, wrapped: try primary.wrap(key.bytes, version: 1), createdAt: now,
            activeFrom: Date(timeIntervalSince1970: 0))
    }

    /// Reads the versions again and installs new ones; moves `current` when a version's activation time came.
    public func refresh(now: Date) async throws {
        try install(try await repository.keyVersions(), now: now)
    }

    /// Whether `version` may become the current one while serving: wrapped by the primary store (the file store's
    /// version 1 being the file's key).
    private func wrappedByPrimary(_ version: KeyVersion) -> Bool {
        version.wrappedBy == primary.name || (primary is FileKeyWrapper && version.wrappedBy == KeyVersion.masterKeyStore)
    }

    private func install(_ versions: [KeyVersion], now: Date) throws {
        let (known, fingerprints) = state.withLock { ($0.known, $0.fingerprints) }
        var newFingerprints = fingerprints
        for version in versions {
            if let old = known[version.version], old.wrapped == version.wrapped, old.wrappedBy == version.wrappedBy,
                old.activeFrom == version.activeFrom
            {
                continue
            }
            let key = try unwrap(version)
            let fingerprint = Array(SHA256.hash(data: key.bytes))
            if let installed = newFingerprints[version.version] {
                // Re-wrapped under another store: it must be the very same key.
                guard constantTimeEqual(installed, fingerprint), sameActivation(known, version) else {
                    throw IchigoError(
                        .corruptData, detail: "key version \(version.version) changed in the database: refused")
                }
            } else {
                if let other = newFingerprints.first(where: { constantTimeEqual($0.value, fingerprint) }) {
                    throw IchigoError(
                        .corruptData,
                        detail: "key version \(version.version) repeats the key of version \(other.key): refused")
                }
                newFingerprints[version.version] = fingerprint
            }
            keyring.install(
                version.version, key: key,
                activeFrom: version.version == 1 && version.activeFrom.timeIntervalSince1970 == 0
                    ? nil : version.activeFrom)
        }
        state.withLock { state in
            for version in versions { state.known[version.version] = version }
            state.fingerprints = newFingerprints
        }
        let current = keyring.current
        let candidates = versions.filter { $0.activeFrom <= now && $0.version > current }
        // At the first load any stored version may be current; later only one the primary store wrapped.
        let newest = candidates.filter { current == 0 || wrappedByPrimary($0) }.map(\.version).max()
        if let ignored = candidates.filter({ current != 0 && !wrappedByPrimary($0) }).map(\.version).max(),
            ignored > (newest ?? current)
        {
            if state.withLock({ $0.ignored.insert(ignored).inserted }) {
                logger.critical(
                    "key version \(ignored) in the database is wrapped by a store other than \(primary.name): not used (was it written behind Ichigo's back?)")
            }
        }
        if let newest {
            try keyring.use(newest)
            currentGauge.record(newest)
            if state.withLock({ $0.loaded }) {
                logger.notice("key version \(newest) now seals new seeds and signs the audit trail")
            }
        } else if current == 0 {
            throw IchigoError(.corruptData, detail: "no key version is active yet")
        }
        state.withLock { $0.loaded = true }
    }

    /// A re-wrapped version keeps its number and activation time.
    private func sameActivation(_ known: [Int: KeyVersion], _ version: KeyVersion) -> Bool {
        known[version.version].map { $0.activeFrom == version.activeFrom } ?? true
    }

    private func unwrap(_ version: KeyVersion) throws -> MasterKey {
        if version.wrappedBy == KeyVersion.masterKeyStore {
            guard version.version == 1 else {
                throw IchigoError(
                    .corruptData, detail: "key version \(version.version) claims to be the file's master key: refused")
            }
            guard let masterKey else {
                throw IchigoError(
                    .invalidInput, field: "key.store",
                    detail: "key version 1 is the file master key (master.key), which is not configured here")
            }
            guard let check = version.wrapped, constantTimeEqual(check, Self.checkValue(of: masterKey)) else {
                throw IchigoError(
                    .invalidInput, field: "master.key",
                    detail: saveMasterKey != nil
                        ? "the master key file is missing, and key version 1 of this database is that file's key"
                        : "master.key is not the key this database began with (key version 1)")
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
        let elsewhere = versions.filter { !wrappedByPrimary($0) }
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
        try await refresh(now: now)
        return version
    }

    // MARK: Re-sealing and retiring

    /// Re-seals the next batch of at most `limit` seeds sealed under an older version than the current one, in
    /// token ID order from where the last batch stopped. A seed that does not open is left as it is, logged once and
    /// counted (`ichigo keys check` lists them). Returns the batch; `examined == 0`: this pass is over (the next
    /// starts from the beginning).
    public func resealBatch(limit: Int = 500) async throws -> ResealBatch {
        let target = keyring.current
        let vault = SeedVault(keyring: keyring)
        let cursor = state.withLock { $0.cursor }
        let failures = Mutex<[TokenID]>([])
        let batch = try await repository.resealSeeds(olderThan: target, after: cursor, limit: limit) { id, sealed in
            do { return try vault.reseal(sealed, for: id) } catch {
                failures.withLock { $0.append(id) }
                return nil
            }
        }
        let failed = failures.withLock { $0 }
        let fresh = state.withLock { state -> [TokenID] in
            state.cursor = batch.examined == 0 ? nil : batch.last
            return failed.filter { state.unopenable.insert($0).inserted }
        }
        for id in fresh {
            logger.error("the seed of token \(id.rawValue) does not open: left under its key version")
        }
        if batch.resealed > 0 { resealed.increment(by: batch.resealed) }
        if !failed.isEmpty { resealFailures.increment(by: failed.count) }
        return batch
    }

    /// Retires every version older than the current one that no seed refers to any more. Returns those retired.
    public func retireUnused(now: Date) async throws -> [Int] {
        let current = keyring.current
        let candidates = known.filter { $0.version < current && $0.retiredAt == nil }
        guard !candidates.isEmpty else { return [] }
        let counts = try await repository.sealedSeedCounts()
        var retired: [Int] = []
        for version in candidates where (counts[version.version] ?? 0) == 0 {
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
        try await refresh(now: now)
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

    /// Records a problem found while reading the versions (logged when it starts and when it ends).
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
