import Foundation
import OTP
import Testing

/// Agreement with an independent implementation: the pip package `oath`, whose responses to 3,000 random OCRA
/// cases `scripts/make-ocra-vectors` wrote to `Fixtures/OCRA/vectors.json` (e2e/test_ocra_vectors.py proves the
/// file is what oath writes). The script's docstring lists what is left out and why (where oath departs from the
/// RFC); OCRATests covers those parts.
@Suite("OCRA agreement with oath")
struct OCRAAgreementTests {
    struct Fixture: Decodable {
        struct Transaction: Decodable {
            var account: String
            var amount: Int
        }
        struct Case: Decodable {
            var suite: String
            var key: String
            var counter: String?
            var question: [String]
            var pin: String?
            var session: String?
            var time: Int64?
            var timeStep: String?
            var transaction: Transaction?
            var response: String
        }
        var cases: [Case]
    }

    static func load() throws -> Fixture {
        let url = try #require(
            Bundle.module.url(forResource: "vectors", withExtension: "json", subdirectory: "Fixtures/OCRA"))
        return try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    }

    /// One test over every case (a parameterised test would print 3,000 lines); each disagreement is reported.
    @Test func everyCaseAgreesWithOath() throws {
        let cases = try Self.load().cases
        #expect(cases.count == 3000)
        var checked = 0
        var features: Set<String> = []
        for (index, item) in cases.enumerated() {
            let suite = try OCRASuite(item.suite)
            let ocra = OCRA(seed: Seed(bytes: hexBytes(item.key)), suite: suite)
            var question =
                item.question.count == 2
                ? OCRAQuestion.mutual(item.question[0], item.question[1]) : OCRAQuestion(item.question[0])
            if let transfer = item.transaction {
                let transaction = try TransactionChallenge(payeeAccount: transfer.account, amount: transfer.amount)
                question = try transaction.question(for: suite)
                #expect(question.challenges == item.question, "case \(index): the transaction layout")
                features.insert("transaction")
            }
            let time: OCRATime? =
                if let seconds = item.time {
                    .at(Date(timeIntervalSince1970: TimeInterval(seconds)))
                } else {
                    item.timeStep.map { .step(UInt64($0)!) }
                }
            let response = try ocra.response(
                to: question, counter: item.counter.map { UInt64($0)! }, pin: item.pin.map { .pin($0) },
                session: item.session.map(hexBytes), time: time)
            #expect(response.text == item.response, "case \(index): \(item.suite) question \(item.question)")
            let expected = try #require(OCRAResponse(item.response))
            #expect(
                try ocra.isValid(
                    expected, for: question, counter: item.counter.map { UInt64($0)! }, pin: item.pin.map { .pin($0) },
                    session: item.session.map(hexBytes), time: time))
            checked += 1
            features.insert(suite.challengeFormat.rawValue)
            if item.question.count == 2 { features.insert("mutual") }
            if suite.usesCounter { features.insert("C") }
            if suite.pinHash != nil { features.insert("P") }
            if suite.sessionLength != nil { features.insert("S") }
            if item.time != nil { features.insert("T time") }
            if item.timeStep != nil { features.insert("T step") }
            features.insert(suite.algorithm.rawValue)
            features.insert("\(suite.digits) digits")
        }
        #expect(checked == cases.count)
        let wanted: Set<String> = Set(
            ["N", "A", "H", "mutual", "C", "P", "S", "T time", "T step", "transaction", "SHA1", "SHA256", "SHA512"]
                + (4...10).map { "\($0) digits" })
        #expect(features == wanted)
    }
}
