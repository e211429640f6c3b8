import Crypto
import Foundation
import Ichigo
import IchigoKeys
import IchigoTesting
import Logging
import OTP
import Synchronization
import Testing

/// A stand-in for an HSM's wrapping key (AES-GCM under a key of its own) whose health can be switched off.
final class TestHSM: KeyWrapper, Sendable {
    let name: String
    private let key = SymmetricKey(size: .bits256)
    let answering = Mutex(true)

    init(_ label: String = "kek") { name = "pkcs11:test/\(label)" }

    func wrap(_ dataKey: [UInt8], version: Int) throws -> [UInt8] {
        try check()
        return Array(try AES.GCM.seal(dataKey, using: key, authenticating: [UInt8(version)]).combined!)
    }

    func unwrap(_ blob: [UInt8], version: Int) throws -> [UInt8] {
        try check()
        return Array(try AES.GCM.open(AES.GCM.SealedBox(combined: blob), using: key, authenticating: [UInt8(version)]))
    }

    func check() throws {
        guard answering.withLock({ $0 }) else { throw IchigoError(.serviceUnavailable, detail: "the test HSM is off") }
    }
}

@Suite("Key custody: loading, rotation between stores, activation, health")
struct KeyCustodianTests {
    let logger = Logger(label: "test")

    /// A memory store whose audit chain and fixture share `keyring`.
    func store(_ keyring: Keyring, _ masterKey: MasterKey = .random()) -> (MemoryRepository, ContractFixture) {
        let repository = MemoryRepository(chain: AuditChain(keyring: keyring))
        return (repository, ContractFixture(repository: repository, masterKey: masterKey, keyring: keyring))
    }

    @Test func fileStoreAdoptsTheMasterKeyAsVersionOneAndOnlyThenSavesIt() async throws {
        let master = MasterKey.random()
        let keyring = Keyring()
        let (repository, _) = store(keyring, master)
        let saved = Mutex(0)
        let custodian = KeyCustodian(
            keyring: keyring, repository: repository, primary: FileKeyWrapper(masterKey: master), masterKey: master,
            saveMasterKey: { saved.withLock { $0 += 1 } }, logger: logger)
        try await custodian.load(now: Date())
        #expect(saved.withLock { $0 } == 1)
        #expect(try await repository.keyVersions().map(\.wrappedBy) == [KeyVersion.masterKeyStore])
        #expect(keyring.current == 1)
        // Seeds sealed by an older build (one key, no versions) still open: version 1 is that key.
        let old = try SeedVault(masterKey: master).seal(.random(), for: TokenID(rawValue: "T1"))
        _ = try SeedVault(keyring: keyring).open(old, for: TokenID(rawValue: "T1"))

        // A second start whose key file went missing (a new key made in memory) refuses, and saves nothing.
        let other = MasterKey.random()
        let again = KeyCustodian(
            keyring: Keyring(), repository: repository, primary: FileKeyWrapper(masterKey: other), masterKey: other,
            saveMasterKey: { saved.withLock { $0 += 1 } }, logger: logger)
        await #expect(throws: IchigoError.self) { try await again.load(now: Date()) }
        #expect(saved.withLock { $0 } == 1)
    }

    @Test func anHSMStoreRefusesADatabaseOfSeedsWithoutItsMasterKey() async throws {
        let master = MasterKey.random()
        let keyring = Keyring(master)
        let (repository, fixture) = store(keyring, master)
        _ = try await fixture.activeCustomer("noversion")
        let custodian = KeyCustodian(
            keyring: Keyring(), repository: repository, primary: TestHSM(), masterKey: nil, logger: logger)
        let error = await #expect(throws: IchigoError.self) { try await custodian.load(now: Date()) }
        #expect("\(error!)".contains("master key that is not configured here"))
        #expect(try await repository.keyVersions().isEmpty, "nothing written")
    }

    @Test func movingFromTheFileIntoTheHSMIsARotation() async throws {
        let master = MasterKey.random()
        let keyring = Keyring()
        let (repository, fixture) = store(keyring, master)
        let file = KeyCustodian(
            keyring: keyring, repository: repository, primary: FileKeyWrapper(masterKey: master), masterKey: master,
            logger: logger)
        try await file.load(now: Date())
        let (user, _, totp) = try await fixture.activeCustomer("moving")

        // The HSM configured, the file still there: a rotation re-wraps version 1 and makes version 2 in the HSM.
        let hsm = TestHSM()
        let moving = KeyCustodian(
            keyring: keyring, repository: repository, primary: hsm, others: [FileKeyWrapper(masterKey: master)],
            masterKey: master, activationDelay: .zero, logger: logger)
        try await moving.load(now: Date())
        let made = try await moving.rotate(now: Date(), actor: "test")
        #expect(made.version == 2)
        #expect(try await repository.keyVersions().map(\.wrappedBy) == [hsm.name, hsm.name])
        try await moving.refresh(now: Date())
        #expect(keyring.current == 2)
        while try await moving.resealBatch(limit: 1).examined > 0 {}
        #expect(try await moving.retireUnused(now: Date()) == [1])

        // The file gone: the HSM alone opens every version, the seed verifies, the chain verifies across.
        let alone = Keyring()
        let hsmOnly = KeyCustodian(keyring: alone, repository: repository, primary: hsm, masterKey: nil, logger: logger)
        try await hsmOnly.load(now: Date())
        #expect(alone.versions == [1, 2] && alone.current == 2)
        let tokens = TokenService(
            repository: repository, vault: SeedVault(keyring: alone), policy: .standard, logger: logger)
        let now = ContractFixture.start
        #expect(try await tokens.verify(totp.code(at: now), for: user.id, actor: "test", at: now).isAccepted)
        let records = try await repository.auditRecords(from: 1, limit: 1000)
        #expect(Set(records.map(\.keyVersion)) == [1, 2])
        #expect(AuditChain(keyring: alone).verify(records, after: nil).isEmpty)
        #expect(records.contains { $0.event.action == "key.rewrap" } && records.contains { $0.event.action == "key.retire" })

        // And the file store alone can no longer open it: it says which store is missing.
        let fileOnly = KeyCustodian(
            keyring: Keyring(), repository: repository, primary: FileKeyWrapper(masterKey: master), masterKey: master,
            logger: logger)
        let error = await #expect(throws: IchigoError.self) { try await fileOnly.load(now: Date()) }
        #expect("\(error!)".contains("wrapped by \(hsm.name), a key store not configured here"))
    }

    @Test func aNewVersionIsUsedOnlyFromItsActivationTimeByEveryInstance() async throws {
        let hsm = TestHSM()
        let first = Keyring()
        let (repository, _) = store(first)
        let a = KeyCustodian(
            keyring: first, repository: repository, primary: hsm, masterKey: nil, activationDelay: .seconds(60),
            logger: logger)
        try await a.load(now: Date())
        let second = Keyring()
        let b = KeyCustodian(keyring: second, repository: repository, primary: hsm, masterKey: nil, logger: logger)
        try await b.load(now: Date())
        let now = Date()
        let made = try await a.rotate(now: now, actor: "test")
        try await a.refresh(now: now)
        try await b.refresh(now: now + 1)
        // Loaded by both, used by neither until it is due.
        #expect(first.versions == [1, 2] && second.versions == [1, 2])
        #expect(first.current == 1 && second.current == 1)
        #expect(try await b.resealBatch().examined == 0)
        try await b.refresh(now: made.activeFrom)
        #expect(second.current == 2)
    }

    @Test func twoRotationsAtOnceMakeOneVersion() async throws {
        let hsm = TestHSM()
        let keyring = Keyring()
        let (repository, _) = store(keyring)
        // The first shares the store's keyring (its audit chain signs with it), the second is another instance.
        let custodians = [keyring, Keyring()].map {
            KeyCustodian(keyring: $0, repository: repository, primary: hsm, masterKey: nil, logger: logger)
        }
        try await custodians[0].load(now: Date())
        try await custodians[1].load(now: Date())
        // Both read version 1 as the newest and try to make version 2: one does, the other is told so.
        let outcomes = await withTaskGroup(of: Result<KeyVersion, any Error>.self) { group in
            for custodian in custodians {
                group.addTask {
                    do { return .success(try await custodian.rotate(now: Date(), actor: "test")) } catch {
                        return .failure(error)
                    }
                }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let made = outcomes.compactMap { try? $0.get() }
        let refused = outcomes.compactMap { outcome -> IchigoError? in
            if case .failure(let error) = outcome { return error as? IchigoError }
            return nil
        }
        #expect(try await repository.keyVersions().map(\.version) == Array(1...(1 + made.count)), "no version lost or doubled")
        #expect(made.count + refused.count == 2 && made.count >= 1)
        #expect(refused.allSatisfy { $0.code == .concurrentUpdate })
    }

    @Test func anHSMThatStopsAnsweringIsAProblemUntilItAnswersAgain() async throws {
        let hsm = TestHSM()
        let keyring = Keyring()
        let (repository, _) = store(keyring)
        let custodian = KeyCustodian(keyring: keyring, repository: repository, primary: hsm, masterKey: nil, logger: logger)
        try await custodian.load(now: Date())
        custodian.checkStores()
        #expect(custodian.problem == nil)
        hsm.answering.withLock { $0 = false }
        custodian.checkStores()
        #expect(custodian.problem?.contains("the test HSM is off") == true)
        // Verifications do not need the HSM: the loaded versions seal and open.
        let vault = SeedVault(keyring: keyring)
        let sealed = try vault.seal(.random(), for: TokenID(rawValue: "T9"))
        _ = try vault.open(sealed, for: TokenID(rawValue: "T9"))
        await #expect(throws: IchigoError.self) { _ = try await custodian.rotate(now: Date(), actor: "test") }
        #expect(try await repository.keyVersions().count == 1, "no version made without the HSM")
        hsm.answering.withLock { $0 = true }
        custodian.checkStores()
        #expect(custodian.problem == nil)
    }
}
