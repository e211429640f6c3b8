import Foundation

/// Whether a contract is one retail customer or a corporate contract with several users.
public enum ContractKind: String, Sendable, Hashable, Codable, CaseIterable {
    /// 個人: one customer, one user.
    case retail
    /// 法人: a master user, administrators and ordinary users.
    case corporate
}

/// How a corporate contract's users hold tokens (利用形態).
public enum TokenUsageMode: String, Sendable, Hashable, Codable, CaseIterable {
    /// 全ての利用者が同じトークンを使用する.
    case shared
    /// 全ての利用者が異なるトークンを使用する (some users may still share with each other).
    case individual
}

/// A contract: a retail customer, or a corporate customer with several users.
public struct Contract: Sendable, Hashable {
    public var id: ContractID
    public var kind: ContractKind
    public var name: String
    public var usageMode: TokenUsageMode
    /// ご契約先確認暗証番号 (corporate only), as a slow salted hash.
    public var pinHash: PasswordHash?
    public var createdAt: Date

    public init(
        id: ContractID, kind: ContractKind, name: String, usageMode: TokenUsageMode = .individual,
        pinHash: PasswordHash? = nil, createdAt: Date
    ) {
        self.id = id
        self.kind = kind
        self.name = name
        self.usageMode = usageMode
        self.pinHash = pinHash
        self.createdAt = createdAt
    }
}

/// A user's role within their contract.
public enum UserRole: String, Sendable, Hashable, Codable, CaseIterable {
    /// A retail customer.
    case customer
    /// マスターユーザ.
    case master
    /// 管理者ユーザ.
    case administrator
    /// 一般ユーザ.
    case ordinary

    /// Whether this role may manage other users' tokens (unlock, revoke, register).
    public var managesTokens: Bool { self == .master || self == .administrator }
}

/// Someone who logs in to internet banking.
public struct User: Sendable, Hashable {
    public var id: UserID
    public var contractID: ContractID
    public var loginID: LoginID
    public var name: String
    public var role: UserRole
    /// The registered e-mail address (mail notification passwords go here).
    public var email: String?
    /// ログインパスワード, hashed.
    public var loginPasswordHash: PasswordHash?
    /// 確認用パスワード, hashed.
    public var confirmationPasswordHash: PasswordHash?
    /// The token the user authenticates with; several users may share one.
    public var tokenID: TokenID?
    public var createdAt: Date
    /// Consecutive wrong passwords (login or confirmation) since the last right one.
    public var passwordFailures = 0
    /// Stopped after too many wrong passwords, until the bank lifts it.
    public var loginLocked = false
    /// Corporate users: what they may do, with which accounts (権限, 限度額).
    public var permissions = Permissions.empty

    /// Whether the user belongs to a corporate contract.
    public var isCorporate: Bool { role != .customer }

    public init(
        id: UserID, contractID: ContractID, loginID: LoginID, name: String, role: UserRole, email: String? = nil,
        loginPasswordHash: PasswordHash? = nil, confirmationPasswordHash: PasswordHash? = nil,
        tokenID: TokenID? = nil, createdAt: Date
    ) {
        self.id = id
        self.contractID = contractID
        self.loginID = loginID
        self.name = name
        self.role = role
        self.email = email
        self.loginPasswordHash = loginPasswordHash
        self.confirmationPasswordHash = confirmationPasswordHash
        self.tokenID = tokenID
        self.createdAt = createdAt
    }
}
