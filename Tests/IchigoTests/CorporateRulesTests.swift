import Ichigo
import Testing

/// Corporate rules that live in the domain (not in the screens' controllers).
@Suite("Corporate rules")
struct CorporateRulesTests {
    @Test func transferLimitsAreTenDigitsOfYenAndRequiredForEachAccountChosen() {
        let (limits, errors) = CorporateService.parseLimits([
            "A": "0", "B": " 9999999999 ", "C": "10000000000", "D": "", "E": "-1", "F": "1,000", "G": "１２３",
            "H": "12.5", "I": "+5",
        ])
        #expect(limits == ["A": 0, "B": 9_999_999_999])
        #expect(errors == [
            "C": .invalidLimit, "D": .required, "E": .invalidLimit, "F": .invalidLimit, "G": .invalidLimit,
            "H": .invalidLimit, "I": .invalidLimit,
        ])
        #expect(CorporateService.maximumLimit == 9_999_999_999)
    }
}
