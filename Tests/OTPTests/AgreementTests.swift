import Foundation
import OTP
import Testing

#if canImport(Glibc)
    import Glibc
#endif

/// Agreement with an independent implementation: pyotp (pip), over random seeds, times and algorithms.
@Suite("Agreement with pyotp")
struct AgreementTests {
    struct Case {
        let seed: Seed
        let time: Int64
        let parameters: TOTPParameters
    }

    @Test func tenThousandRandomCasesAgreeWithPyotp() throws {
        var generator = SystemRandomNumberGenerator()
        let algorithms: [OTPAlgorithm] = [.sha1, .sha256, .sha512]
        let cases: [Case] = (0..<10_000).map { _ in
            let length = Int.random(in: 16...64, using: &generator)  // pyotp refuses seeds under 112 bits
            return Case(
                seed: Seed(bytes: (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }),
                time: Int64.random(in: 0...4_102_444_800, using: &generator),
                parameters: TOTPParameters(
                    algorithm: algorithms.randomElement(using: &generator)!,
                    digits: Int.random(in: 6...8, using: &generator),
                    period: [30, 60, 90, 15].randomElement(using: &generator)!))
        }
        let input =
            cases.map {
                "\($0.seed.base32) \($0.time) \($0.parameters.algorithm.rawValue) \($0.parameters.digits) \($0.parameters.period)"
            }.joined(separator: "\n") + "\n"

        let script = """
            import sys, hashlib, pyotp
            digests = {"SHA1": hashlib.sha1, "SHA256": hashlib.sha256, "SHA512": hashlib.sha512}
            out = []
            for line in sys.stdin:
                secret, t, alg, digits, period = line.split()
                out.append(pyotp.TOTP(secret, digits=int(digits), digest=digests[alg], interval=int(period)).at(int(t)))
            print("\\n".join(out))
            """
        let theirs = try runPython(script, input: input).split(separator: "\n").map(String.init)
        try #require(theirs.count == cases.count, "pyotp returned \(theirs.count) codes")
        var disagreements = 0
        for (index, item) in cases.enumerated() {
            let ours = TOTP(seed: item.seed, parameters: item.parameters).code(
                at: Date(timeIntervalSince1970: TimeInterval(item.time)))
            if ours.text != theirs[index] { disagreements += 1 }
        }
        #expect(disagreements == 0, "\(disagreements) of \(cases.count) codes differ from pyotp")
    }

    func runPython(_ script: String, input: String) throws -> String {
        // A child that dies early must fail the test, not kill the test process with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script]
        let stdin = Pipe()
        let stdout = Pipe()
        let stderr = Pipe()
        process.standardInput = stdin
        process.standardOutput = stdout
        process.standardError = stderr
        try process.run()
        // Write on another thread so a full pipe cannot deadlock us.
        let data = Data(input.utf8)
        let writer = Thread {
            stdin.fileHandleForWriting.write(data)
            try? stdin.fileHandleForWriting.close()
        }
        writer.start()
        let output = stdout.fileHandleForReading.readDataToEndOfFile()
        let errors = stderr.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw AgreementError(
                message: "python3 failed (is pyotp installed? `pip install pyotp`): "
                    + String(decoding: errors, as: UTF8.self))
        }
        return String(decoding: output, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    struct AgreementError: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
