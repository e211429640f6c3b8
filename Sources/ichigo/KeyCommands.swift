import ArgumentParser
import Foundation
import Ichigo
import IchigoRuntime
import IchigoKeys
import IchigoWeb

#if canImport(Glibc)
    import Glibc
#endif

/// `ichigo keys`: key versions and rotation while serving (see the README's "Key custody").
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Key versions: status, rotate (re-sealing runs in the servers), reseal, check every seed.",
        subcommands: [Status.self, Rotate.self, Reseal.self, Check.self])

    struct Status: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Each key version, its store, and how many seeds it still seals; progress of a re-sealing.")
        @OptionGroup var common: CommonOptions
        @Flag(help: "Follow the re-sealing until every seed is under the newest version.") var wait = false

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                say("key store: \(runtime.keyStores.summary)")
                try await KeysCommand.printTable(runtime)
                if wait { try await KeysCommand.follow(runtime) }
            }
        }
    }

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Make a new key version in the configured store (moving stores re-wraps the older versions); the servers start using it within seconds and re-seal every seed under it in the background.")
        @OptionGroup var common: CommonOptions
        @Flag(help: "Wait, with a progress bar, until every seed is under the new version.") var wait = false

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let version = try await runtime.keys.rotate(now: Date(), actor: "cli")
                let formatter = ISO8601DateFormatter()
                say(
                    "key version \(version.version) made in \(version.wrappedBy); in use from \(formatter.string(from: version.activeFrom)). "
                        + "Running servers re-seal every seed under it; `ichigo keys status --wait` follows them.")
                if wait { try await KeysCommand.follow(runtime) }
            }
        }
    }

    struct Reseal: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-seal seeds under the newest key version from here (when no server runs), then retire unused versions.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let keys = runtime.keys
                // Wait for the newest version's activation (a rotation just made).
                while let newest = keys.known.last, newest.activeFrom > Date() {
                    try await Task.sleep(for: .milliseconds(200))
                    try await keys.refresh(now: Date())
                }
                try await keys.refresh(now: Date())
                var total = 0
                let progress = Progress(runtime)
                while true {
                    let batch = try await keys.resealBatch(limit: runtime.settings.keyResealBatch)
                    if batch.examined == 0 { break }
                    total += batch.resealed
                    try await progress.show()
                }
                progress.finish()
                let retired = try await keys.retireUnused(now: Date())
                say(
                    "\(total) seed(s) re-sealed under key version \(keys.keyring.current)"
                        + (retired.isEmpty ? "" : "; retired: " + retired.map(String.init).joined(separator: ", ")))
            }
        }
    }

    struct Check: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Open every stored seed with the key versions loaded here; report any that does not open.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let vault = SeedVault(keyring: runtime.keyring)
                var offset = 0
                var opened = 0
                var failed: [String] = []
                var byVersion: [Int: Int] = [:]
                while true {
                    let page = try await runtime.repository.tokens(matching: TokenFilter(), limit: 2000, offset: offset)
                    if page.isEmpty { break }
                    for token in page {
                        do {
                            _ = try vault.open(token.sealedSeed, for: token.id)
                            opened += 1
                            byVersion[token.sealedSeed.keyVersion, default: 0] += 1
                        } catch {
                            failed.append("\(token.serial.rawValue) (key version \(token.sealedSeed.keyVersion)): \(error)")
                        }
                    }
                    offset += page.count
                }
                let versions = byVersion.keys.sorted().map { "version \($0): \(byVersion[$0]!)" }.joined(separator: ", ")
                say("\(opened) seed(s) open (\(versions.isEmpty ? "none" : versions)); \(failed.count) do not")
                for line in failed.prefix(20) { say("  " + line) }
                if !failed.isEmpty { throw ExitCode(1) }
            }
        }
    }

    static func printTable(_ runtime: Runtime) async throws {
        let rows = try await runtime.keys.status()
        let current = runtime.keyring.current
        let formatter = ISO8601DateFormatter()
        say("version  state     seeds      created               wrapped by")
        for (version, seeds) in rows {
            let state: String
            if version.retiredAt != nil {
                state = "retired"
            } else if version.version == current {
                state = "current"
            } else if version.activeFrom > Date() {
                state = "pending"
            } else if version.version > current {
                state = "active"
            } else {
                state = "retiring"
            }
            say(
                String(version.version).leftPadded(7) + "  " + state.padding(toLength: 8, withPad: " ", startingAt: 0)
                    + "  " + String(seeds).leftPadded(9) + "  " + formatter.string(from: version.createdAt) + "  "
                    + version.wrappedBy)
        }
    }

    /// Shows the re-sealing's progress until every seed is under the newest version.
    static func follow(_ runtime: Runtime) async throws {
        let progress = Progress(runtime)
        while true {
            if try await progress.show() { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        progress.finish()
        try await printTable(runtime)
    }

    /// A progress bar on a terminal; a line every few seconds otherwise.
    final class Progress {
        let runtime: Runtime
        let terminal = isatty(STDOUT_FILENO) == 1
        var lastLine = Date.distantPast
        var drawn = false

        init(_ runtime: Runtime) { self.runtime = runtime }

        /// Draws the progress; returns whether it is done.
        @discardableResult
        func show() async throws -> Bool {
            try await runtime.keys.refresh(now: Date())
            let counts = try await runtime.repository.sealedSeedCounts()
            let newest = runtime.keys.known.last?.version ?? 1
            let total = counts.values.reduce(0, +)
            let done = counts[newest] ?? 0
            let fraction = total == 0 ? 1 : Double(done) / Double(total)
            let text = "\(done) of \(total) seeds under key version \(newest)"
            if terminal {
                let width = 30
                let filled = Int(fraction * Double(width))
                let bar = String(repeating: "█", count: filled) + String(repeating: "░", count: width - filled)
                FileHandle.standardOutput.write(Data("\r\(bar) \(Int(fraction * 100))%  \(text)\u{1B}[K".utf8))
                drawn = true
            } else if Date().timeIntervalSince(lastLine) >= 5 || done == total {
                say("re-sealing: \(Int(fraction * 100))% (\(text))")
                lastLine = Date()
            }
            return done == total
        }

        func finish() {
            if drawn { FileHandle.standardOutput.write(Data("\n".utf8)) }
        }
    }
}

extension String {
    fileprivate func leftPadded(_ width: Int) -> String {
        count >= width ? self : String(repeating: " ", count: width - count) + self
    }
}
