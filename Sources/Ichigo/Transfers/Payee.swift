/// Where a transfer goes (振込先): bank code (4 digits), branch number (3), account number (7) and the account
/// holder's name. The one payee of every transfer: retail (`Transfer`), corporate (`CorporateTransfer`), what a
/// corporate user typed (`TransferInput`) and the screens' drafts; `TransferForm` validates one.
public struct Payee: Sendable, Hashable, Codable {
    public var bank: String
    public var branch: String
    public var account: String
    public var name: String

    public init(bank: String, branch: String, account: String, name: String) {
        self.bank = bank
        self.branch = branch
        self.account = account
        self.name = name
    }

    /// As the audit trail and the screens name it: `bank-branch-account`.
    public var accountPath: String { "\(bank)-\(branch)-\(account)" }
}
