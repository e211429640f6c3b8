/// An error of Ichigo's domain. Each has a stable `code`; the web layer maps codes to HTTP statuses
/// and to messages in the user's language (`Messages`). The codes only the web layer raises (a malformed request, an
/// expired session, a wrong CSRF token, API credentials) are the web layer's (`IchigoWeb/Web/WebErrors.swift`).
///
/// The code's storage is private, so adding a case breaks no caller (the SwiftNIO style).
public struct IchigoError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable, machine-readable error code, e.g. `otp.invalid`.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let value: String
        /// A code of another layer of Ichigo (the web layer's request and session codes).
        package init(_ value: String) { self.value = value }

        /// The code's text, as it appears in JSON errors.
        public var description: String { value }

        /// Input that failed validation; `field` names which.
        public static let invalidInput = Code("request.invalid_input")
        /// The resource does not exist.
        public static let notFound = Code("request.not_found")
        /// A user ID or login ID unknown to Ichigo (reads as `otpInvalid` at verification).
        public static let userNotFound = Code("user.not_found")
        /// The login ID is taken.
        public static let loginIDTaken = Code("user.login_id_taken")
        /// The contract does not exist.
        public static let contractNotFound = Code("contract.not_found")
        /// No token with that ID or serial.
        public static let tokenNotFound = Code("token.not_found")
        /// The serial number is already in use.
        public static let serialTaken = Code("token.serial_taken")
        /// The user already has a token that is not cancelled or revoked.
        public static let tokenAlreadyAssigned = Code("token.already_assigned")
        /// The user has no token.
        public static let noToken = Code("token.none")
        /// The token's lifecycle does not allow this event in its current state.
        public static let illegalTransition = Code("token.illegal_transition")
        /// The code is wrong, already used, or the user unknown: all read the same to the outside.
        public static let otpInvalid = Code("otp.invalid")
        /// The token is locked after too many wrong codes: every user sharing it is stopped.
        public static let tokenLocked = Code("otp.locked")
        /// The token is not in use (not yet started, cancelled or revoked).
        public static let tokenNotActive = Code("otp.not_active")
        /// Stored data that cannot be decrypted or parsed (tampering or a wrong master key).
        public static let corruptData = Code("storage.corrupt")
        /// The database did not answer in time (down, overloaded, or past the request's deadline): nothing of the
        /// request was committed; the caller may retry later (HTTP 503 with `Retry-After`).
        public static let serviceUnavailable = Code("service.unavailable")
        /// The disk holding the database is full: nothing of the request was committed (HTTP 503).
        public static let storageFull = Code("storage.full")
        /// A write lost a race with another (compare-and-set failed); the caller may retry.
        public static let concurrentUpdate = Code("storage.concurrent_update")
        /// Login ID or password wrong (which one is not said).
        public static let loginFailed = Code("login.failed")
        /// Too many wrong passwords: the user's access is stopped until the bank lifts it.
        public static let loginLocked = Code("login.locked")
        /// A required field is empty.
        public static let required = Code("field.required")
        public static let invalidEmail = Code("field.invalid_email")
        public static let emailMismatch = Code("field.email_mismatch")
        public static let invalidActivationPassword = Code("field.invalid_activation_password")
        public static let activationPasswordMismatch = Code("field.activation_password_mismatch")
        public static let invalidOTPFormat = Code("field.invalid_otp")
        public static let invalidAmount = Code("field.invalid_amount")
        /// A payee's bank code (4 digits), branch number (3) or account number (7) of the wrong form.
        public static let invalidBankCode = Code("field.invalid_bank_code")
        public static let invalidBranchCode = Code("field.invalid_branch_code")
        public static let invalidAccountNumber = Code("field.invalid_account_number")

        /// The form error for a payee field (`payeeBank`, `payeeBranch`, `payeeAccount`) that is not its number of
        /// half-width digits.
        public static func invalidPayeeDigits(_ field: String) -> Code {
            switch field {
            case "payeeBank": invalidBankCode
            case "payeeBranch": invalidBranchCode
            case "payeeAccount": invalidAccountNumber
            default: invalidInput
            }
        }
        public static let wrongConfirmationPassword = Code("password.confirmation_wrong")
        public static let wrongMailPassword = Code("issuance.mail_password_wrong")
        public static let mailPasswordExpired = Code("issuance.mail_password_expired")
        public static let applicationNotFound = Code("issuance.not_found")
        public static let applicationClosed = Code("issuance.closed")
        public static let applicationVoid = Code("issuance.void")
        public static let noRegisteredEmail = Code("issuance.no_registered_email")
        public static let hardwareTokenInUse = Code("issuance.hardware_in_use")
        /// A new issuance after a cancellation must wait until the next day (Japan time).
        public static let reissueNextDay = Code("issuance.next_day")
        public static let consentRequired = Code("provision.consent_required")
        public static let provisioningNotFound = Code("provision.not_found")
        public static let provisioningExpired = Code("provision.expired")
        public static let provisioningVoid = Code("provision.void")
        public static let wrongActivationPassword = Code("provision.activation_password_wrong")
        public static let insufficientFunds = Code("transfer.insufficient_funds")
        public static let accountNotFound = Code("transfer.account_not_found")
        /// The same transfer was submitted twice; it was carried out once.
        public static let transferDuplicate = Code("transfer.duplicate")
        /// A wrong code, and the next wrong one will stop the token (残り1回). Reads as `otpInvalid` in the API.
        public static let otpLastTry = Code("otp.last_try")
        /// A wrong password, and the next wrong one will stop the login (残り1回).
        public static let loginLastTry = Code("login.last_try")
        /// A wrong confirmation password, and the next wrong password will stop the login (残り1回).
        public static let confirmationLastTry = Code("password.confirmation_last_try")
        /// A deposit account with this branch and number exists.
        public static let accountNumberTaken = Code("account.number_taken")
        /// The login is not stopped, so there is nothing to lift.
        public static let loginNotLocked = Code("login.not_locked")
        /// An API key of this name exists (revoked keys keep their names).
        public static let apiKeyNameTaken = Code("apikey.name_taken")
        /// The serial is unknown, or the token belongs to another customer, or cannot be registered now.
        public static let tokenNotRegistrable = Code("token.not_registrable")
        /// The contract confirmation PIN (ご契約先確認暗証番号) is wrong.
        public static let wrongPIN = Code("contract.pin_wrong")
        /// An OTP transaction needs a token in use (利用中) first.
        public static let tokenRequired = Code("otp.token_required")
        /// The user lacks the authority (権限) for this operation.
        public static let forbidden = Code("authority.missing")
        /// The amount is over the user's transfer limit (振込振替 限度額) for the account.
        public static let overLimit = Code("transfer.over_limit")
        /// The transfer is not awaiting approval (already approved, or unknown).
        public static let transferNotPending = Code("transfer.not_pending")
        /// The creator of a transfer cannot approve it.
        public static let selfApproval = Code("transfer.self_approval")
        /// Unlock must select every user sharing a token (利用停止解除).
        public static let partialSelection = Code("unlock.partial_selection")
        /// Nothing was selected.
        public static let nothingSelected = Code("field.nothing_selected")
        public static let invalidSerial = Code("field.invalid_serial")
        public static let invalidPIN = Code("field.invalid_pin")
        public static let invalidLimit = Code("field.invalid_limit")
        /// A PSKC file could not be imported; `detail` says where and why. Nothing was imported.
        public static let importFailed = Code("import.failed")
        /// A transaction signature (取引認証番号) is wrong, replayed, or for other transfer data.
        public static let signatureInvalid = Code("signature.invalid")
        /// A wrong signature after which one more locks the token (残り1回).
        public static let signatureLastTry = Code("signature.last_try")
        /// The user's token has no OCRA suite the server can check (it cannot sign transfers), or the transfer does not
        /// fit its suite.
        public static let signingUnsupported = Code("signature.token_unsupported")
        /// The transfer confirmed is not the one whose challenge was shown (changed in another window meanwhile).
        public static let transferChanged = Code("signature.transfer_changed")
        /// No such signing challenge (JSON API).
        public static let challengeNotFound = Code("signature.challenge_not_found")
        /// The signing challenge was answered already: each is answered once.
        public static let challengeUsed = Code("signature.challenge_used")
        /// The signing challenge expired before it was answered.
        public static let challengeExpired = Code("signature.challenge_expired")
        /// A signature is not the suite's number of half-width digits.
        public static let invalidSignatureFormat = Code("field.invalid_signature")
        /// A passkey ceremony was refused (wrong origin, used challenge, unknown credential, bad signature, …: the
        /// audit trail says which; the customer reads one message).
        public static let passkeyFailed = Code("passkey.failed")
        /// The credential is registered already (to this person or another).
        public static let passkeyTaken = Code("passkey.taken")
        /// The person holds the most passkeys the bank allows.
        public static let passkeyLimit = Code("passkey.limit")
        /// No such passkey of this person.
        public static let passkeyNotFound = Code("passkey.not_found")
        /// A passkey name longer than 30 characters or with control characters.
        public static let passkeyNameInvalid = Code("field.invalid_passkey_name")
        /// The user has a passkey and the bank's policy is `required-once-registered`: password + OTP no longer sign
        /// them in.
        public static let passkeyRequired = Code("passkey.required")
        /// The approved data changed after the passkey challenge was made (another window): nothing was carried out.
        public static let passkeyTransactionChanged = Code("passkey.transaction_changed")
    }

    /// What went wrong.
    public let code: Code
    /// The input field concerned, for validation errors.
    public let field: String?
    /// Detail for logs and operators. Never contains a secret.
    public let detail: String?
    /// Attempts left before the thing stops (e.g. a wrong activation password), when the caller may be told.
    public let triesLeft: Int?

    public init(_ code: Code, field: String? = nil, detail: String? = nil, triesLeft: Int? = nil) {
        self.code = code
        self.field = field
        self.detail = detail
        self.triesLeft = triesLeft
    }

    public var description: String {
        var text = "IchigoError(\(code)"
        if let field { text += ", field: \(field)" }
        if let detail { text += ", \(detail)" }
        return text + ")"
    }
}

/// A token state change the lifecycle does not allow.
extension IchigoError {
    static func illegal(_ event: TokenEvent, from state: TokenState) -> IchigoError {
        IchigoError(.illegalTransition, detail: "\(event.rawValue) is not allowed from \(state.rawValue)")
    }
}
