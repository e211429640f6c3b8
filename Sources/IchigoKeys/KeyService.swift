import Foundation
import Ichigo
import Logging
import ServiceLifecycle

/// The server's part in key custody, run in its service group: every `pollInterval` it reads the key versions
/// (a rotation made by `ichigo keys rotate` on any machine is loaded here well before it becomes active), re-seals
/// seeds under the current version in batches of `batchSize` with `pause` between them (one transaction each, so
/// verifications keep their turn), retires versions that seal nothing any more, and checks the key stores every
/// `checkInterval` (an HSM that stops answering makes `/ready` answer 503).
public struct KeyService: Service {
    let custodian: KeyCustodian
    let pollInterval: Duration
    let batchSize: Int
    let pause: Duration
    let checkInterval: Duration

    public init(
        custodian: KeyCustodian, pollInterval: Duration = .seconds(1), batchSize: Int = 500,
        pause: Duration = .milliseconds(20), checkInterval: Duration = .seconds(10)
    ) {
        self.custodian = custodian
        self.pollInterval = pollInterval
        self.batchSize = batchSize
        self.pause = pause
        self.checkInterval = checkInterval
    }

    public func run() async throws {
        // On graceful shutdown the sleep or the batch in flight is cancelled (a batch is one transaction: it commits
        // whole or not at all); the next start goes on where this one stopped.
        try? await cancelWhenGracefulShutdown { try await loop() }
    }

    private func loop() async throws {
        var lastCheck = ContinuousClock.now
        var failing = false
        while !Task.isCancelled {
            // Reading the versions: a failure is a key problem (`/ready`), retried each poll.
            do {
                try await custodian.refresh(now: Date())
                custodian.note(nil)
            } catch is CancellationError {
                return
            } catch {
                custodian.note("\(error)")
            }
            if ContinuousClock.now - lastCheck >= checkInterval {
                custodian.checkStores()
                lastCheck = .now
            }
            // Re-sealing and retiring: a failure (the database away) is logged once and retried, never a key problem.
            do {
                while !Task.isCancelled, try await custodian.resealBatch(limit: batchSize).examined > 0 {
                    try await Task.sleep(for: pause)
                }
                _ = try await custodian.retireUnused(now: Date())
                if failing { custodian.logger.notice("key re-sealing goes on") }
                failing = false
            } catch is CancellationError {
                return
            } catch {
                if !failing { custodian.logger.warning("key re-sealing paused: \(error)") }
                failing = true
            }
            try await Task.sleep(for: pollInterval)
        }
    }
}
