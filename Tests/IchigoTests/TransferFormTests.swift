import Ichigo
import Testing

/// The one transfer validator the retail and corporate screens and the JSON API share.
@Suite("Transfer form")
struct TransferFormTests {
    @Test func aValidTransferGivesThePayeeAndAmount() {
        let form = TransferForm.validate(bank: " 0001 ", branch: "123", account: "1234567", name: "ヤマダ タロウ", amount: "9999999999")
        #expect(form.errors.isEmpty)
        #expect(form.payee == Payee(bank: "0001", branch: "123", account: "1234567", name: "ヤマダ タロウ"))
        #expect(form.amount == 9_999_999_999)
    }

    @Test func eachFieldNamesItsOwnError() {
        let empty = TransferForm.validate(bank: "", branch: "", account: "", name: " ", amount: "")
        #expect(empty.errors == [
            "payeeBank": .required, "payeeBranch": .required, "payeeAccount": .required, "payeeName": .required,
            "amount": .required,
        ])
        #expect(empty.payee == nil && empty.amount == nil)
        let wrong = TransferForm.validate(
            bank: "001", branch: "12a", account: "１２３４５６７", name: String(repeating: "ア", count: 61),
            amount: "10000000000")
        #expect(wrong.errors == [
            "payeeBank": .invalidPayeeDigits("payeeBank"), "payeeBranch": .invalidPayeeDigits("payeeBranch"),
            "payeeAccount": .invalidPayeeDigits("payeeAccount"), "payeeName": .invalidInput, "amount": .invalidAmount,
        ])
        for amount in ["0", "-5", "1,000", "+1", "1.5", "１０"] {
            #expect(TransferForm.validate(bank: "0001", branch: "123", account: "1234567", name: "A", amount: amount).errors
                == ["amount": .invalidAmount], "\(amount)")
        }
    }

    @Test func aNameWithAControlCharacterIsRefused() {
        for name in ["ヤマダ\u{07}", "A\nB", "タロウ\u{7F}"] {
            #expect(TransferForm.validate(bank: "0001", branch: "123", account: "1234567", name: name, amount: "1").errors
                == ["payeeName": .invalidInput], "\(name.debugDescription)")
        }
        // The same check for a payee as typed into one value (the corporate input).
        let typed = Payee(bank: "0001", branch: "123", account: "1234567", name: "ヤマ\tダ")
        #expect(TransferForm.validate(typed, amount: "1").errors == ["payeeName": .invalidInput])
        #expect(TransferForm.validate(Payee(bank: "0001", branch: "123", account: "1234567", name: "ヤマダ"), amount: "1")
            .payee?.name == "ヤマダ")
    }

    @Test func theSigningChallengeTakesTheScreensAmounts() {
        #expect(TransferForm.isAllowed(amount: 1) && TransferForm.isAllowed(amount: TransferForm.maximumAmount))
        #expect(!TransferForm.isAllowed(amount: 0) && !TransferForm.isAllowed(amount: 10_000_000_000))
        #expect(TransferForm.isAccountNumber("0000001") && !TransferForm.isAccountNumber("123456"))
        #expect(!TransferForm.isAccountNumber("12345678") && !TransferForm.isAccountNumber("１２３４５６７"))
    }
}
