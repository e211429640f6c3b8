import Foundation
import Logging
import OTP

/// The texts of the corporate mails.
enum CorporateMails {
    static func registered(bank: String, name: String, serial: SerialNumber, at now: Date) -> (String, String) {
        ("【\(bank)】利用開始登録完了のご案内", """
        \(name) 様

        ワンタイムパスワードの利用開始登録を受け付けました。
        登録されたトークンのシリアル番号: \(serial.rawValue)
        次回のログインから、ログインID・ログインパスワードに加えてワンタイムパスワードの入力が必要になります。

        このメールにお心当たりのない場合は、お手数ですがご契約先の管理者または当行までご連絡ください。

        送信日時: \(RetailMails.dateTime(now))
        \(bank)
        """)
    }
}

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

/// Transfer data as typed on the creation screen, before it is validated.
public struct TransferInput: Sendable {
    public var accountID: String
    public var payeeBank: String
    public var payeeBranch: String
    public var payeeAccount: String
    public var payeeName: String
    public var amount: String

    public init(
        accountID: String, payeeBank: String, payeeBranch: String, payeeAccount: String, payeeName: String,
        amount: String
    ) {
        self.accountID = accountID
        self.payeeBank = payeeBank
        self.payeeBranch = payeeBranch
        self.payeeAccount = payeeAccount
        self.payeeName = payeeName
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
    public let retail: RetailService
    public var tokens: TokenService { retail.tokens }
    var hasher: PasswordHasher { retail.hasher }
    var bankName: String { retail.bankName }

    public init(repository: any IchigoRepository & RetailRepository & CorporateRepository, retail: RetailService) {
        self.repository = repository
        self.retail = retail
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

    private func requireManager(_ admin: User) throws {
        guard admin.isCorporate, admin.role.managesTokens else { throw IchigoError(.forbidden) }
    }

    /// Checks an OTP typed by `user` for an OTP transaction: their token must be in use.
    /// - Throws: `tokenRequired` without a live token, `tokenLocked`, or a field error on `otp`.
    public func requireOTP(_ text: String, of user: User, at now: Date) async throws {
        let token = try await user.tokenID.asyncFlatMap { try await repository.token($0) }
        switch token?.state {
        case .active?: try await retail.verifyOTP(text, for: user, at: now)
        case .locked?: throw IchigoError(.tokenLocked)
        default: throw IchigoError(.tokenRequired)
        }
    }

    /// The signing challenge HSN002 shows for `transfer` under the signing policy, or `nil` when approval takes the
    /// plain OTP (policy off, or the approver has no token in use or stopped). Throws `signingUnsupported` if the approver's token
    /// cannot sign it.
    public func signingPrompt(for transfer: CorporateTransfer, by user: User) async throws -> SigningPrompt? {
        guard let signing = retail.signing, signing.isRequired,
            let token = try await user.tokenID.asyncFlatMap({ try await repository.token($0) }),
            token.state == .active || token.state == .locked
        else { return nil }
        return try signing.prompt(for: token, SignedTransaction(payeeAccount: transfer.payeeAccount, amount: transfer.amount))
    }

    /// Checks the confirmation password and a signature (取引認証番号) by `user`'s token over `transfer` as stored.
    /// - Returns: what was signed, for the approval's audit record.
    /// - Throws: `tokenRequired` without a live token, `tokenLocked`, `signingUnsupported`, or a field error.
    private func requireSignature(
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
        try await retail.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.approve", at: now)
        guard let token, token.state == .active || token.state == .locked else { throw IchigoError(.tokenRequired) }
        guard token.state == .active else { throw IchigoError(.tokenLocked) }
        let signed = SignedTransaction(payeeAccount: transfer.payeeAccount, amount: transfer.amount)
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

    private func requireFields(_ fields: [String: String], otp: String? = nil) throws {
        var errors: [String: IchigoError.Code] = [:]
        for (key, value) in fields where value.isEmpty { errors[key] = .required }
        if let otp, errors["otp"] == nil, OTPCode(otp) == nil { errors["otp"] = .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
    }

    private func actor(_ user: User) -> String { "user:\(user.id.rawValue)" }

    // MARK: Usage mode (利用形態)

    /// Changes the contract's usage mode; every token registration of the contract is removed with it.
    public func changeUsageMode(
        to mode: TokenUsageMode, by admin: User, confirmationPassword: String, at now: Date
    ) async throws -> [UserID] {
        try requireManager(admin)
        try requireFields(["confirmationPassword": confirmationPassword])
        let contract = try await contract(of: admin)
        try await retail.checkConfirmationPassword(confirmationPassword, of: admin, action: "contract.usage_mode", at: now)
        guard contract.usageMode != mode else { return [] }
        return try await repository.changeUsageMode(
            of: contract.id, to: mode, at: now,
            audit: AuditEvent(
                at: now, actor: actor(admin), action: "contract.usage_mode", subject: contract.id.rawValue,
                outcome: "ok", reason: "\(contract.usageMode.rawValue)->\(mode.rawValue); every registration removed"))
    }

    // MARK: Token registration (利用登録)

    /// 利用登録 by a master user or administrator: serial, the token's current OTP and the contract PIN.
    ///
    /// In shared mode the token is registered for every user of the contract; in individual mode for the chosen
    /// users (several users may be given one serial). A user who held another token has it replaced.
    /// - Returns: the registered token.
    public func registerToken(
        serial serialText: String, code: String, pin: String, for chosen: [UserID], by admin: User, at now: Date
    ) async throws -> Token {
        try requireManager(admin)
        let contract = try await contract(of: admin)
        var errors: [String: IchigoError.Code] = [:]
        let serial = SerialNumber(rawValue: serialText.trimmingCharacters(in: .whitespaces))
        if serialText.isEmpty { errors["serial"] = .required } else if serial == nil { errors["serial"] = .invalidSerial }
        if code.isEmpty { errors["otp"] = .required } else if OTPCode(code) == nil { errors["otp"] = .invalidOTPFormat }
        if pin.isEmpty {
            errors["pin"] = .required
        } else if !(4...8).contains(pin.count) || !pin.allSatisfy({ $0.isASCII && $0.isNumber }) {
            errors["pin"] = .invalidPIN
        }
        let members = try await repository.users(of: contract.id)
        let targets: [User]
        if contract.usageMode == .shared {
            targets = members
        } else {
            targets = members.filter { chosen.contains($0.id) }
            if targets.isEmpty || targets.count != Set(chosen).count { errors["users"] = .nothingSelected }
        }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        guard let pinHash = contract.pinHash, hasher.verify(pin, against: pinHash) else {
            // Wrong PINs count like wrong passwords: five stop the administrator's login.
            try await retail.countPasswordFailure(
                of: admin,
                AuditEvent(
                    at: now, actor: actor(admin), action: "token.register", subject: contract.id.rawValue,
                    outcome: "refused", reason: "wrong_pin"),
                at: now)
            throw IchigoError(.wrongPIN, field: "pin")
        }
        return try await register(serial!, code: code, contract: contract, targets: targets, by: admin, at: now)
    }

    /// Self-registration at first use (seed 002 §1): serial and OTP → 登録; a completion mail is sent.
    public func selfRegister(serial serialText: String, code: String, by user: User, at now: Date) async throws -> Token {
        guard try await needsSelfRegistration(user) else { throw IchigoError(.illegalTransition) }
        let contract = try await contract(of: user)
        var errors: [String: IchigoError.Code] = [:]
        let serial = SerialNumber(rawValue: serialText.trimmingCharacters(in: .whitespaces))
        if serialText.isEmpty { errors["serial"] = .required } else if serial == nil { errors["serial"] = .invalidSerial }
        if code.isEmpty { errors["otp"] = .required } else if OTPCode(code) == nil { errors["otp"] = .invalidOTPFormat }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        let targets = contract.usageMode == .shared ? try await repository.users(of: contract.id) : [user]
        return try await register(serial!, code: code, contract: contract, targets: targets, by: user, at: now)
    }

    private func register(
        _ serial: SerialNumber, code: String, contract: Contract, targets: [User], by actingUser: User, at now: Date
    ) async throws -> Token {
        guard let token = try await repository.token(serial: serial), Self.isRegistrable(token, for: contract) else {
            try await repository.append(
                AuditEvent(
                    at: now, actor: actor(actingUser), action: "token.register", subject: serial.rawValue,
                    outcome: "refused", reason: "not_registrable"))
            throw IchigoError(.tokenNotRegistrable, field: "serial")
        }
        // The token's current code proves the registering person holds it.
        let result = try await tokens.verify(
            OTPCode(code)!, onToken: token, action: "token.register", actor: actor(actingUser), at: now)
        if case .refused(let reason) = result { throw IchigoError(reason.errorCode, field: "otp") }
        let mails = targets.compactMap { user -> OutgoingMail? in
            guard let email = user.email else { return nil }
            let (subject, body) = CorporateMails.registered(bank: bankName, name: user.name, serial: serial, at: now)
            return OutgoingMail(recipient: email, subject: subject, body: body, createdAt: now)
        }
        try await repository.register(
            token.id, to: contract.id, for: targets.map(\.id), at: now,
            audit: targets.map {
                AuditEvent(
                    at: now, actor: actor(actingUser), action: "token.register", subject: serial.rawValue,
                    outcome: "ok",
                    reason: "user=\($0.id.rawValue) replaced=\($0.tokenID.map { $0 == token.id ? "none" : $0.rawValue } ?? "none")")
            },
            mails: mails)
        retail.metrics.mailQueued(mails.count)
        return try await repository.token(token.id) ?? token
    }

    /// Whether `token` may be registered for a user of `contract`: an unassigned hardware token from the bank's
    /// inventory, or a token that already belongs to this contract; never cancelled, revoked or stopped.
    public static func isRegistrable(_ token: Token, for contract: Contract) -> Bool {
        switch token.state {
        case .issued, .active: break
        case .awaitingAppSetup, .locked, .cancelled, .revoked: return false
        }
        if let owner = token.contractID { return owner == contract.id }
        return token.kind == .hardware && token.state == .issued
    }

    /// 利用登録解除: removes the registration of the chosen users.
    public func deregister(_ chosen: [UserID], by admin: User, confirmationPassword: String, at now: Date) async throws {
        try requireManager(admin)
        if chosen.isEmpty { throw ValidationErrors(fields: ["users": .nothingSelected]) }
        try requireFields(["confirmationPassword": confirmationPassword])
        var users: [User] = []
        for id in Set(chosen) { users.append(try await member(id, of: admin)) }
        try await retail.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.deregister", at: now)
        try await repository.deregister(
            users.map(\.id), at: now,
            audit: users.map {
                AuditEvent(
                    at: now, actor: actor(admin), action: "token.deregister", subject: $0.id.rawValue, outcome: "ok",
                    reason: "token=\($0.tokenID?.rawValue ?? "none")")
            })
    }

    // MARK: Permissions (利用者変更)

    /// 振込限度額: a whole number of yen from 0 to 9,999,999,999 (ten digits, as HRK005 takes it).
    public static let maximumLimit: Int64 = 9_999_999_999

    /// The limits typed for the accounts a user may use (HRK005), by account ID: digits only (no sign, no
    /// separators), 0 to `maximumLimit`, required for each account chosen. Errors are by account ID.
    public static func parseLimits(_ typed: [String: String]) -> (limits: [String: Int64], errors: [String: IchigoError.Code]) {
        var limits: [String: Int64] = [:]
        var errors: [String: IchigoError.Code] = [:]
        for (account, raw) in typed {
            let text = raw.trimmingCharacters(in: .whitespaces)
            if text.isEmpty {
                errors[account] = .required
            } else if text.allSatisfy({ $0.isASCII && $0.isNumber }), let limit = Int64(text), limit <= maximumLimit {
                limits[account] = limit
            } else {
                errors[account] = .invalidLimit
            }
        }
        return (limits, errors)
    }

    /// Stores new permissions for a user of the contract, confirmed with the administrator's confirmation
    /// password and OTP. They take effect at the user's next login.
    public func updatePermissions(
        of targetID: UserID, to permissions: Permissions, by admin: User, confirmationPassword: String, code: String,
        at now: Date
    ) async throws {
        try await updatePermissions(
            of: targetID, to: permissions, by: admin,
            proof: .codes(confirmationPassword: confirmationPassword, code: code), at: now)
    }

    /// 権限変更 with either proof: the confirmation password and OTP, or a passkey whose challenge was made for this
    /// change (the user and the exact authorities and limits).
    public func updatePermissions(
        of targetID: UserID, to permissions: Permissions, by admin: User, proof: ApprovalProof, at now: Date
    ) async throws {
        try requireManager(admin)
        let target = try await member(targetID, of: admin)
        let accounts = Set(try await repository.accounts(ofContract: admin.contractID).map(\.id))
        guard permissions.accountLimits.keys.allSatisfy(accounts.contains),
            permissions.accountLimits.values.allSatisfy({ (0...Self.maximumLimit).contains($0) })
        else { throw IchigoError(.invalidInput, field: "accounts") }
        var approvedWith = ""
        switch proof {
        case .codes(let confirmationPassword, let code):
            try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
            try await retail.checkConfirmationPassword(confirmationPassword, of: admin, action: "user.permissions", at: now)
            try await requireOTP(code, of: admin, at: now)
        case .passkey(let assertion, let binding, let passkeys):
            let passkey = try await passkeys.approve(
                assertion, by: admin, subject: .permissions(of: target.id, permissions), action: "user.permissions.passkey",
                binding: binding, at: now)
            approvedWith = " approved_with=passkey credential=\(passkey.credentialID.prefix(16))"
        }
        let described = permissions.authorities.sorted().map(\.rawValue).joined(separator: ",")
        let limits = permissions.accountLimits.sorted { $0.key < $1.key }.map { "\($0.key):\($0.value)" }
            .joined(separator: ",")
        try await repository.setPermissions(
            permissions, of: target.id,
            audit: AuditEvent(
                at: now, actor: actor(admin), action: "user.permissions", subject: target.id.rawValue, outcome: "ok",
                reason: "authorities=[\(described)] limits=[\(limits)]" + approvedWith))
    }

    // MARK: Transfers (振込振替)

    /// Validates transfer data typed by a user with 振込振替 authority; returns the transfer (not yet stored) or
    /// the field errors.
    public func validateTransfer(_ input: TransferInput, by user: User, grants: Permissions, at now: Date) async throws
        -> CorporateTransfer
    {
        guard user.isCorporate, grants.authorities.contains(.transfer) else { throw IchigoError(.forbidden) }
        let accounts = try await repository.accounts(ofContract: user.contractID)
        let account = accounts.first { $0.id == input.accountID }
        let limit = grants.limit(for: input.accountID)
        let form = TransferForm.validate(
            bank: input.payeeBank, branch: input.payeeBranch, account: input.payeeAccount, name: input.payeeName,
            amount: input.amount)
        var errors = form.errors
        if account == nil || limit == nil { errors["account"] = .required }
        if let amount = form.amount, let limit, amount > limit { errors["amount"] = .overLimit }
        if !errors.isEmpty { throw ValidationErrors(fields: errors) }
        guard let payee = form.payee, let amount = form.amount else { throw ValidationErrors(fields: errors) }
        return CorporateTransfer(
            id: CorporateTransfer.newID(), contractID: user.contractID, accountID: input.accountID,
            payeeBank: payee.bank, payeeBranch: payee.branch, payeeAccount: payee.account, payeeName: payee.name,
            amount: amount, createdBy: user.id, createdAt: now)
    }

    /// Stores validated transfer data (振込振替データ作成), confirmed with the confirmation password.
    public func createTransfer(
        _ transfer: CorporateTransfer, by user: User, grants: Permissions, confirmationPassword: String, at now: Date
    ) async throws {
        guard transfer.createdBy == user.id, transfer.contractID == user.contractID,
            grants.authorities.contains(.transfer), let limit = grants.limit(for: transfer.accountID),
            transfer.amount <= limit
        else { throw IchigoError(.forbidden) }
        try requireFields(["confirmationPassword": confirmationPassword])
        try await retail.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.create", at: now)
        try await repository.insert(
            transfer,
            audit: AuditEvent(
                at: now, actor: actor(user), action: "transfer.create", subject: transfer.id, outcome: "ok",
                reason: transfer.auditDescription))
    }

    /// 承認実行: the confirmation password and an OTP; the approver needs the approval authority and a limit
    /// covering the amount for the account, and may not approve their own data. Money moves once.
    public func approve(
        _ id: String, by user: User, grants: Permissions, confirmationPassword: String, code: String, at now: Date
    ) async throws {
        try await approve(id, by: user, grants: grants, proof: .codes(confirmationPassword: confirmationPassword, code: code), at: now)
    }

    /// 承認実行 with either proof: the confirmation password and OTP (or signature), or a passkey whose challenge was
    /// made for this transfer data as stored (パスキーで承認; the audit row names the passkey).
    public func approve(_ id: String, by user: User, grants: Permissions, proof: ApprovalProof, at now: Date) async throws {
        guard user.isCorporate, grants.authorities.contains(.transferApproval) else { throw IchigoError(.forbidden) }
        guard let transfer = try await repository.corporateTransfer(id), transfer.contractID == user.contractID else {
            throw IchigoError(.transferNotPending)
        }
        guard transfer.status == .pending else { throw IchigoError(.transferNotPending) }
        guard transfer.createdBy != user.id else { throw IchigoError(.selfApproval) }
        guard let limit = grants.limit(for: transfer.accountID), transfer.amount <= limit else {
            throw IchigoError(.overLimit)
        }
        var signed = ""
        if case .passkey(let assertion, let binding, let passkeys) = proof {
            let passkey = try await passkeys.approve(
                assertion, by: user, subject: .corporateTransfer(transfer), action: "transfer.approve.passkey",
                binding: binding, at: now)
            signed = "approved_with=passkey credential=\(passkey.credentialID.prefix(16))"
        } else if case .codes(let confirmationPassword, let code) = proof, let signing = retail.signing, signing.isRequired {
            // 取引認証: the signature is over the payee account and amount of the transfer data as stored.
            signed = try await requireSignature(
                code, of: user, over: transfer, confirmationPassword: confirmationPassword, signing: signing, at: now)
        } else if case .codes(let confirmationPassword, let code) = proof {
            try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
            try await retail.checkConfirmationPassword(confirmationPassword, of: user, action: "transfer.approve", at: now)
            try await requireOTP(code, of: user, at: now)
        }
        let outcome = try await repository.approve(
            id, by: user.id, at: now,
            audit: AuditEvent(
                at: now, actor: actor(user), action: "transfer.approve", subject: id, outcome: "ok",
                reason: transfer.auditDescription
                    + (signed.isEmpty ? "" : (signed.hasPrefix("approved_with") ? " " : " signed ") + signed)))
        switch outcome {
        case .approved: return
        case .notPending: throw IchigoError(.transferNotPending)
        case .insufficientFunds: throw IchigoError(.insufficientFunds)
        }
    }

    // MARK: 利用停止解除 and 失効

    /// Users of the contract whose token is stopped (locked), for the 利用停止解除一覧.
    public func stoppedMembers(of admin: User) async throws -> [UserWithToken] {
        try requireManager(admin)
        return try await members(of: admin.contractID).filter { $0.token?.state == .locked }
    }

    /// The users who must be selected with `chosen`: everyone sharing a token with one of them.
    public static func sharingClosure(of chosen: Set<UserID>, in members: [UserWithToken]) -> Set<UserID> {
        let tokens = Set(members.filter { chosen.contains($0.user.id) }.compactMap(\.token?.id))
        return chosen.union(members.filter { $0.token.map { tokens.contains($0.id) } ?? false }.map(\.user.id))
    }

    /// 利用停止解除: the selection must include every user sharing each selected token (the page selects them
    /// automatically; the server refuses a partial selection). Confirmed with the confirmation password.
    /// - Returns: the tokens unlocked.
    public func unlock(_ chosen: [UserID], by admin: User, confirmationPassword: String, at now: Date) async throws
        -> [Token]
    {
        let stopped = try await stoppedMembers(of: admin)
        let selection = Set(chosen)
        if selection.isEmpty { throw ValidationErrors(fields: ["users": .nothingSelected]) }
        guard selection.isSubset(of: Set(stopped.map(\.user.id))) else { throw IchigoError(.illegalTransition) }
        guard Self.sharingClosure(of: selection, in: try await members(of: admin.contractID)) == selection else {
            throw ValidationErrors(fields: ["users": .partialSelection])
        }
        try requireFields(["confirmationPassword": confirmationPassword])
        try await retail.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.unlock", at: now)
        var unlocked: [Token] = []
        var seen = Set<TokenID>()
        for member in stopped where selection.contains(member.user.id) {
            guard let token = member.token, seen.insert(token.id).inserted else { continue }
            unlocked.append(try await tokens.apply(.unlock, to: token, actor: actor(admin), at: now))
        }
        return unlocked
    }

    /// トークンの失効: revokes the chosen user's token (and so every sharer's), confirmed with the administrator's
    /// confirmation password and OTP. A revoked token never verifies again.
    public func revoke(
        tokenOf targetID: UserID, by admin: User, confirmationPassword: String, code: String, at now: Date
    ) async throws -> Token {
        try requireManager(admin)
        let target = try await member(targetID, of: admin)
        guard let token = try await target.tokenID.asyncFlatMap({ try await repository.token($0) }),
            token.state.occupiesUser
        else { throw IchigoError(.noToken) }
        try requireFields(["confirmationPassword": confirmationPassword, "otp": code], otp: code)
        try await retail.checkConfirmationPassword(confirmationPassword, of: admin, action: "token.revoke", at: now)
        try await requireOTP(code, of: admin, at: now)
        // Re-read: the OTP check may have been the admin's own (shared) token.
        guard let current = try await repository.token(token.id) else { throw IchigoError(.tokenNotFound) }
        return try await tokens.apply(.revoke, to: current, actor: actor(admin), at: now)
    }
}
