import Ichigo
import IchigoWeb
import Testing

@Suite("Web messages")
struct WebMessagesTests {
    /// The codes only the web layer raises.
    static let webCodes: [IchigoError.Code] = [
        .malformedRequest, .requestTooLarge, .unsupportedMediaType, .unknownField, .requestHeaderTooLarge,
        .unauthorized, .sessionExpired, .csrfFailed, .scopeMissing,
    ]

    @Test func everyWebCodeHasItsOwnJapaneseAndEnglishText() {
        let generic = Messages.text("internal", in: .ja)
        for code in Self.webCodes {
            let ja = WebMessages.text(for: code, in: .ja)
            let en = WebMessages.text(for: code, in: .en)
            #expect(!ja.isEmpty && !en.isEmpty && ja != en && ja != generic, "\(code)")
            #expect(WebMessages.keys.contains(code.description), "\(code)")
        }
        #expect(Set(WebMessages.keys) == Set(Self.webCodes.map(\.description)))
    }

    @Test func theDomainsCodesReadAsBefore() {
        // A domain code goes through to the domain's table, in both languages.
        #expect(WebMessages.text(for: .otpInvalid, in: .ja) == Messages.text(for: .otpInvalid, in: .ja))
        #expect(WebMessages.text(for: .otpInvalid, in: .en) == Messages.text(for: .otpInvalid, in: .en))
        #expect(WebMessages.text(for: .otpInvalid, in: .ja) == "ワンタイムパスワードが正しくありません。")
    }

    @Test func theDomainNoLongerKnowsTheWebLayersTexts() {
        for code in Self.webCodes {
            #expect(!Messages.keys.contains(code.description), "\(code)")
        }
    }
}
