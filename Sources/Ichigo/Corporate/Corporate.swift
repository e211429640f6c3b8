import Foundation

/// An operation a corporate user may be given (権限).
public enum Authority: String, Sendable, Hashable, Codable, CaseIterable, Comparable {
    /// 振込振替: create transfer data.
    case transfer
    /// 振込振替の承認: approve transfer data (承認実行), with the confirmation password and an OTP.
    case transferApproval = "transfer_approval"

    public static func < (lhs: Authority, rhs: Authority) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    /// Whether the operation needs a one-time password, so the user needs a token for it.
    public var needsOTP: Bool { self == .transferApproval }
}

/// What a corporate user may do (権限) and with which accounts, up to which amount (振込振替 限度額).
public struct Permissions: Sendable, Hashable, Codable {
    public var authorities: Set<Authority>
    /// Account ID → the most one transfer from that account may move, in yen. An account not listed is not usable.
    public var accountLimits: [String: Int64]

    public init(authorities: Set<Authority> = [], accountLimits: [String: Int64] = [:]) {
        self.authorities = authorities
        self.accountLimits = accountLimits
    }

    public static let empty = Permissions()

    /// The permissions both `self` and `other` grant: a removal takes effect at once, an addition only at
    /// the next login (when `self` is the login's snapshot and `other` the stored value).
    public func intersection(_ other: Permissions) -> Permissions {
        var limits: [String: Int64] = [:]
        for (account, limit) in accountLimits {
            if let second = other.accountLimits[account] { limits[account] = min(limit, second) }
        }
        return Permissions(authorities: authorities.intersection(other.authorities), accountLimits: limits)
    }

    /// The limit for `account`, or `nil` if the account may not be used.
    public func limit(for account: AccountID) -> Int64? { accountLimits[account.rawValue] }
}

/// Where a corporate transfer stands.
public enum CorporateTransferStatus: String, Sendable, Hashable, Codable {
    /// Created (振込振替データ作成), awaiting approval.
    case pending
    /// Approved (承認実行): the money has moved.
    case approved
}

/// Transfer data of a corporate contract: created by one user, approved by another.
public struct CorporateTransfer: Sendable, Hashable, AuditedTransfer {
    public var id: TransferID
    public var contractID: ContractID
    public var accountID: AccountID
    public var payee: Payee
    public var amount: Int64
    public var status: CorporateTransferStatus
    public var createdBy: UserID
    public var createdAt: Date
    public var approvedBy: UserID?
    public var approvedAt: Date?

    public init(
        id: TransferID, contractID: ContractID, accountID: AccountID, payee: Payee, amount: Int64,
        status: CorporateTransferStatus = .pending,
        createdBy: UserID, createdAt: Date, approvedBy: UserID? = nil, approvedAt: Date? = nil
    ) {
        self.id = id
        self.contractID = contractID
        self.accountID = accountID
        self.payee = payee
        self.amount = amount
        self.status = status
        self.createdBy = createdBy
        self.createdAt = createdAt
        self.approvedBy = approvedBy
        self.approvedAt = approvedAt
    }
}

/// What an approval did.
public enum ApprovalOutcome: Sendable, Hashable {
    /// Approved now: the money moved in the same transaction.
    case approved
    /// It was no longer pending (approved meanwhile, e.g. a second post): nothing moved.
    case notPending
    /// The account's balance was short: nothing moved, still pending.
    case insufficientFunds
}

/// Storage for the corporate flows. Every state change writes its audit events (and mails) in the same
/// transaction.
public protocol CorporateRepository: Sendable {
    /// Sets the contract's usage mode and removes the token registration of every user of the contract,
    /// in one transaction.
    /// - Returns: the users whose registration was removed.
    func changeUsageMode(
        of contract: ContractID, to mode: TokenUsageMode, at now: Date, audit: AuditEvent
    ) async throws -> [UserID]
    /// Makes `token` the current token of each of `users` (replacing whatever they held) and gives the token
    /// to `contract`, in one transaction. Throws `tokenNotRegistrable` unless the token still has no contract
    /// or already belongs to `contract`, and is not cancelled, revoked or locked.
    func register(
        _ token: TokenID, to contract: ContractID, for users: [UserID], at now: Date, audit: [AuditEvent],
        mails: [OutgoingMail]
    ) async throws
    /// Removes the token registration of `users` (their token stays with the contract, unused).
    func deregister(_ users: [UserID], at now: Date, audit: [AuditEvent]) async throws
    /// Stores new permissions for a user.
    func setPermissions(_ permissions: Permissions, of user: UserID, audit: AuditEvent) async throws
    /// The contract's deposit accounts.
    func accounts(ofContract contract: ContractID) async throws -> [Account]
    /// Opens an account for a contract.
    func insert(_ account: Account, for contract: ContractID, audit: AuditEvent) async throws
    /// Stores new transfer data (pending). Throws `transferDuplicate` if the ID exists.
    func insert(_ transfer: CorporateTransfer, audit: AuditEvent) async throws
    func corporateTransfer(_ id: TransferID) async throws -> CorporateTransfer?
    /// The contract's transfers, newest first.
    func corporateTransfers(of contract: ContractID, status: CorporateTransferStatus?, limit: Int) async throws
        -> [CorporateTransfer]
    /// Approves a pending transfer: compare-and-set on `pending`, debit (balance permitting), credit a payee at
    /// this bank, audit — one transaction.
    func approve(_ id: TransferID, by user: UserID, at now: Date, audit: AuditEvent) async throws -> ApprovalOutcome
    /// Every token belonging to `contract`.
    func tokens(ofContract contract: ContractID) async throws -> [Token]
}
