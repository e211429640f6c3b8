import ArgumentParser
import Foundation
import Ichigo
import IchigoRuntime
import IchigoSQLite
import IchigoWeb

extension APIScope: ExpressibleByArgument {}

struct APIKeyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "apikey",
        abstract: "Keys for the JSON API: create (with scopes), list, revoke. Only a hash of each key is stored.",
        discussion: """
            Scopes: admin (everything), verify (check codes: POST /users/{id}/verify and /token/activate), \
            read (GET users, tokens, accounts), metrics (GET /metrics). The key in data/api.key (or \
            ICHIGO_API_KEY) is the first admin key, named "admin".
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    /// Runs `body` with the runtime open and the first admin key adopted, as `serve` does.
    static func withRuntime(_ common: CommonOptions, _ body: (Runtime) async throws -> Void) async throws {
        try await Runtime.open(common.reader()).run { runtime in
            try await runtime.services.apiKeys.adopt(
                secret: runtime.services.apiKey, name: "admin", scopes: [.admin], at: Date())
            try await body(runtime)
        }
    }

    /// Prints `message` to standard error and exits with status 1.
    static func fail(_ message: String) -> Never {
        FileHandle.standardError.write(Data("Error: \(message)\n".utf8))
        Foundation.exit(1)
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create a key and print it once (it cannot be shown again).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The key's name, shown in the audit trail as api:<name> (a-z 0-9 . _ -).") var name: String
        @Option(name: .customLong("scope"), help: "A scope: admin, verify, read, metrics. Repeat for several.")
        var scopes: [APIScope] = []

        func run() async throws {
            guard !scopes.isEmpty else { throw ValidationError("give at least one --scope (admin, verify, read, metrics)") }
            try await APIKeyCommand.withRuntime(common) { runtime in
                let key: APIKey
                let secret: String
                do {
                    (key, secret) = try await runtime.services.apiKeys.create(
                        name: name, scopes: Set(scopes), actor: "cli", at: Date())
                } catch let error as IchigoError where error.code == .apiKeyNameTaken {
                    APIKeyCommand.fail("an API key named \(name) exists (revoked keys keep their names)")
                } catch let error as IchigoError where error.code == .invalidInput {
                    APIKeyCommand.fail("the name must be 1-40 of a-z 0-9 . _ -, starting with a letter or digit")
                }
                FileHandle.standardError.write(
                    Data("API key \"\(key.name)\" created with scopes \(key.scopes.sorted().map(\.rawValue).joined(separator: ",")). It is shown only now:\n".utf8))
                print(secret)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the keys: name, scopes, created, revoked.")
        @OptionGroup var common: CommonOptions

        func run() async throws {
            try await APIKeyCommand.withRuntime(common) { runtime in
                let formatter = ISO8601DateFormatter()
                print("NAME".padding(toLength: 24, withPad: " ", startingAt: 0) + "SCOPES".padding(toLength: 28, withPad: " ", startingAt: 0) + "CREATED               REVOKED")
                for key in try await runtime.services.apiKeys.list() {
                    let scopes = key.scopes.sorted().map(\.rawValue).joined(separator: ",")
                    print(
                        key.name.padding(toLength: 24, withPad: " ", startingAt: 0)
                            + scopes.padding(toLength: 28, withPad: " ", startingAt: 0)
                            + formatter.string(from: key.createdAt) + "  " + (key.revokedAt.map { formatter.string(from: $0) } ?? "-"))
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Revoke a key: refused at once by this server's instances, within 5 s by the others.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The key's name.") var name: String

        func run() async throws {
            try await APIKeyCommand.withRuntime(common) { runtime in
                do {
                    try await runtime.services.apiKeys.revoke(name: name, actor: "cli", at: Date())
                } catch let error as IchigoError where error.code == .notFound {
                    APIKeyCommand.fail("no active API key named \(name)")
                }
                print("API key \"\(name)\" revoked.")
            }
        }
    }
}
