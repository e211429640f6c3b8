import Foundation
import OTP

/// A row as a database driver gives it, read by column name as the few kinds of value Ichigo stores: text, 64-bit
/// integers, bytes, and NULL (`nil`). SQLite's `Row` and PostgreSQL's rows conform (in their targets), so each
/// table's mapping to a domain value below is written once for both databases. Times are stored as milliseconds
/// since 1970; enumerations by their raw values; permissions as JSON.
public protocol StoredRow {
    /// The text in `column`, `nil` for NULL; throws if there is no such column or it holds something else.
    func optionalText(_ column: String) throws -> String?
    /// The integer in `column`, `nil` for NULL.
    func optionalInteger(_ column: String) throws -> Int64?
    /// The bytes in `column`, `nil` for NULL.
    func optionalBytes(_ column: String) throws -> [UInt8]?
    /// The truth value in `column` (PostgreSQL `boolean`, SQLite 0 or 1), `nil` for NULL.
    func optionalBool(_ column: String) throws -> Bool?
}

extension StoredRow {
    func text(_ column: String) throws -> String {
        guard let value = try optionalText(column) else { throw Self.corrupt("NULL in \(column)") }
        return value
    }

    func integer(_ column: String) throws -> Int64 {
        guard let value = try optionalInteger(column) else { throw Self.corrupt("NULL in \(column)") }
        return value
    }

    func int(_ column: String) throws -> Int {
        let value = try integer(column)
        guard let int = Int(exactly: value) else { throw Self.corrupt("\(column) out of range") }
        return int
    }

    func bool(_ column: String) throws -> Bool {
        guard let value = try optionalBool(column) else { throw Self.corrupt("NULL in \(column)") }
        return value
    }

    func bytes(_ column: String) throws -> [UInt8] {
        guard let value = try optionalBytes(column) else { throw Self.corrupt("NULL in \(column)") }
        return value
    }

    func date(_ column: String) throws -> Date { Date(millis: try integer(column)) }

    func optionalDate(_ column: String) throws -> Date? { try optionalInteger(column).map(Date.init(millis:)) }

    /// A column holding the raw value of `T`.
    func value<T: RawRepresentable>(_ column: String, as _: T.Type = T.self) throws -> T where T.RawValue == String {
        let text = try text(column)
        guard let value = T(rawValue: text) else { throw Self.corrupt("\(column) \(text)") }
        return value
    }

    static func corrupt(_ detail: String) -> IchigoError { IchigoError(.corruptData, detail: "stored row: \(detail)") }
}

extension Date {
    /// A time as stored: milliseconds since 1970.
    public init(millis: Int64) { self.init(timeIntervalSince1970: Double(millis) / 1000) }
    /// This time as stored: milliseconds since 1970, rounded.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}

// MARK: One mapping per table (both databases)

extension Contract {
    /// A `contracts` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: ContractID(rawValue: try row.text("id")), kind: try row.value("kind"), name: try row.text("name"),
            usageMode: try row.value("usage_mode"),
            pinHash: try row.optionalText("pin_hash").map(PasswordHash.init(encoded:)),
            createdAt: try row.date("created_at"))
    }
}

extension User {
    /// A `users` row.
    public init(stored row: some StoredRow) throws {
        guard let loginID = LoginID(rawValue: try row.text("login_id")) else { throw Self.corruptRow("login_id") }
        self.init(
            id: UserID(rawValue: try row.text("id")), contractID: ContractID(rawValue: try row.text("contract_id")),
            loginID: loginID, name: try row.text("name"), role: try row.value("role"), email: try row.optionalText("email"),
            loginPasswordHash: try row.optionalText("login_password_hash").map(PasswordHash.init(encoded:)),
            confirmationPasswordHash: try row.optionalText("confirmation_password_hash").map(PasswordHash.init(encoded:)),
            tokenID: try row.optionalText("token_id").map(TokenID.init(rawValue:)), createdAt: try row.date("created_at"))
        passwordFailures = try row.int("password_failures")
        loginLocked = try row.optionalInteger("login_locked_at") != nil
        if let text = try row.optionalText("permissions") {
            guard let permissions = try? JSONDecoder().decode(Permissions.self, from: Data(text.utf8)) else {
                throw Self.corruptRow("permissions")
            }
            self.permissions = permissions
        }
    }

    private static func corruptRow(_ column: String) -> IchigoError {
        IchigoError(.corruptData, detail: "user row: \(column)")
    }
}

extension Token {
    /// A `tokens` row (every column; the verification hot path of SQLite reads its own short row by position).
    public init(stored row: some StoredRow) throws {
        guard let serial = SerialNumber(rawValue: try row.text("serial")) else {
            throw IchigoError(.corruptData, detail: "token row: serial")
        }
        guard let sealed = try row.optionalBytes("sealed_seed") else {
            throw IchigoError(.corruptData, detail: "token row: sealed_seed")
        }
        self.init(
            id: TokenID(rawValue: try row.text("id")), serial: serial, kind: try row.value("kind"),
            state: try row.value("state"),
            sealedSeed: SealedSeed(combined: sealed, keyVersion: try row.int("seed_key_version")),
            parameters: TOTPParameters(
                algorithm: try row.value("algorithm"), digits: try row.int("digits"), period: try row.int("period")),
            lastAcceptedStep: try row.integer("last_step"), failureCount: try row.int("failure_count"),
            driftSteps: try row.int("drift_steps"),
            contractID: try row.optionalText("contract_id").map(ContractID.init(rawValue:)),
            lockedFrom: try row.optionalText("locked_from").flatMap(TokenState.init(rawValue:)),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            lastUsedAt: try row.optionalDate("last_used_at"), ocraSuite: try row.optionalText("ocra_suite"),
            lastSignatureStep: try row.integer("ocra_last_step"))
    }
}

extension AuditRecord {
    /// An `audit_log` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            sequence: try row.integer("seq"),
            event: AuditEvent(
                at: try row.date("at"), actor: try row.text("actor"), action: try row.text("action"),
                subject: try row.text("subject"), outcome: try row.text("outcome"), reason: try row.optionalText("reason")),
            previousHash: try row.text("prev_hash"), hash: try row.text("hash"), keyVersion: try row.int("key_version"))
    }
}

extension Account {
    /// An `accounts` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: AccountID(rawValue: try row.text("id")), userID: UserID(rawValue: try row.text("user_id")),
            name: try row.text("name"), branch: try row.text("branch"), number: try row.text("number"),
            balance: try row.integer("balance"))
    }
}

extension Payee {
    /// The `payee_bank`, `payee_branch`, `payee_account` and `payee_name` columns of a transfer's row.
    public init(stored row: some StoredRow) throws {
        self.init(
            bank: try row.text("payee_bank"), branch: try row.text("payee_branch"),
            account: try row.text("payee_account"), name: try row.text("payee_name"))
    }
}

extension Transfer {
    /// A `transfers` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: TransferID(rawValue: try row.text("id")), accountID: AccountID(rawValue: try row.text("account_id")),
            payee: try Payee(stored: row), amount: try row.integer("amount"), createdAt: try row.date("created_at"))
    }
}

extension CorporateTransfer {
    /// A `corporate_transfers` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: TransferID(rawValue: try row.text("id")), contractID: ContractID(rawValue: try row.text("contract_id")),
            accountID: AccountID(rawValue: try row.text("account_id")), payee: try Payee(stored: row),
            amount: try row.integer("amount"), status: try row.value("status"),
            createdBy: UserID(rawValue: try row.text("created_by")), createdAt: try row.date("created_at"),
            approvedBy: try row.optionalText("approved_by").map(UserID.init(rawValue:)),
            approvedAt: try row.optionalDate("approved_at"))
    }
}

extension SigningChallenge {
    /// A `signing_challenges` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: ChallengeID(rawValue: try row.text("id")), userID: UserID(rawValue: try row.text("user_id")),
            tokenID: TokenID(rawValue: try row.text("token_id")), suite: try row.text("suite"),
            challenge: try row.text("challenge"), payeeAccount: try row.text("payee_account"),
            amount: try row.integer("amount"), createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), answeredAt: try row.optionalDate("answered_at"))
    }
}

extension Provisioning {
    /// A `provisionings` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            tokenID: TokenID(rawValue: try row.text("token_id")), serviceID: try row.text("service_id"),
            appUserID: try row.text("app_user_id"),
            activationPasswordHash: PasswordHash(encoded: try row.text("activation_password_hash")),
            attempts: try row.int("attempts"), expiresAt: try row.date("expires_at"),
            provisionedAt: try row.optionalDate("provisioned_at"))
    }
}

extension APIKey {
    /// An `api_keys` row: scopes as words separated by spaces.
    public init(stored row: some StoredRow) throws {
        var scopes = Set<APIScope>()
        for word in try row.text("scopes").split(separator: " ") {
            guard let scope = APIScope(rawValue: String(word)) else {
                throw IchigoError(.corruptData, detail: "api key scope \(word)")
            }
            scopes.insert(scope)
        }
        self.init(
            name: try row.text("name"), secretHash: try row.text("secret_hash"), scopes: scopes,
            createdAt: try row.date("created_at"), revokedAt: try row.optionalDate("revoked_at"))
    }
}

extension BankOperator {
    /// An `operators` row.
    public init(stored row: some StoredRow) throws {
        guard let loginID = LoginID(rawValue: try row.text("login_id")) else {
            throw IchigoError(.corruptData, detail: "operator row")
        }
        self.init(
            id: OperatorID(rawValue: try row.text("id")), loginID: loginID, name: try row.text("name"),
            passwordHash: PasswordHash(encoded: try row.text("password_hash")), createdAt: try row.date("created_at"))
        passwordFailures = try row.int("password_failures")
        locked = try row.optionalInteger("locked_at") != nil
    }
}

extension KeyVersion {
    /// A `key_versions` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            version: try row.int("version"), wrappedBy: try row.text("wrapped_by"),
            wrapped: try row.optionalBytes("wrapped"), createdAt: try row.date("created_at"),
            activeFrom: try row.date("active_from"), retiredAt: try row.optionalDate("retired_at"))
    }
}

extension IssuanceApplication {
    /// An `issuance_applications` row.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: ApplicationID(rawValue: try row.text("id")), userID: UserID(rawValue: try row.text("user_id")),
            phoneEmail: try row.text("phone_email"),
            activationPasswordHash: PasswordHash(encoded: try row.text("activation_password_hash")),
            mailPasswordHash: PasswordHash(encoded: try row.text("mail_password_hash")),
            mailPasswordExpiresAt: try row.date("mail_password_expires_at"),
            mailPasswordAttempts: try row.int("mail_password_attempts"), status: try row.value("status"),
            createdAt: try row.date("created_at"))
    }
}

extension WebSession {
    /// A `web_sessions` row (an unknown stage reads as anonymous, an unknown language as Japanese).
    public init(stored row: some StoredRow) throws {
        self.init(
            idHash: try row.text("id_hash"), userID: try row.optionalText("user_id").map(UserID.init(rawValue:)),
            stage: Stage(rawValue: try row.text("stage")) ?? .anonymous, csrfToken: try row.text("csrf_token"),
            language: Language(rawValue: try row.text("language")) ?? .ja, flash: try row.optionalText("flash"),
            data: try row.optionalText("data"), createdAt: try row.date("created_at"),
            lastSeenAt: try row.date("last_seen_at"))
    }
}

extension OutgoingMail {
    /// A `mail_outbox` row's `id`, `recipient`, `subject`, `body` and `created_at`.
    public init(stored row: some StoredRow) throws {
        self.init(
            id: try row.integer("id"), recipient: try row.text("recipient"), subject: try row.text("subject"),
            body: try row.text("body"), createdAt: try row.date("created_at"))
    }
}

extension PasskeyChallenge {
    /// A `passkey_challenges` row (an unknown purpose reads as a sign-in's).
    public init(stored row: some StoredRow) throws {
        self.init(
            challenge: try row.text("challenge"), purpose: PasskeyPurpose(rawValue: try row.text("purpose")) ?? .login,
            binding: try row.text("binding"), userID: try row.optionalText("user_id").map(UserID.init(rawValue:)),
            audience: try row.optionalText("audience"), boundDigest: try row.optionalText("bound_digest"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
    }
}

extension Passkey {
    /// A `passkeys` row: transports as words separated by commas.
    public init(stored row: some StoredRow) throws {
        self.init(
            credentialID: try row.text("credential_id"), userID: UserID(rawValue: try row.text("user_id")),
            name: try row.text("name"), publicKey: try row.bytes("public_key"), algorithm: try row.int("algorithm"),
            signCount: UInt32(clamping: try row.integer("sign_count")), aaguid: try row.text("aaguid"),
            transports: try row.text("transports").split(separator: ",").map(String.init),
            backupEligible: try row.bool("backup_eligible"), backedUp: try row.bool("backed_up"),
            attestation: try row.text("attestation"), createdAt: try row.date("created_at"),
            lastUsedAt: try row.optionalDate("last_used_at"), cloneSuspected: try row.bool("clone_suspected"))
    }
}
