/// The OCRA challenge that binds a transfer's code to its payee account and amount ("sign" mode).
///
/// Malware that swaps the payee or the amount after the customer computed a code gets a code for another
/// challenge, which the server refuses. The server and `ichigo-token sign` build the challenge from the same two
/// values with this one function, so they cannot drift apart.
///
/// **The challenge** is the amount in yen in decimal (no leading zeros, no separators) followed by the payee's
/// 7-digit account number (口座番号), as one `QN` numeric challenge:
///
///     ¥50,000 to account 1234567  →  "50000" + "1234567"  =  "500001234567"
///
/// The amount comes first on purpose. A numeric challenge is read as a number (RFC 6287 Appendix A hashes its
/// hexadecimal value), so leading zeros vanish; with the account first, account 0000012 with ¥3,500 and account
/// 0000123 with ¥500 would both be the number 123500 and share every code. Amount first, the number is
/// `amount × 10^7 + account` with `amount ≥ 1` and `account < 10^7`: different transfers are always different
/// numbers.
///
/// The challenge has `7 + digits(amount)` digits and must fit the suite's `QNxx` (a `QN08` suite allows ¥1–¥9
/// only; `QN20` allows up to ¥9,999,999,999,999). The bank code and branch are not part of it: a suite that should
/// bind them needs another challenge layout.
public struct TransactionChallenge: Sendable, Hashable {
    /// The payee's account number: exactly 7 ASCII digits.
    public let payeeAccount: String
    /// The amount in yen, at least 1.
    public let amount: Int

    /// - Throws: `.invalidTransaction` for an account that is not 7 ASCII digits or an amount below 1 yen.
    public init(payeeAccount: String, amount: Int) throws(OCRAError) {
        let bytes = Array(payeeAccount.utf8)
        guard bytes.count == 7, bytes.allSatisfy(OCRASuite.isDigit) else {
            throw OCRAError(.invalidTransaction, "the payee account number is 7 digits 0-9")
        }
        guard amount >= 1 else { throw OCRAError(.invalidTransaction, "the amount is at least 1 yen") }
        self.payeeAccount = payeeAccount
        self.amount = amount
    }

    /// The challenge text: amount in decimal, then the 7-digit account.
    public var challenge: String { String(amount) + payeeAccount }

    /// The question for `suite`.
    /// - Throws: `.transactionDoesNotFitSuite` if the suite's challenges are not numeric (`QN`) or shorter than
    ///   the challenge.
    public func question(for suite: OCRASuite) throws(OCRAError) -> OCRAQuestion {
        guard suite.challengeFormat == .numeric else {
            throw OCRAError(
                .transactionDoesNotFitSuite,
                "transaction challenges are numeric; \(suite.text) asks Q\(suite.challengeFormat.rawValue)")
        }
        let text = challenge
        guard text.utf8.count <= suite.maximumChallengeLength else {
            throw OCRAError(
                .transactionDoesNotFitSuite,
                "the challenge for this transfer has \(text.utf8.count) digits; \(suite.text) allows up to "
                    + "\(suite.maximumChallengeLength) (7 for the account, the rest for the amount)")
        }
        return OCRAQuestion(text)
    }
}
