import Foundation
import Logging
import Synchronization
import Testing

@testable import Ichigo

/// Collects log lines in memory.
final class CapturedLog: LogHandler, @unchecked Sendable {
    let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(
        level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String,
        function: String, line: UInt
    ) {
        lines.withLock { $0.append("\(level) \(message)") }
    }
}

@Suite("Back-off of background jobs")
struct BackoffTests {
    struct Unavailable: Error {}

    @Test("the wait doubles with each failure in a row, up to the maximum, and returns to the interval")
    func delays() {
        var backoff = Backoff(job: "j", interval: .milliseconds(500), maximum: .seconds(30))
        let log = CapturedLog()
        let logger = Logger(label: "t") { _ in log }
        #expect(backoff.delay == .milliseconds(500))
        var delays: [Duration] = []
        for _ in 0..<10 {
            backoff.failed(Unavailable(), logger: logger)
            delays.append(backoff.delay)
        }
        #expect(delays == [1, 2, 4, 8, 16, 30, 30, 30, 30, 30].map { Duration.seconds($0) })
        backoff.succeeded(logger: logger)
        #expect(backoff.delay == .milliseconds(500))
    }

    @Test("one line when the trouble begins, a reminder every 5 minutes, one when it ends")
    func logsOnce() {
        var backoff = Backoff(job: "mail sender", interval: .milliseconds(500))
        let log = CapturedLog()
        let logger = Logger(label: "t") { _ in log }
        let start = ContinuousClock.now
        for second in 0..<600 {
            backoff.failed(Unavailable(), logger: logger, now: start + .seconds(second))
        }
        backoff.succeeded(logger: logger)
        let lines = log.lines.withLock { $0 }
        #expect(lines.count == 3, "\(lines)")
        #expect(lines.first?.hasPrefix("error mail sender: the database is unavailable") == true)
        #expect(lines.last == "notice mail sender: the database answers again")
    }
}
