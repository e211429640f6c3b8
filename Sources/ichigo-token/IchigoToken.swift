import ArgumentParser
import Foundation
import TerminalInput
import OTP
import SoftToken

#if canImport(Glibc)
    import Glibc
#endif

/// `ichigo-token`: the software token (ワンタイムパスワードアプリ) as a command-line program.
@main
struct IchigoToken: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ichigo-token",
        abstract: "Ichigo software token: set up with サービスID/ユーザID/利用開始パスワード, then show one-time passwords.",
        discussion: """
            Tokens live in ~/.config/ichigo-token/tokens.json (0600); the key that seals their seeds lives apart in \
            ~/.local/share/ichigo-token/store.key (0600). A store copied to another machine does not work there. \
            ICHIGO_TOKEN_HOME=DIR keeps both under DIR instead.
            """,
        subcommands: [Setup.self, Show.self, Sign.self, List.self, Remove.self, Hardware.self])
}

struct Common: ParsableArguments {
    @Option(help: "Language of messages: ja or en (default: from LANG; Japanese unless LANG is English).")
    var lang: String?

    var japanese: Bool {
        if let lang { return lang != "en" }
        return !(ProcessInfo.processInfo.environment["LANG"] ?? "").hasPrefix("en")
    }
}

func say(_ line: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((line + terminator).utf8))
}

func complain(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Reads a line typed at the terminal; with `secret`, without echo.
func ask(_ prompt: String, secret: Bool = false) -> String? {
    say(prompt, terminator: "")
    guard secret else { return readLine(strippingNewline: true) }
    return Terminal.readLineWithoutEcho(afterwards: { say("") })
}

func storeMessage(_ error: TokenStoreError, japanese: Bool) -> String {
    switch error.kind {
    case .notFound(let serial):
        return japanese ? "シリアル番号 \(serial) のトークンはありません。" : "No token with serial \(serial)."
    case .copiedFromAnotherDevice:
        return japanese
            ? "このトークンは別の端末からコピーされたか、鍵が失われたため使用できません。削除して、インターネットバンキングで新たにトークン発行を行ってください。"
            : "This token was copied from another device or its key is gone, so it cannot be used. Remove it and issue a new token in internet banking."
    case .corrupt(let path):
        return (japanese ? "トークンの保存ファイルが壊れています: " : "The token store is damaged: ") + path
    case .noTokens:
        return japanese ? "トークンが設定されていません。ichigo-token setup で初期設定を行ってください。" : "No token is set up. Run ichigo-token setup."
    case .ambiguous:
        return japanese ? "複数のトークンがあります。--serial で指定してください。" : "Several tokens are installed: choose one with --serial."
    }
}

func refusedSuiteMessage(_ error: OCRAError, japanese: Bool) -> String {
    (japanese
        ? "取引認証（OCRA）の設定が正しくないため、取引認証なしで保存しました: "
        : "The transaction-signing (OCRA) suite is not valid, so the token is kept without transaction signing: ")
        + error.description
}

struct Setup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "初期設定: set up a token with サービスID, ユーザID and 利用開始パスワード (asked if not given).")

    @OptionGroup var common: Common
    @Option(help: "The bank's Ichigo server, e.g. https://ib.example.jp") var server: String
    @Option(name: .customLong("service-id"), help: "サービスID (8 digits, from the mail)") var serviceID: String?
    @Option(name: .customLong("user-id"), help: "ユーザID (12 digits, from the mail)") var userID: String?
    @Option(name: .customLong("activation-password"), help: "利用開始パスワード (for scripts; asked without echo otherwise)")
    var activationPassword: String?
    @Flag(name: .customLong("agree"), help: "上記の内容に同意する: agree to the terms without being asked") var agree = false
    @Option(name: .customLong("ca-file"), help: "PEM file of CA certificates to trust for the server") var caFile: String?

    func run() async throws {
        let ja = common.japanese
        guard let serviceID = serviceID ?? ask(ja ? "サービスID: " : "Service ID (サービスID): "), !serviceID.isEmpty,
            let userID = userID ?? ask(ja ? "ユーザID: " : "User ID (ユーザID): "), !userID.isEmpty,
            let password = activationPassword ?? ask(ja ? "利用開始パスワード: " : "Activation password (利用開始パスワード): ", secret: true),
            !password.isEmpty
        else {
            complain(ja ? "入力が中断されました。" : "Input ended.")
            throw ExitCode(2)
        }
        var consent = agree
        if !consent {
            say(ja
                ? "ワンタイムパスワードアプリの利用規定を確認しました。上記の内容に同意しますか？ [y/N]: "
                : "You have read the terms of use of the one-time password app. Do you agree (上記の内容に同意する)? [y/N]: ",
                terminator: "")
            consent = (readLine() ?? "").lowercased().hasPrefix("y")
        }
        guard consent else {
            complain(SetupError(kind: .consentRequired).message(japanese: ja))
            throw ExitCode(2)
        }
        let store = TokenStore.standard()
        do {
            let provisioned = try await ProvisioningClient(server: server, caFile: caFile).provision(
                serviceID: serviceID.trimmingCharacters(in: .whitespaces), userID: userID.trimmingCharacters(in: .whitespaces),
                activationPassword: password, consent: true)
            try store.add(
                serial: provisioned.serial, seed: provisioned.seed, parameters: provisioned.parameters,
                issuer: provisioned.issuer, server: server, ocraSuite: provisioned.ocraSuite)
            if let refused = provisioned.refusedOCRASuite {
                complain(refusedSuiteMessage(refused, japanese: ja))
            }
            say(ja
                ? "初期設定が完了しました。シリアル番号: \(provisioned.serial)\nichigo-token show でワンタイムパスワードを表示します。"
                : "Set-up complete. Serial number: \(provisioned.serial)\nRun ichigo-token show to see the one-time password.")
        } catch let error as SetupError {
            complain(error.message(japanese: ja))
            throw ExitCode(1)
        } catch let error as TokenStoreError {
            complain(storeMessage(error, japanese: ja))
            throw ExitCode(1)
        }
    }
}

struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the current one-time password and the seconds left.")

    @OptionGroup var common: Common
    @Option(help: "The token's serial (needed when several are installed)") var serial: String?
    @Flag(help: "Redraw every second with a countdown bar until interrupted") var watch = false
    @Flag(help: "Print JSON for scripts") var json = false
    @Option(help: .hidden) var frames: Int?

    func run() async throws {
        let ja = common.japanese
        let store = TokenStore.standard()
        do {
            let token = try store.token(serial: serial)
            let totp = try store.generator(for: token)
            if !watch {
                let display = CodeDisplay(token: token, totp: totp, at: Date())
                say(json ? display.json() : display.line(japanese: ja))
                return
            }
            var last: String? = nil
            var drawn = 0
            while frames.map({ drawn < $0 }) ?? true {
                let display = CodeDisplay(token: token, totp: totp, at: Date())
                if json {
                    say(display.json())
                } else {
                    if let last, last != display.code {
                        say("\r\u{1B}[2K" + (ja ? "新しいワンタイムパスワード: " : "New one-time password: ") + display.groupedCode)
                    }
                    say("\r\u{1B}[2K" + display.line(japanese: ja), terminator: "")
                }
                last = display.code
                drawn += 1
                try await Task.sleep(for: .seconds(1))
            }
            if !json { say("") }
        } catch let error as TokenStoreError {
            complain(storeMessage(error, japanese: ja))
            throw ExitCode(1)
        }
    }
}

/// `ichigo-token sign`: the transaction-signing code for a transfer, bound to its payee account and amount.
struct Sign: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "取引認証: sign a transfer — the code for the payee's account number and the amount (asked if not given).",
        discussion: """
            The code is the token's OCRA (RFC 6287) response to a challenge made of the amount in yen and the payee's \
            7-digit account number, so a code typed for one transfer is worthless for another payee or amount. The \
            token's OCRA suite comes from the bank at setup (or from the PSKC file); --suite overrides it for tests.
            """)

    @OptionGroup var common: Common
    @Option(help: "The token's serial (needed when several are installed)") var serial: String?
    @Option(help: "振込先口座番号: the payee's account number, 7 digits") var account: String?
    @Option(help: "振込金額: the amount in yen, e.g. 50000 or 50,000") var amount: String?
    @Option(help: "An OCRA suite to use instead of the token's (for tests), e.g. OCRA-1:HOTP-SHA256-8:QN20-T1M")
    var suite: String?
    @Option(help: "The PIN, for a suite with P (for scripts; asked without echo otherwise)") var pin: String?
    @Flag(help: "Print JSON for scripts") var json = false

    func run() async throws {
        let ja = common.japanese
        let store = TokenStore.standard()
        do {
            let token = try store.token(serial: serial)
            // Refuse a token without a suite before asking anything.
            let signingSuite = try store.signingSuite(for: token, override: suite)
            guard let accountText = account ?? ask(ja ? "振込先口座番号（7桁）: " : "Payee account number (7 digits): ") else {
                complain(ja ? "入力が中断されました。" : "Input ended.")
                throw ExitCode(2)
            }
            guard let payee = TransferInput.account(from: accountText) else { throw SignError(.invalidAccount) }
            guard let amountText = amount ?? ask(ja ? "振込金額（円）: " : "Amount (yen): ") else {
                complain(ja ? "入力が中断されました。" : "Input ended.")
                throw ExitCode(2)
            }
            guard let yen = TransferInput.amount(from: amountText) else { throw SignError(.invalidAmount) }
            var pinText = pin
            if signingSuite.pinHash != nil, pinText == nil {
                pinText = ask(ja ? "暗証番号: " : "PIN: ", secret: true)
            }
            let signature = try store.signTransfer(
                token: token, payeeAccount: payee, amount: yen, suite: suite, pin: pinText, at: Date())
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys]
                say(String(decoding: try encoder.encode(signature), as: UTF8.self))
            } else {
                let grouped = TransferInput.grouped(yen)
                say(
                    ja
                        ? "振込先口座番号 \(signature.payeeAccount)、振込金額 \(grouped)円 の取引認証番号: \(signature.code)"
                        : "Transaction code for \(grouped) yen to account \(signature.payeeAccount): \(signature.code)")
            }
        } catch let error as SignError {
            complain(error.message(japanese: ja))
            throw ExitCode(1)
        } catch let error as TokenStoreError {
            complain(storeMessage(error, japanese: ja))
            throw ExitCode(1)
        }
    }
}

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the installed tokens.")
    @OptionGroup var common: Common
    @Flag(help: "Print JSON for scripts") var json = false

    func run() async throws {
        let tokens = try TokenStore.standard().tokens()
        if json {
            let rows = tokens.map { token in
                var row = ["serial": token.serial, "issuer": token.issuer, "server": token.server]
                if let suite = token.ocraSuite { row["ocraSuite"] = suite }
                return row
            }
            let data = try JSONSerialization.data(withJSONObject: rows, options: [.sortedKeys])
            say(String(decoding: data, as: UTF8.self))
            return
        }
        if tokens.isEmpty { say(common.japanese ? "トークンはありません。" : "No tokens.") }
        for token in tokens {
            say("\(token.serial)  \(token.issuer)  \(token.server)" + (token.ocraSuite.map { "  \($0)" } ?? ""))
        }
    }
}

struct Remove: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete a token (do this after 利用解除, as the bank asks).")
    @OptionGroup var common: Common
    @Argument(help: "The token's serial") var serial: String

    func run() async throws {
        let ja = common.japanese
        guard try TokenStore.standard().remove(serial: serial) else {
            complain(storeMessage(TokenStoreError(.notFound(serial)), japanese: ja))
            throw ExitCode(1)
        }
        say(ja ? "トークン \(serial) を削除しました。" : "Removed token \(serial).")
    }
}

/// A hardware token (key fob) held in the store from the vendor's PSKC file, so a person can try the hardware-token
/// flows without the fob: `show --serial SKTH…` then shows what the fob would.
struct Hardware: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Hold a hardware token (SKTH…) from a vendor's PSKC file, as the key fob would show it.",
        subcommands: [Add.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read one key package from a PSKC file (key or password from a file or ICHIGO_PSKC_KEY / ICHIGO_PSKC_PASSWORD).")
        @OptionGroup var common: Common
        @Argument(help: "The PSKC file.") var file: String
        @Option(help: "The hardware token's serial (SKTH…).") var serial: String
        @Option(help: "File holding the pre-shared AES key in hex.") var keyFile: String?
        @Option(help: "File holding the file's password (PBKDF2).") var passwordFile: String?

        func run() async throws {
            let ja = common.japanese
            let environment = ProcessInfo.processInfo.environment
            func read(_ path: String) -> String? {
                FileManager.default.contents(atPath: path).map {
                    String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
                }
            }
            func hex(_ text: String) -> [UInt8]? {
                let digits = Array(text.filter { !$0.isWhitespace })
                guard digits.count % 2 == 0, !digits.isEmpty else { return nil }
                return stride(from: 0, to: digits.count, by: 2).compactMap { UInt8(String(digits[$0...$0 + 1]), radix: 16) }
            }
            var key: PSKCDecryptionKey?
            if let keyFile, let text = read(keyFile), let bytes = hex(text) {
                key = .preSharedKey(bytes)
            } else if let passwordFile, let text = read(passwordFile) {
                key = .password(text)
            } else if let text = environment["ICHIGO_PSKC_KEY"], let bytes = hex(text) {
                key = .preSharedKey(bytes)
            } else if let text = environment["ICHIGO_PSKC_PASSWORD"] {
                key = .password(text)
            }
            guard let data = FileManager.default.contents(atPath: file) else {
                complain(ja ? "ファイルを読めません: \(file)" : "Cannot read \(file)")
                throw ExitCode(1)
            }
            let keys: [PSKCKey]
            do {
                keys = try PSKC.read(Array(data), key: key)
            } catch {
                complain((ja ? "PSKCファイルを読めません: " : "Cannot read the PSKC file: ") + error.description)
                throw ExitCode(1)
            }
            guard let found = keys.first(where: { $0.serial.uppercased() == serial.uppercased() }) else {
                complain(ja ? "シリアル番号 \(serial) はファイルにありません。" : "Serial \(serial) is not in the file.")
                throw ExitCode(1)
            }
            var suite: OCRASuite? = nil
            if let text = found.ocraSuite {
                do {
                    suite = try OCRASuite(text)
                } catch {
                    complain(refusedSuiteMessage(error, japanese: ja))
                }
            }
            try TokenStore.standard().add(
                serial: found.serial, seed: found.seed, parameters: found.parameters,
                issuer: found.manufacturer ?? "hardware", server: "hardware", ocraSuite: suite)
            say(
                ja
                    ? "ハードウェアトークン \(found.serial) を保存しました。ichigo-token show --serial \(found.serial) でワンタイムパスワードを表示します。"
                    : "Holding hardware token \(found.serial). Show its codes with: ichigo-token show --serial \(found.serial)")
        }
    }
}
