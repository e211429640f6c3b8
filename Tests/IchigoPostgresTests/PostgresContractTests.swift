import Foundation
import Ichigo
import IchigoPostgres
import IchigoTesting
import Testing

/// Runs the repository contract against PostgreSQL, each check on a database of its own.
@Suite("PostgreSQL repository contract", .enabled(if: TestDatabase.isConfigured, TestDatabase.notConfigured))
struct PostgresContractTests {
    @Test(arguments: RepositoryContract.checks + RepositoryContract.deadlineChecks)
    func contract(_ check: ContractCheck) async throws {
        try await TestDatabase.withFreshDatabase { url in
            let key = MasterKey.random()
            let keyring = Keyring(key)
            try await TestDatabase.withRepository(url: url, keyring: keyring) { repository in
                try await check.run(ContractFixture(repository: repository, masterKey: key, keyring: keyring))
            }
        }
    }
}
