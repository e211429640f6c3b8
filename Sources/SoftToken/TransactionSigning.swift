import Foundation
import OTP

/// Why `ichigo-token sign` could not sign a transfer, in words for the customer.
public struct SignError: Error, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The token has no OCRA suite: the bank has not set up transaction signing for it.
        case noSuite(serial: String)
        /// The stored or given suite is not a valid OCRA suite.
        case badSuite(String)
        /// The suite needs session information (S), which the software token has no source for.
        case sessionNotSupported(String)
        /// The suite needs a PIN (P) and none was given.
        case pinRequired
        /// Not a 7-digit account number.
        case invalidAccount
        /// Not a whole number of yen from 1.
        case invalidAmount
        /// The amount has too many digits for the suite: at most `maximumAmountDigits`.
        case amountTooLarge(maximumAmountDigits: Int)
        /// The suite's challenges are not numeric, or shorter than 8 digits, so no transfer can be signed with it.
        case suiteCannotSignTransfers(String)
    }
    public let kind: Kind
    public init(_ kind: Kind) { self.kind = kind }

    public func message(japanese: Bool) -> String {
        switch kind {
        case .noSuite(let serial):
            return japanese
                ? "トークン \(serial) には取引認証（OCRA）の設定がありません。銀行からの取引認証の設定が必要です。"
                : "Token \(serial) has no transaction-signing (OCRA) suite: the bank has not set up transaction signing for it."
        case .badSuite(let detail):
            return (japanese ? "取引認証（OCRA）の設定が正しくありません: " : "The transaction-signing (OCRA) suite is not valid: ")
                + detail
        case .sessionNotSupported(let suite):
            return japanese
                ? "この取引認証方式（\(suite)）はセッション情報を使うため、このアプリでは署名できません。"
                : "This transaction-signing suite (\(suite)) needs session information, which this app cannot supply."
        case .pinRequired:
            return japanese ? "暗証番号（PIN）の入力が必要です。" : "The PIN is required."
        case .invalidAccount:
            return japanese
                ? "振込先の口座番号は7桁の半角数字で入力してください。"
                : "Enter the payee's account number as 7 digits."
        case .invalidAmount:
            return japanese
                ? "振込金額は1円以上の金額を半角数字で入力してください（例: 50000 または 50,000）。"
                : "Enter the amount in yen as digits, at least 1 (e.g. 50000 or 50,000)."
        case .amountTooLarge(let digits):
            return japanese
                ? "この取引認証方式で署名できる振込金額は\(digits)桁までです。"
                : "This transaction-signing suite can sign amounts of up to \(digits) digits."
        case .suiteCannotSignTransfers(let suite):
            return japanese
                ? "この取引認証方式（\(suite)）は振込の署名に使えません（8桁以上の数字のチャレンジが必要です）。"
                : "This suite (\(suite)) cannot sign transfers: it needs numeric challenges of at least 8 digits."
        }
    }
}

/// What `ichigo-token sign` prints: the OCRA response for one transfer.
public struct TransferSignature: Sendable, Equatable, Codable {
    public var serial: String
    public var suite: String
    /// The payee's account number and the amount in yen, as signed.
    public var payeeAccount: String
    public var amount: Int
    /// The OCRA challenge built from them (`TransactionChallenge`).
    public var challenge: String
    /// The response to type into internet banking.
    public var code: String
    /// The counter used, for a suite with C.
    public var counter: UInt64?
    /// The time step used, for a suite with T.
    public var timeStep: UInt64?
}

/// Reading what the customer typed for `ichigo-token sign`.
public enum TransferInput {
    /// A payee account number: 7 ASCII digits, surrounding white space ignored.
    public static func account(from text: String) -> String? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        guard trimmed.utf8.count == 7, trimmed.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }) else { return nil }
        return trimmed
    }

    /// An amount in yen: ASCII digits, optionally grouped by commas in threes (`50,000`), from 1, without a leading
    /// zero; surrounding white space ignored.
    public static func amount(from text: String) -> Int? {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let groups = trimmed.split(separator: ",", omittingEmptySubsequences: false)
        guard let first = groups.first, (1...(groups.count == 1 ? 18 : 3)).contains(first.utf8.count),
            groups.dropFirst().allSatisfy({ $0.utf8.count == 3 })
        else { return nil }
        let digits = groups.joined()
        guard digits.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), digits.utf8.first != 0x30,
            let value = Int(digits), value >= 1
        else { return nil }
        return value
    }

    /// An amount written with commas in threes, as the screens show it: `50,000`.
    public static func grouped(_ amount: Int) -> String {
        var digits = Array(String(amount.magnitude))
        var index = digits.count - 3
        while index > 0 {
            digits.insert(",", at: index)
            index -= 3
        }
        return (amount < 0 ? "-" : "") + String(digits)
    }
}

extension TokenStore {
    /// The OCRA suite `token` signs with: `override` when given (for tests), else the one stored with it.
    /// - Throws: `SignError` when there is none, or it is not valid.
    public func signingSuite(for token: InstalledToken, override: String? = nil) throws(SignError) -> OCRASuite {
        guard let text = override ?? token.ocraSuite else { throw SignError(.noSuite(serial: token.serial)) }
        do {
            return try OCRASuite(text)
        } catch {
            throw SignError(.badSuite(error.description))
        }
    }

    /// Signs a transfer: the OCRA response of `token` to the transfer's challenge (`TransactionChallenge`).
    ///
    /// Inputs the suite names come from here: the time (T) from `now`, the counter (C) from the store, which moves
    /// on by one for every signature (the bank's server moves its own only on success, RFC 6287 §5.1), and the PIN
    /// (P) from `pin`. Suites with session information (S) are refused: the software token has no source for it.
    /// - Parameters:
    ///   - suite: an OCRA suite to use instead of the stored one (for tests).
    /// - Throws: `SignError` with a message for the customer, or `TokenStoreError`.
    public func signTransfer(
        token: InstalledToken, payeeAccount: String, amount: Int, suite override: String? = nil, pin: String? = nil,
        at now: Date = Date()
    ) throws -> TransferSignature {
        let suite = try signingSuite(for: token, override: override)
        guard suite.sessionLength == nil else { throw SignError(.sessionNotSupported(suite.text)) }
        guard suite.challengeFormat == .numeric, suite.maximumChallengeLength >= 8 else {
            throw SignError(.suiteCannotSignTransfers(suite.text))
        }
        guard suite.pinHash == nil || pin != nil else { throw SignError(.pinRequired) }
        guard let account = TransferInput.account(from: payeeAccount) else { throw SignError(.invalidAccount) }
        guard amount >= 1 else { throw SignError(.invalidAmount) }
        let question: OCRAQuestion
        do {
            question = try TransactionChallenge(payeeAccount: account, amount: amount).question(for: suite)
        } catch {
            throw SignError(.amountTooLarge(maximumAmountDigits: suite.maximumChallengeLength - 7))
        }
        let counter = suite.usesCounter ? token.ocraCounter ?? 0 : nil
        let timeStep = suite.period != nil ? try suite.timeStep(at: now) : nil
        let ocra = try self.ocra(for: token, suite: suite)
        let response = try ocra.response(
            to: question, counter: counter, pin: suite.pinHash != nil ? pin.map { .pin($0) } : nil,
            time: timeStep.map { .step($0) })
        if let counter {
            // The counter moves on before the code is shown: a code is never computed twice from one counter.
            try setOCRACounter(counter &+ 1, serial: token.serial)
        }
        return TransferSignature(
            serial: token.serial, suite: suite.text, payeeAccount: account, amount: amount,
            challenge: question.description, code: response.text, counter: counter, timeStep: timeStep)
    }
}
