import Foundation

/// The one validator of what a person or a system gives for a transfer (振込): the retail screens (BFK001), the
/// corporate screens (HSK001) and the JSON API's signing challenge use it, so the same payee and amount are accepted
/// everywhere.
public enum TransferForm {
    /// The largest amount, in yen: ten digits, as the screens take it (and as OCRA's QN20 challenge holds with room).
    public static let maximumAmount: Int64 = 9_999_999_999
    /// The longest payee name, in characters.
    public static let maximumNameLength = 60

    /// A payee and amount as typed: bank code 4 digits, branch 3, account 7, a name of 1–60 characters, an amount of
    /// 1 to `maximumAmount` yen in ASCII digits; a name with a control character is refused. Errors by field name
    /// (`payeeBank`, `payeeBranch`, `payeeAccount`,
    /// `payeeName`, `amount`); white space around each value is ignored.
    public static func validate(
        bank: String, branch: String, account: String, name: String, amount: String
    ) -> (payee: Payee?, amount: Int64?, errors: [String: IchigoError.Code]) {
        var errors: [String: IchigoError.Code] = [:]
        func digits(_ key: String, _ raw: String, _ count: Int) -> String {
            let value = raw.trimmingCharacters(in: .whitespaces)
            if value.isEmpty {
                errors[key] = .required
            } else if value.count != count || !value.isASCIIDigits {
                errors[key] = .invalidPayeeDigits(key)
            }
            return value
        }
        let bank = digits("payeeBank", bank, 4)
        let branch = digits("payeeBranch", branch, 3)
        let account = digits("payeeAccount", account, 7)
        let name = name.trimmingCharacters(in: .whitespaces)
        if name.isEmpty {
            errors["payeeName"] = .required
        } else if name.count > maximumNameLength
            || name.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F })
        {
            errors["payeeName"] = .invalidInput
        }
        let amountText = amount.trimmingCharacters(in: .whitespaces)
        var value: Int64?
        if amountText.isEmpty {
            errors["amount"] = .required
        } else if amountText.isASCIIDigits, let parsed = Int64(amountText), isAllowed(amount: parsed) {
            value = parsed
        } else {
            errors["amount"] = .invalidAmount
        }
        let payee =
            errors.keys.contains(where: { $0.hasPrefix("payee") })
            ? nil : Payee(bank: bank, branch: branch, account: account, name: name)
        return (payee, value, errors)
    }

    /// `validate` for a payee as typed (`Payee` with the fields' text).
    public static func validate(_ payee: Payee, amount: String) -> (
        payee: Payee?, amount: Int64?, errors: [String: IchigoError.Code]
    ) {
        validate(bank: payee.bank, branch: payee.branch, account: payee.account, name: payee.name, amount: amount)
    }

    /// Whether `amount` yen may be transferred (1 to `maximumAmount`).
    public static func isAllowed(amount: Int64) -> Bool { (1...maximumAmount).contains(amount) }

    /// Whether `account` is a payee account number: 7 ASCII digits.
    public static func isAccountNumber(_ account: String) -> Bool { account.count == 7 && account.isASCIIDigits }

}
