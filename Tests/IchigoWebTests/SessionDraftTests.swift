import Foundation
import Ichigo
import IchigoTesting
import Testing

@testable import IchigoWeb

@Suite("Session drafts")
struct SessionDraftTests {
    @Test func aDraftStoredBeforeThePayeeWasOneValueStillReads() throws {
        // As a session written by the previous release holds a retail transfer draft.
        let old = #"{"id":"X1","accountID":"A1","from":"普通 101-1234567","payeeBank":"0001","payeeBranch":"123","payeeAccount":"7654321","payeeName":"タナカ","amount":5000}"#
        let draft = try JSONDecoder().decode(SessionData.TransferDraft.self, from: Data(old.utf8))
        #expect(draft.payee == Payee(bank: "0001", branch: "123", account: "7654321", name: "タナカ"))
        #expect(draft.from == "普通 101-1234567" && draft.amount == 5000 && draft.accountID == "A1")
    }

    @Test func aDraftRoundTripsWithOnePayee() throws {
        let draft = SessionData.TransferDraft(
            id: "K1", accountID: "CA", payee: Payee(bank: "9999", branch: "001", account: "2000002", name: "テスト"),
            amount: 40000)
        let data = try JSONEncoder().encode(draft)
        let text = String(decoding: data, as: UTF8.self)
        #expect(text.contains(#""payee":{"#) && !text.contains("payeeBank"))
        let back = try JSONDecoder().decode(SessionData.TransferDraft.self, from: data)
        #expect(back.payee == draft.payee && back.from == nil && back.id == "K1")
    }
}
