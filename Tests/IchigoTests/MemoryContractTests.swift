import Ichigo
import IchigoTesting
import Testing

/// The same contract against the in-memory fake, so the fake used by other tests is faithful.
@Suite("Memory repository contract")
struct MemoryContractTests {
    @Test(arguments: RepositoryContract.checks)
    func contract(_ check: ContractCheck) async throws {
        let key = MasterKey.random()
        let keyring = Keyring(key)
        try await check.run(
            ContractFixture(
                repository: MemoryRepository(chain: AuditChain(keyring: keyring)), masterKey: key, keyring: keyring))
    }
}
