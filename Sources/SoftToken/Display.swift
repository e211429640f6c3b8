import Foundation
import OTP

/// What `ichigo-token show` prints.
public struct CodeDisplay: Sendable, Equatable, Codable {
    public var serial: String
    public var issuer: String
    public var code: String
    public var secondsLeft: Int
    public var period: Int
    public var nextCode: String

    /// The code of `token` at `now`, with the seconds left in its step and the next step's code.
    public init(token: InstalledToken, totp: TOTP, at now: Date) {
        let parameters = totp.parameters
        let step = parameters.step(at: now)
        serial = token.serial
        issuer = token.issuer
        code = totp.code(forStep: step).text
        nextCode = totp.code(forStep: step + 1).text
        secondsLeft = parameters.secondsRemaining(at: now)
        period = parameters.period
    }

    /// A countdown bar of `width` cells, full at the start of a step.
    public func bar(width: Int = 30) -> String {
        let filled = max(0, min(width, Int((Double(secondsLeft) / Double(period) * Double(width)).rounded(.up))))
        return String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
    }

    /// The code with a space in the middle, as apps show it (`123 456`).
    public var groupedCode: String {
        let middle = code.index(code.startIndex, offsetBy: code.count / 2)
        return "\(code[..<middle]) \(code[middle...])"
    }

    /// One line for the terminal.
    public func line(japanese: Bool) -> String {
        japanese
            ? "\(serial)  ワンタイムパスワード: \(groupedCode)  [\(bar())] 残り\(secondsLeft)秒"
            : "\(serial)  one-time password: \(groupedCode)  [\(bar())] \(secondsLeft)s left"
    }

    /// JSON for scripts.
    public func json() -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
    }
}
