import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Ichigo
import Logging
import Synchronization
import Testing

@testable import IchigoWeb

@Suite("Request deadlines")
struct DeadlineTests {
    /// Work that ignores cancellation, as a wait for a pooled connection may (without spinning once cancelled).
    static func stuck(for duration: Duration) async -> Int {
        let milliseconds = Int(duration.components.seconds * 1000 + duration.components.attoseconds / 1_000_000_000_000_000)
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            DispatchQueue.global().asyncAfter(deadline: .now() + .milliseconds(milliseconds)) { continuation.resume() }
        }
        return 1
    }

    @Test("work that finishes in time is the answer; stuck work times out at the limit and can be waited for again")
    func timedWork() async {
        let quick = TimedWork { 42 }
        guard case .finished(.success(42)) = await quick.wait(limit: .seconds(5)) else {
            Issue.record("quick work did not finish")
            return
        }
        let done = Mutex(false)
        let slow = TimedWork {
            let value = await Self.stuck(for: .seconds(3))
            done.withLock { $0 = true }
            return value
        }
        guard case .timedOut = await slow.wait(limit: .milliseconds(100)) else {
            Issue.record("stuck work did not time out")
            return
        }
        // The wait ended while the work was still stuck (no timing assertion: the machine may be busy).
        #expect(!done.withLock { $0 })
        guard case .finished(.success(1)) = await slow.wait(limit: .seconds(30)) else {
            Issue.record("the second wait did not see the work finish")
            return
        }
    }

    @Test("past the deadline: 503 service.unavailable with Retry-After, JSON on the API, a page on the screens")
    func answers503() async throws {
        let finished = Mutex(0)
        let router = Router()
        router.get("api/v1/slow") { _, _ -> String in
            let value = await Self.stuck(for: .seconds(3))
            finished.withLock { $0 += 1 }
            return "\(value)"
        }
        router.get("slow") { _, _ -> String in
            let value = await Self.stuck(for: .seconds(3))
            finished.withLock { $0 += 1 }
            return "\(value)"
        }
        router.get("api/v1/quick") { _, _ -> String in "ok" }
        let responder = DeadlineResponder(
            inner: router.buildResponder(),
            deadlines: RequestDeadlines(standard: .milliseconds(300), commitGrace: .milliseconds(300)),
            logger: Logger(label: "test"))
        let app = Application(responder: responder)
        try await app.test(.router) { client in
            try await client.execute(uri: "/api/v1/quick", method: .get) { response in
                #expect(response.status == .ok)
            }
            try await client.execute(uri: "/api/v1/slow", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(response.headers[.retryAfter] == "1")
                let body = try JSONDecoder().decode(APIErrorBody.self, from: Data(String(buffer: response.body).utf8))
                #expect(body.error.code == "service.unavailable")
                // Answered while the handler was still stuck.
                #expect(finished.withLock { $0 } == 0)
            }
            try await client.execute(
                uri: "/slow", method: .get, headers: [.acceptLanguage: "ja"]
            ) { response in
                #expect(response.status == .serviceUnavailable)
                #expect(String(buffer: response.body).contains("お手続きは完了していません"))
            }
        }
    }

    @Test("a write that began before the deadline is waited for, then abandoned")
    func writeUnderWay() async throws {
        let seen = Mutex<[Bool]>([])
        let router = Router()
        router.get("api/v1/write") { _, _ -> String in
            // The store claims the deadline as the write's work begins, then the database stalls.
            let claimed = RequestDeadline.current?.claimForWrite() ?? false
            _ = await Self.stuck(for: .milliseconds(1500))
            let enters = RequestDeadline.current?.enterCommit() ?? false
            seen.withLock { $0 = [claimed, enters] }
            return "written"
        }
        let responder = DeadlineResponder(
            inner: router.buildResponder(),
            deadlines: RequestDeadlines(standard: .milliseconds(200), commitGrace: .seconds(30)),
            logger: Logger(label: "test"))
        try await Application(responder: responder).test(.router) { client in
            // Within the grace period: the real answer.
            try await client.execute(uri: "/api/v1/write", method: .get) { response in
                #expect(response.status == .ok)
            }
        }
        #expect(seen.withLock { $0 } == [true, true])
        seen.withLock { $0 = [] }
        let short = DeadlineResponder(
            inner: router.buildResponder(),
            deadlines: RequestDeadlines(standard: .milliseconds(100), commitGrace: .milliseconds(100)),
            logger: Logger(label: "test"))
        try await Application(responder: short).test(.router) { client in
            // Past the grace period: 503, and the store may not commit (`enterCommit` refuses).
            try await client.execute(uri: "/api/v1/write", method: .get) { response in
                #expect(response.status == .serviceUnavailable)
            }
        }
        // The handler ends after the answer; its commit is refused.
        for _ in 0..<100 where seen.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(100)) }
        #expect(seen.withLock { $0 } == [true, false])
    }
}
