import Foundation
import Logging
import OTP

/// A user of a contract with their current token (if any).
public struct UserWithToken: Sendable, Hashable {
    public var user: User
    public var token: Token?
    public init(user: User, token: Token?) {
        self.user = user
        self.token = token
    }
    /// The token if it is registered and live (not cancelled or revoked).
    public var liveToken: Token? { token.flatMap { $0.state.occupiesUser ? $0 : nil } }
}

/// Transfer data as typed on the creation screen, before it is validated (`TransferForm`): the payee's fields and
/// the amount as text.
public struct TransferInput: Sendable {
    public var accountID: AccountID
    public var payee: Payee
    public var amount: String

    public init(accountID: AccountID, payee: Payee, amount: String) {
        self.accountID = accountID
        self.payee = payee
        self.amount = amount
    }
}

/// The corporate flows of seeds 002 and 004: token settings (usage mode, 利用登録, 利用登録解除, self-registration),
/// permissions (権限, 限度額), transfer data and its approval, 利用停止解除 and トークンの失効.
///
/// Every operation takes the acting user as read at the start of the request, checks that they belong to the
/// contract concerned and may act, validates all input before writing, and writes through the repository
/// in one transaction with its audit trail.
public struct CorporateService: Sendable {
    public let repository: any IchigoRepository & RetailRepository & CorporateRepository
    /// The login, confirmation password and OTP checks (shared with the retail and passkey flows).
    public let credentials: CredentialService
    /// Transaction authentication (取引認証) for transfer data and approvals; `nil`: off.
    public let signing: TransactionSigning?
    let bankName: String
    public var tokens: TokenService { credentials.tokens }
    var hasher: PasswordHasher { credentials.hasher }

    public init(
        repository: any IchigoRepository & RetailRepository & CorporateRepository, credentials: CredentialService,
        signing: TransactionSigning? = nil, bankName: String
    ) {
        self.repository = repository
        self.credentials = credentials
        self.signing = signing
        self.bankName = bankName
    }

    // MARK: Reading

    /// The contract of a corporate user.
    public func contract(of user: User) async throws -> Contract {
        guard user.isCorporate, let contract = try await repository.contract(user.contractID),
            contract.kind == .corporate
        else { throw IchigoError(.contractNotFound) }
        return contract
    }

    /// Every user of the contract with their token, by login ID.
    public func members(of contract: ContractID) async throws -> [UserWithToken] {
        var result: [UserWithToken] = []
        for user in try await repository.users(of: contract) {
            let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
            result.append(UserWithToken(user: user, token: token))
        }
        return result
    }

    /// A user of `admin`'s contract, or `userNotFound` (also for a user of another contract).
    public func member(_ id: UserID, of admin: User) async throws -> User {
        guard let user = try await repository.user(id), user.contractID == admin.contractID, user.isCorporate else {
            throw IchigoError(.userNotFound)
        }
        return user
    }

    /// Whether the user should see the self-registration page after login (seed 002 §1): they have an authority
    /// that needs an OTP (or manage the contract) and no live token.
    public func needsSelfRegistration(_ user: User) async throws -> Bool {
        guard user.isCorporate else { return false }
        let hasOTPWork = user.role.managesTokens || user.permissions.authorities.contains { $0.needsOTP }
        guard hasOTPWork else { return false }
        let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
        return !(token?.state.occupiesUser ?? false)
    }

    // MARK: Checks shared by the flows

    func requireManager(_ admin: User) throws {
        guard admin.isCorporate, admin.role.managesTokens else { throw IchigoError(.forbidden) }
    }

    /// Checks an OTP typed by `user` for an OTP transaction: their token must be in use.
    /// - Throws: `tokenRequired` without a live token, `tokenLocked`, or a field error on `otp`.
    public func requireOTP(_ text: String, of user: User, at now: Date) async throws {
        let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
        switch token?.state {
        case .active?: try await credentials.verifyOTP(text, for: user, at: now)
        case .locked?: throw IchigoError(.tokenLocked)
        default: throw IchigoError(.tokenRequired)
        }
    }

    /// The signing challenge HSN002 shows for `transfer` under the signing policy, or `nil` when approval takes the
    /// plain OTP (policy off, or the approver has no token in use or stopped). Throws `signingUnsupported` if the approver's token
    /// cannot sign it.
    public func signingPrompt(for transfer: CorporateTransfer, by user: User) async throws -> SigningPrompt? {
        guard let signing = signing, signing.isRequired,
            let token = try await user.tokenID.asyncFlatMap({ try await repository.token($0) }),
            token.state == .active || token.state == .locked
        else { return nil }
        return try signing.prompt(for: token, SignedTransaction(payeeAccount: transfer.payee.account, amount: transfer.amount))
    }

    /// Checks the confirmation password and a signature (取引認証番号) by `user`'s token over `transfer` as stored.
    /// - Returns: what was signed, for the approval's audit record.
    /// - Throws: `tokenRequired` without a live token, `tokenLocked`, `signingUnsupported`, or a field error.
    func requireSignature(
        _ signature: String, of user: User, over transfer: CorporateTransfer, confirmationPassword: String,
        signing: TransactionSigning, at now: Date
    ) async throws -> String {
        let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
        var errors: [String: IchigoError.Code] = [:]
        if confirmationPassword.isEmpty { errors["confirmationPassword"] = .required }
        if signature.isEmpty {
            errors["signature"] = .required
        } else if !TransactionSigning.isWellFormed(signature, for: token.flatMap(signing.suite(of:))) {
            errors["signature"] = .invalidSignatureFormat
        }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        try await credentials.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.approve", at: now)
        guard let token, token.state == .active || token.state == .locked else { throw IchigoError(.tokenRequired) }
        guard token.state == .active else { throw IchigoError(.tokenLocked) }
        let signed = SignedTransaction(payeeAccount: transfer.payee.account, amount: transfer.amount)
        let prompt = try signing.prompt(for: token, signed)
        let result = try await signing.verify(
            signature, on: token, over: signed, action: "transfer.approve.sign", actor: actor(user), at: now)
        if case .refused(let reason) = result {
            switch reason {
            case .locked, .lockedByThisAttempt: throw IchigoError(.tokenLocked)
            case .notActive: throw IchigoError(.tokenRequired)
            default: throw IchigoError(reason.signatureErrorCode, field: "signature")
            }
        }
        return prompt.auditDescription
    }

    /// Whether `user` must type an OTP for an OTP transaction (their token is in use or stopped).
    public func hasToken(_ user: User) async throws -> Bool {
        let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
        return token?.state == .active || token?.state == .locked
    }

    func requireFields(_ fields: [String: String], otp: String? = nil) throws {
        var errors: [String: IchigoError.Code] = [:]
        for (key, value) in fields where value.isEmpty { errors[key] = .required }
        if let otp, errors["otp"] == nil, OTPCode(otp) == nil { errors["otp"] = .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
    }

    func actor(_ user: User) -> String { "user:\(user.id.rawValue)" }
}
