import ArgumentParser
import Foundation
import TerminalInput
import Ichigo
import IchigoRuntime
import IchigoSQLite
import IchigoWeb
import OTP

#if canImport(Glibc)
    import Glibc
#endif

/// Reads a PSKC file's key or password: from a file, or from `ICHIGO_PSKC_KEY` / `ICHIGO_PSKC_PASSWORD` — never from
/// an argument, which `ps` would show.
struct PSKCSecretOptions: ParsableArguments {
    @Option(help: "File holding the pre-shared AES key in hex (16, 24 or 32 bytes). Env: ICHIGO_PSKC_KEY.")
    var keyFile: String?

    @Option(help: "File holding the password of a PBKDF2-protected file. Env: ICHIGO_PSKC_PASSWORD.")
    var passwordFile: String?

    func decryptionKey() throws -> PSKCDecryptionKey? {
        let environment = ProcessInfo.processInfo.environment
        func read(_ path: String) throws -> String {
            guard let data = FileManager.default.contents(atPath: path) else {
                throw ValidationError("cannot read \(path)")
            }
            return String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        if let keyFile { return try Self.hexKey(try read(keyFile)) }
        if let passwordFile { return .password(try read(passwordFile)) }
        if let hex = environment["ICHIGO_PSKC_KEY"] { return try Self.hexKey(hex) }
        if let password = environment["ICHIGO_PSKC_PASSWORD"] { return .password(password) }
        return nil
    }

    static func hexKey(_ text: String) throws -> PSKCDecryptionKey {
        let hex = text.filter { !$0.isWhitespace }
        guard [32, 48, 64].contains(hex.count), hex.allSatisfy(\.isHexDigit) else {
            throw ValidationError("the key must be 32, 48 or 64 hex digits (an AES-128/192/256 key)")
        }
        var bytes: [UInt8] = []
        var index = hex.startIndex
        while index < hex.endIndex {
            let next = hex.index(index, offsetBy: 2)
            bytes.append(UInt8(hex[index..<next], radix: 16)!)
            index = next
        }
        return .preSharedKey(bytes)
    }
}

struct Tokens: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The hardware-token inventory: import a vendor's PSKC file, list, assign, unlock, revoke.",
        subcommands: [Import.self, List.self, Assign.self, Unlock.self, Revoke.self, Reissue.self])

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a PSKC (RFC 6030) file of hardware tokens: all of it in one transaction, or nothing.")
        @OptionGroup var common: CommonOptions
        @OptionGroup var secret: PSKCSecretOptions
        @Argument(help: "The PSKC file.") var file: String

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            try await Runtime.open(common.reader()).run { runtime in
                let started = Date()
                let showBar = isatty(STDERR_FILENO) == 1
                do {
                    let summary = try await runtime.services.importer.importPSKC(
                        Array(data), key: try secret.decryptionKey(), actor: "cli", at: Date(),
                        progress: { done, total in
                            guard showBar, total > 0 else { return }
                            let width = 40
                            let filled = done * width / total
                            let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
                            FileHandle.standardError.write(Data("\r[\(bar)] \(done)/\(total) sealed".utf8))
                            if done == total { FileHandle.standardError.write(Data(" — writing…\n".utf8)) }
                        })
                    let seconds = Date().timeIntervalSince(started)
                    say(
                        "imported \(summary.count) hardware tokens in \(String(format: "%.2f", seconds)) s (\(Int(Double(summary.count) / max(seconds, 0.001))) tokens/s); first \(summary.serials.first?.rawValue ?? "-"), last \(summary.serials.last?.rawValue ?? "-")"
                    )
                } catch let error as IchigoError where error.code == .importFailed {
                    say("import refused, nothing imported: \(error.detail ?? "")")
                    throw ExitCode(1)
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tokens by serial prefix, kind and state.")
        @OptionGroup var common: CommonOptions
        @Option(help: "Serial or its beginning.") var serial: String?
        @Option(help: "software or hardware.") var kind: TokenKind?
        @Option(help: "awaiting_app_setup, issued, active, locked, cancelled, revoked.") var state: TokenState?
        @Flag(help: "Only tokens in the bank's inventory (no contract).") var unassigned = false
        @Option(help: "At most this many.") var limit = 100

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let counts = try await runtime.repository.tokenCounts()
                for (kind, states) in counts.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
                    say("\(kind.rawValue): " + states.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.key.rawValue) \($0.value)" }.joined(separator: ", "))
                }
                let tokens = try await runtime.repository.tokens(
                    matching: TokenFilter(serialPrefix: serial, kind: kind, state: state, unassignedOnly: unassigned),
                    limit: limit, offset: 0)
                for token in tokens {
                    let holders = try await runtime.repository.users(holding: token.id).map(\.loginID.rawValue)
                    say(
                        "\(token.serial.rawValue)\t\(token.kind.rawValue)\t\(token.state.rawValue)\t\(token.contractID?.rawValue ?? "inventory")\tfailures=\(token.failureCount)\t\(holders.joined(separator: ","))"
                    )
                }
            }
        }
    }

    struct Assign: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Hand an inventory hardware token to a retail customer who applied at a branch (営業店窓口).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Serial (SKTH…).") var serial: String
        @Argument(help: "The customer's login ID.") var loginID: String

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                let token = try await runtime.services.operators.assignHardwareToken(
                    serial: serial, toCustomer: loginID, actor: "cli", at: Date())
                say("\(token.serial.rawValue) assigned to \(loginID) (state \(token.state.rawValue): the customer starts it at BOK001)")
            }
        }
    }

    struct Unlock: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "利用停止解除: unlock a token stopped by wrong codes.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Serial.") var serial: String
        func run() async throws { try await lifecycle(.unlock, serial, common) }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "失効: revoke a token for good.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Serial.") var serial: String
        func run() async throws { try await lifecycle(.revoke, serial, common) }
    }

    struct Reissue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Take a hardware token back into the inventory (no holder, no contract, first code pending).")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Serial.") var serial: String
        func run() async throws { try await lifecycle(.reissue, serial, common) }
    }
}

private func lifecycle(_ event: TokenEvent, _ serial: String, _ common: CommonOptions) async throws {
    try await Runtime.open(common.reader()).run { runtime in
        let token = try await runtime.services.operators.apply(event, serial: serial, actor: "cli", at: Date())
        say("\(token.serial.rawValue): \(token.state.rawValue)")
    }
}

struct OperatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "operator", abstract: "Bank operator accounts for the console at /operator.",
        subcommands: [Create.self, UnlockLogin.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create an operator account; the password is read from the terminal (no echo) or ICHIGO_OPERATOR_PASSWORD.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "Login ID.") var loginID: String
        @Option(help: "Display name.") var name: String

        func run() async throws {
            let password = try readSecret(
                "Password (10–32 half-width letters, digits and symbols): ", env: "ICHIGO_OPERATOR_PASSWORD")
            try await Runtime.open(common.reader()).run { runtime in
                let created: BankOperator
                do {
                    created = try await runtime.services.operators.createOperator(
                        loginID: loginID, name: name, password: password, at: Date())
                } catch let error as IchigoError where error.field == "password" {
                    // Never echo the password; say which characters the console's software keyboard can type.
                    throw ValidationError(
                        "パスワードは半角英数字記号10～32文字で指定してください（空白・全角文字は使えません）。"
                            + " The password must be 10 to 32 half-width letters, digits and symbols"
                            + " \(CredentialRules.passwordSymbols) — the keys of the console's software keyboard; no spaces or"
                            + " full-width characters. Nothing was created.")
                }
                say("operator \(created.loginID.rawValue) created; log in at /operator/login")
            }
        }
    }

    struct UnlockLogin: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unlock-login", abstract: "Lift a customer's login stopped by wrong passwords.")
        @OptionGroup var common: CommonOptions
        @Argument(help: "The customer's login ID.") var loginID: String

        func run() async throws {
            try await Runtime.open(common.reader()).run { runtime in
                _ = try await runtime.services.operators.unlockLogin(loginID: loginID, actor: "cli", at: Date())
                say("login of \(loginID) may be used again")
            }
        }
    }
}

/// Reads a secret from the environment, or from the terminal without echo.
func readSecret(_ prompt: String, env: String) throws -> String {
    if let value = ProcessInfo.processInfo.environment[env] { return value }
    FileHandle.standardError.write(Data(prompt.utf8))
    guard let line = Terminal.readLineWithoutEcho(afterwards: { FileHandle.standardError.write(Data("\n".utf8)) })
    else { throw ValidationError("no password given") }
    return line
}

extension TokenKind: ExpressibleByArgument {}
extension TokenState: ExpressibleByArgument {}
