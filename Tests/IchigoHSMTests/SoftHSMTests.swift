import Foundation
import IchigoHSM
import Testing

/// A SoftHSM2 token of its own in a temporary folder, with a never-extractable AES-256 key made by OpenSC's
/// `pkcs11-tool` (an independent PKCS #11 client).
struct SoftHSMToken {
    static let module = "/usr/lib/softhsm/libsofthsm2.so"
    static var isInstalled: Bool {
        FileManager.default.fileExists(atPath: module)
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/softhsm2-util")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/pkcs11-tool")
    }

    let folder: URL
    let label = "ichigo-test"
    let pin = "246813"

    init() throws {
        folder = FileManager.default.temporaryDirectory.appendingPathComponent("ichigo-hsm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(
            at: folder.appendingPathComponent("tokens"), withIntermediateDirectories: true)
        try "directories.tokendir = \(folder.path)/tokens\n".write(
            to: folder.appendingPathComponent("softhsm2.conf"), atomically: true, encoding: .utf8)
        setenv("SOFTHSM2_CONF", folder.appendingPathComponent("softhsm2.conf").path, 1)
        try run("/usr/bin/softhsm2-util", "--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", "97531")
    }

    func makeKey(_ keyLabel: String, extractable: Bool = false) throws {
        var arguments = [
            "--module", Self.module, "--login", "--pin", pin, "--token-label", label, "--keygen", "--key-type",
            "AES:32", "--label", keyLabel, "--sensitive",
        ]
        if extractable { arguments.append("--extractable") }
        try run("/usr/bin/pkcs11-tool", arguments)
    }

    func run(_ tool: String, _ arguments: String...) throws { try run(tool, arguments) }

    @discardableResult
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        guard process.terminationStatus == 0 else {
            throw PKCS11Error(function: tool, code: UInt(process.terminationStatus), detail: text)
        }
        return text
    }

    func remove() { try? FileManager.default.removeItem(at: folder) }
}

@Suite(
    "PKCS #11 key-encryption key on SoftHSM2", .serialized,
    .enabled(if: SoftHSMToken.isInstalled, "softhsm2 and opensc are not installed"))
struct SoftHSMTests {
    @Test("a data key wrapped under the HSM's key unwraps to the same bytes; another key or a changed blob refuses")
    func roundTrip() throws {
        let token = try SoftHSMToken()
        defer { token.remove() }
        try token.makeKey("kek")
        try token.makeKey("other-kek")
        let kek = try PKCS11KeyEncryptionKey(
            modulePath: SoftHSMToken.module, tokenLabel: token.label, keyLabel: "kek", pin: token.pin)
        let dataKey = (0..<32).map { _ in UInt8.random(in: 0...255) }
        let wrapped = try kek.wrap(dataKey)
        #expect(wrapped.count == 40)  // RFC 5649: 32 bytes and 8 of integrity check
        #expect(wrapped != dataKey)
        #expect(try kek.unwrap(wrapped) == dataKey)
        var tampered = wrapped
        tampered[5] ^= 1
        #expect(throws: PKCS11Error.self) { try kek.unwrap(tampered) }
        let other = try PKCS11KeyEncryptionKey(
            modulePath: SoftHSMToken.module, tokenLabel: token.label, keyLabel: "other-kek", pin: token.pin)
        #expect(throws: PKCS11Error.self) { try other.unwrap(wrapped) }
    }

    @Test("refused: a wrong PIN, a missing module, token or key, and an extractable key")
    func refusals() throws {
        let token = try SoftHSMToken()
        defer { token.remove() }
        try token.makeKey("kek")
        try token.makeKey("soft", extractable: true)
        func error(_ body: () throws -> Void) -> String {
            do {
                try body()
                return "nothing thrown"
            } catch { return "\(error)" }
        }
        let open = { (module: String, tokenLabel: String, key: String, pin: String) in
            _ = try PKCS11KeyEncryptionKey(modulePath: module, tokenLabel: tokenLabel, keyLabel: key, pin: pin)
        }
        #expect(error { try open(SoftHSMToken.module, token.label, "kek", "000000") }.contains("CKR_PIN_INCORRECT"))
        #expect(error { try open("/nonexistent/libpkcs11.so", token.label, "kek", token.pin) }.contains("cannot load"))
        #expect(error { try open(SoftHSMToken.module, "no-such-token", "kek", token.pin) }.contains("no token labelled"))
        #expect(error { try open(SoftHSMToken.module, token.label, "missing", token.pin) }.contains("no secret key"))
        #expect(error { try open(SoftHSMToken.module, token.label, "soft", token.pin) }.contains("extractable"))
    }
}
