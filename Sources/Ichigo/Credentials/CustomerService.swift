import Foundation
import Logging

/// What a new user needs; passwords arrive in clear and leave as hashes.
public struct NewUser: Sendable {
    public var loginID: LoginID
    public var name: String
    public var role: UserRole
    public var email: String?
    public var loginPassword: String?
    public var confirmationPassword: String?

    public init(
        loginID: LoginID, name: String, role: UserRole = .customer, email: String? = nil, loginPassword: String? = nil,
        confirmationPassword: String? = nil
    ) {
        self.loginID = loginID
        self.name = name
        self.role = role
        self.email = email
        self.loginPassword = loginPassword
        self.confirmationPassword = confirmationPassword
    }
}

/// Validation rules for the credentials the seeds name.
///
/// One rule for the characters of every password (login, operator, confirmation): only half-width letters, digits
/// and the 32 ASCII symbols (`passwordSymbols`) — exactly the keys of the screens' software keyboard, so whatever a
/// rule allows can be typed by mouse alone, and a space or a full-width character is refused when the password is
/// set. The lengths differ; the confirmation password (seed: 半角英数字6～12桁) takes no symbols.
public enum CredentialRules {
    /// The symbols a login or operator password may hold, as the software keyboard offers them.
    public static let passwordSymbols = ##"!"#$%&'()*+,-./:;<=>?@[\]^_`{|}~"##

    /// Whether `character` is one of the software keyboard's keys: a half-width letter, digit or ASCII symbol.
    public static func isKeyboardCharacter(_ character: Character) -> Bool {
        character.isASCII && (character.isLetter || character.isNumber || passwordSymbols.contains(character))
    }

    /// 確認用パスワード (確認パスワード): 6–12 half-width letters and digits.
    public static func isValidConfirmationPassword(_ text: String) -> Bool {
        (6...12).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
    }

    /// ログインパスワード: 6–32 half-width letters, digits and symbols.
    public static func isValidLoginPassword(_ text: String) -> Bool {
        (6...32).contains(text.count) && text.allSatisfy(isKeyboardCharacter)
    }

    /// An operator's password: 10–32 half-width letters, digits and symbols.
    public static func isValidOperatorPassword(_ text: String) -> Bool {
        (10...32).contains(text.count) && text.allSatisfy(isKeyboardCharacter)
    }

    /// 利用開始パスワード: 4–8 digits.
    public static func isValidActivationPassword(_ text: String) -> Bool {
        (4...8).contains(text.count) && text.isASCIIDigits
    }

    /// A practical e-mail address check: half-width, one `@`, a dotted domain, no spaces.
    public static func isValidEmail(_ text: String) -> Bool {
        guard text.count <= 254, text.allSatisfy({ $0.isASCII && !$0.isWhitespace }) else { return false }
        let parts = text.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return false }
        let local = parts[0]
        let domain = parts[1]
        let localAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+/=?^_`{|}~.-")
        guard (1...64).contains(local.count), local.allSatisfy(localAllowed.contains) else { return false }
        let labels = domain.split(separator: ".", omittingEmptySubsequences: false)
        guard labels.count >= 2 else { return false }
        let labelAllowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-")
        return labels.allSatisfy { label in
            (1...63).contains(label.count) && label.allSatisfy(labelAllowed.contains) && label.first != "-"
                && label.last != "-"
        }
    }
}

/// Creates contracts and users.
public struct CustomerService: Sendable {
    public let repository: any IchigoRepository
    public let hasher: PasswordHasher

    public init(repository: any IchigoRepository, hasher: PasswordHasher) {
        self.repository = repository
        self.hasher = hasher
    }

    /// Records that `actor` (an API key) read `subject`'s data: reads of customers' data are audited like changes.
    public func recordRead(_ action: String, of subject: String, by actor: String, at now: Date) async throws {
        try await repository.append(AuditEvent(at: now, actor: actor, action: action, subject: subject, outcome: "ok"))
    }

    /// Creates a retail customer: a retail contract with one user.
    public func createRetailCustomer(_ new: NewUser, actor: String, at now: Date) async throws -> User {
        // A retail contract has customers only: a corporate role here would be a customer with admin powers.
        guard new.role == .customer else {
            throw IchigoError(.invalidInput, field: "role", detail: "a retail customer's role is customer")
        }
        let contract = Contract(id: .random(), kind: .retail, name: new.name, createdAt: now)
        // Validate before writing anything, so bad input changes nothing.
        let user = try makeUser(new, contract: contract.id, at: now)
        try await repository.insert(
            contract, with: user,
            audit: [
                AuditEvent(
                    at: now, actor: actor, action: "contract.create", subject: contract.id.rawValue, outcome: "ok",
                    reason: "retail"),
                userCreated(user, actor: actor, at: now),
            ])
        return user
    }

    /// Creates a corporate contract with its confirmation PIN (ご契約先確認暗証番号).
    public func createCorporateContract(
        name: String, usageMode: TokenUsageMode, pin: String, actor: String, at now: Date
    ) async throws -> Contract {
        guard !name.isEmpty, name.unicodeScalars.count <= 100 else { throw IchigoError(.invalidInput, field: "name") }
        guard (4...8).contains(pin.count), pin.isASCIIDigits else {
            throw IchigoError(.invalidInput, field: "pin")
        }
        let contract = Contract(
            id: .random(), kind: .corporate, name: name, usageMode: usageMode, pinHash: try hasher.hash(pin),
            createdAt: now)
        try await repository.insert(
            contract,
            audit: AuditEvent(
                at: now, actor: actor, action: "contract.create", subject: contract.id.rawValue, outcome: "ok",
                reason: "corporate"))
        return contract
    }

    /// Adds a user to a corporate contract.
    public func addUser(_ new: NewUser, to contractID: ContractID, actor: String, at now: Date) async throws -> User {
        guard let contract = try await repository.contract(contractID) else { throw IchigoError(.contractNotFound) }
        guard contract.kind == .corporate, new.role != .customer else {
            throw IchigoError(
                .invalidInput, field: "role", detail: "corporate users are master, administrator or ordinary")
        }
        let user = try makeUser(new, contract: contractID, at: now)
        try await insert(user, actor: actor, at: now)
        return user
    }

    private func makeUser(_ new: NewUser, contract: ContractID, at now: Date) throws -> User {
        guard !new.name.isEmpty, new.name.unicodeScalars.count <= 100 else { throw IchigoError(.invalidInput, field: "name") }
        if let email = new.email, !CredentialRules.isValidEmail(email) {
            throw IchigoError(.invalidInput, field: "email")
        }
        if let password = new.loginPassword, !CredentialRules.isValidLoginPassword(password) {
            throw IchigoError(.invalidInput, field: "loginPassword")
        }
        if let password = new.confirmationPassword, !CredentialRules.isValidConfirmationPassword(password) {
            throw IchigoError(.invalidInput, field: "confirmationPassword")
        }
        return User(
            id: .random(), contractID: contract, loginID: new.loginID, name: new.name, role: new.role, email: new.email,
            loginPasswordHash: try new.loginPassword.map(hasher.hash),
            confirmationPasswordHash: try new.confirmationPassword.map(hasher.hash), createdAt: now)
    }

    private func insert(_ user: User, actor: String, at now: Date) async throws {
        try await repository.insert(user, audit: userCreated(user, actor: actor, at: now))
    }

    private func userCreated(_ user: User, actor: String, at now: Date) -> AuditEvent {
        AuditEvent(
            at: now, actor: actor, action: "user.create", subject: user.id.rawValue, outcome: "ok",
            reason: "login=\(user.loginID.rawValue) role=\(user.role.rawValue)")
    }
}

/// Reads the whole audit trail and checks its chain.
public struct AuditVerifier: Sendable {
    public let repository: any IchigoRepository
    public let chain: AuditChain

    public init(repository: any IchigoRepository, chain: AuditChain) {
        self.repository = repository
        self.chain = chain
    }

    /// The result of a check.
    public struct Report: Sendable {
        public var recordCount: Int
        public var breaks: [AuditChain.Break]
        /// How many signed heads and checkpoints were checked against the trail.
        public var anchorsChecked = 0
        /// The last record: what a new checkpoint would sign.
        public var last: (sequence: Int64, hash: String)?
        public var isIntact: Bool { breaks.isEmpty }
    }

    /// Walks the trail in pages and reports every break: within the chain (an edited, inserted or deleted row)
    /// and against `anchors` — signed heads and checkpoints kept outside the database — which show the newest
    /// records deleted (the trail ends before an anchor) or rewritten (a different hash at an anchor).
    public func verify(pageSize: Int = 10_000, anchors: [AuditHead] = []) async throws -> Report {
        var previous: (sequence: Int64, hash: String)? = nil
        var count = 0
        var breaks: [AuditChain.Break] = []
        var next: Int64 = 1
        let wanted = Set(anchors.map(\.sequence))
        var seen: [Int64: String] = [:]
        while true {
            let page = try await repository.auditRecords(from: next, limit: pageSize)
            if page.isEmpty { break }
            breaks += chain.verify(page, after: previous)
            for record in page where wanted.contains(record.sequence) { seen[record.sequence] = record.hash }
            count += page.count
            previous = (page[page.count - 1].sequence, page[page.count - 1].hash)
            next = page[page.count - 1].sequence + 1
        }
        let formatter = ISO8601DateFormatter()
        for anchor in anchors.sorted(by: { $0.sequence < $1.sequence }) {
            let signed = formatter.string(from: anchor.at)
            guard chain.isAuthentic(anchor) else {
                breaks.append(
                    .init(sequence: anchor.sequence, problem: "a head or checkpoint whose signature does not verify"))
                continue
            }
            if let hash = seen[anchor.sequence] {
                if !constantTimeEqual(hash, anchor.hash) {
                    breaks.append(
                        .init(
                            sequence: anchor.sequence,
                            problem: "differs from the checkpoint signed \(signed): the trail was rewritten from here"))
                }
            } else {
                let end = previous?.sequence ?? 0
                breaks.append(
                    .init(
                        sequence: anchor.sequence,
                        problem:
                            "missing: the trail ends at record \(end) but was signed up to record \(anchor.sequence) at \(signed) — the newest records were deleted"
                    ))
            }
        }
        return Report(recordCount: count, breaks: breaks, anchorsChecked: anchors.count, last: previous)
    }
}
