import Foundation

/// The time source every rule that depends on the clock reads, so tests can stand at any instant.
public protocol IchigoClock: Sendable {
    /// The current instant.
    func now() -> Date
}

/// The system's wall clock.
public struct SystemClock: IchigoClock {
    public init() {}
    public func now() -> Date { Date() }
}

extension Calendar {
    /// The Gregorian calendar in Japan time (JST, no daylight saving), for 翌日以降 rules.
    public static let japan: Calendar = {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Tokyo") ?? TimeZone(secondsFromGMT: 9 * 3600)!
        return calendar
    }()
}
