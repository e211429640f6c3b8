import ArgumentParser
import Foundation
import Ichigo
import IchigoRuntime
import IchigoWeb

/// `ichigo passkeys`: the bank's view of a customer's passkeys, and their removal (a lost phone). A customer who lost
/// every passkey gets back in this way, never through a weaker path on the web.
struct PasskeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "passkeys", abstract: "A customer's passkeys: list them, remove one or all (the customer is mailed).",
        subcommands: [List.self, Remove.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a customer's passkeys.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The customer's login ID.") var loginID: String

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let user = try await runtime.services.operators.user(loginID: loginID)
                let passkeys = try await runtime.services.passkeys.passkeys(of: user.id)
                if passkeys.isEmpty { say("\(loginID): no passkey") }
                let formatter = ISO8601DateFormatter()
                for passkey in passkeys {
                    let model = AuthenticatorNames.name(of: passkey.aaguid) ?? passkey.aaguid
                    say(
                        "\(passkey.credentialID)\t\(passkey.name)\t\(model)\t\(passkey.isSynced ? "synced" : "device-bound")"
                            + "\tregistered \(formatter.string(from: passkey.createdAt))"
                            + "\tlast used \(passkey.lastUsedAt.map { formatter.string(from: $0) } ?? "never")"
                            + (passkey.cloneSuspected ? "\tSTOPPED: counter went backwards (possible copy)" : ""))
                }
            }
        }
    }

    struct Remove: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Remove one passkey (--credential) or all of a customer's (--all); audited, the customer is mailed.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The customer's login ID.") var loginID: String
        @Option(help: "The credential ID (as `ichigo passkeys list` prints it).") var credential: String?
        @Flag(help: "Remove every passkey of the customer.") var all = false

        func validate() throws {
            guard (credential != nil) != all else { throw ValidationError("give either --credential ID or --all") }
        }

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let user = try await runtime.services.operators.user(loginID: loginID)
                let count = try await runtime.services.passkeys.remove(
                    credential.map { [$0] }, of: user, actor: "cli", byBank: true, at: Date())
                say("\(loginID): \(count) passkey(s) removed; the customer was mailed")
            }
        }
    }
}
