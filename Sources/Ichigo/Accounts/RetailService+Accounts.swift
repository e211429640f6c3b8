import Foundation

/// Accounts (口座) a bank opens for a customer (the JSON API's account opening).
extension RetailService {
    /// Opens an account for `user`: a name of 1–40 characters, a 3-digit branch, a 7-digit account number unique in
    /// the bank (`accountNumberTaken`), an opening balance of 0 yen or more. Audited as `account.open`.
    public func openAccount(
        for user: UserID, name: String, branch: String, number: String, balance: Int64, actor: String, at now: Date
    ) async throws -> Account {
        guard try await repository.user(user) != nil else { throw IchigoError(.userNotFound) }
        guard !name.isEmpty, name.unicodeScalars.count <= 40 else { throw IchigoError(.invalidInput, field: "name") }
        guard branch.count == 3, branch.isASCIIDigits else { throw IchigoError(.invalidInput, field: "branch") }
        guard TransferForm.isAccountNumber(number) else { throw IchigoError(.invalidInput, field: "number") }
        guard balance >= 0 else { throw IchigoError(.invalidInput, field: "balance") }
        let account = Account(id: .random(), userID: user, name: name, branch: branch, number: number, balance: balance)
        // A number taken (by any customer) is refused by the store, in the same transaction as the insert.
        try await repository.insert(
            account,
            audit: AuditEvent(
                at: now, actor: actor, action: "account.open", subject: account.id.rawValue, outcome: "ok",
                reason: "user=\(user.rawValue) branch=\(branch) number=\(number) balance=\(balance)"))
        return account
    }
}
