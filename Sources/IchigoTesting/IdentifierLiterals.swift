import Ichigo

// Test fixtures name accounts, transfers and challenges with literals ("A-payer", "X1"); the product's code cannot
// (these conformances live only in the test support target).
extension AccountID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

extension TransferID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}

extension ChallengeID: ExpressibleByStringLiteral {
    public init(stringLiteral value: String) { self.init(rawValue: value) }
}
