import Ichigo
import Testing

@Suite("Token lifecycle")
struct LifecycleTests {
    /// Every allowed transition; every other (state, event) pair must be an illegal-transition error.
    static let allowed: [TokenState: [TokenEvent: TokenState]] = [
        .awaitingAppSetup: [.provision: .issued, .cancel: .cancelled, .revoke: .revoked],
        .issued: [.confirmFirstCode: .active, .lock: .locked, .cancel: .cancelled, .revoke: .revoked, .reissue: .issued],
        .active: [.lock: .locked, .cancel: .cancelled, .revoke: .revoked, .reissue: .issued],
        .locked: [.unlock: .active, .cancel: .cancelled, .revoke: .revoked, .reissue: .issued],
        .cancelled: [:],
        .revoked: [:],
    ]

    @Test(arguments: TokenState.allCases, TokenEvent.allCases)
    func transition(from state: TokenState, on event: TokenEvent) throws {
        if let expected = Self.allowed[state]?[event] {
            #expect(try state.applying(event) == expected)
        } else {
            #expect(
                throws: IchigoError(
                    .illegalTransition, detail: "\(event.rawValue) is not allowed from \(state.rawValue)")
            ) {
                try state.applying(event)
            }
        }
    }

    @Test func finalStatesFreeTheUser() {
        #expect(TokenState.allCases.filter { !$0.occupiesUser } == [.cancelled, .revoked])
    }
}

@Suite("Messages")
struct MessagesTests {
    @Test func everyKeyHasJapaneseAndEnglish() {
        for key in Messages.keys {
            let ja = Messages.text(key, in: .ja)
            let en = Messages.text(key, in: .en)
            #expect(!ja.isEmpty && !en.isEmpty && ja != en, "\(key)")
        }
    }

    @Test(
        arguments: [
            (nil, Language.ja), ("en-US,en;q=0.9", .en), ("ja,en;q=0.8", .ja), ("fr-FR, en;q=0.5", .en), ("de", .ja),
        ] as [(String?, Language)])
    func acceptLanguage(header: String?, expected: Language) {
        #expect(Language(acceptLanguage: header) == expected)
    }
}
