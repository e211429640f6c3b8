import Foundation
import Ichigo
import IchigoSQLite
import IchigoTesting
import Testing

/// Runs the repository contract against SQLite, each check on a fresh database file.
@Suite("SQLite repository contract")
struct SQLiteContractTests {
    @Test(arguments: RepositoryContract.checks + RepositoryContract.deadlineChecks)
    func contract(_ check: ContractCheck) async throws {
        let directory = try scratchDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let key = MasterKey.random()
        let keyring = Keyring(key)
        let repository = try SQLiteRepository(
            path: directory.appendingPathComponent("ichigo.sqlite").path, chain: AuditChain(keyring: keyring))
        try await check.run(ContractFixture(repository: repository, masterKey: key, keyring: keyring))
        try repository.close()
    }
}
