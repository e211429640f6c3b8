import Foundation
import Ichigo
import OTP
import Testing

/// The operator console's token actions (OTK002), from the domain's lifecycle.
@Suite("Operator token actions")
struct OperatorRulesTests {
    func token(_ kind: TokenKind, _ state: TokenState, contract: Bool) -> Token {
        Token(
            id: .random(), serial: kind == .hardware ? SerialNumber(rawValue: "SKTH00001234")! : .randomSoftware(),
            kind: kind, state: state, sealedSeed: SealedSeed(combined: []), parameters: .ichigoDefault,
            contractID: contract ? ContractID.random() : nil, createdAt: Date(timeIntervalSince1970: 0))
    }

    @Test(arguments: TokenState.allCases)
    func actionsFollowTheLifecycle(_ state: TokenState) {
        for kind in TokenKind.allCases {
            for contract in [false, true] {
                let actions = OperatorTokenActions(for: token(kind, state, contract: contract))
                #expect(actions.unlock == (state == .locked), "\(kind) \(state)")
                #expect(actions.revoke == ![.cancelled, .revoked].contains(state), "\(kind) \(state)")
                #expect(
                    actions.reissue == (kind == .hardware && contract && [.issued, .active, .locked].contains(state)),
                    "\(kind) \(state) contract=\(contract)")
                #expect(actions.assign == (kind == .hardware && !contract && state == .issued), "\(kind) \(state)")
            }
        }
    }
}
