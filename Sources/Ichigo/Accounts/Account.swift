import Foundation

/// A deposit account (普通預金) with its balance in yen.
public struct Account: Sendable, Hashable {
    public var id: AccountID
    public var userID: UserID
    public var name: String
    public var branch: String
    public var number: String
    public var balance: Int64

    public init(id: AccountID, userID: UserID, name: String, branch: String, number: String, balance: Int64) {
        self.id = id
        self.userID = userID
        self.name = name
        self.branch = branch
        self.number = number
        self.balance = balance
    }
}
