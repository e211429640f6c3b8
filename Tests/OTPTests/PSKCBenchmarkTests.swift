import Foundation
import OTP
import Testing

/// Times `PSKC.read` on a large file. Off unless `PSKC_BENCH_FILE` names a PSKC file and `PSKC_BENCH_KEY` its
/// pre-shared key in hex (`scripts/bench-import` writes such a pair; so does `scripts/make-pskc`):
///
///     PSKC_BENCH_FILE=batch.xml PSKC_BENCH_KEY=$(cat batch.key) swift test --filter PSKCBenchmark
@Suite("PSKC.read benchmark")
struct PSKCBenchmarkTests {
    static let environment = ProcessInfo.processInfo.environment

    @Test(.enabled(if: environment["PSKC_BENCH_FILE"] != nil))
    func readLargeFile() throws {
        let path = try #require(Self.environment["PSKC_BENCH_FILE"])
        let hex = try #require(Self.environment["PSKC_BENCH_KEY"]).filter { !$0.isWhitespace }
        let key = stride(from: 0, to: hex.count, by: 2).compactMap { offset -> UInt8? in
            let start = hex.index(hex.startIndex, offsetBy: offset)
            return UInt8(hex[start..<hex.index(start, offsetBy: 2)], radix: 16)
        }
        let data = try #require(FileManager.default.contents(atPath: path))
        let bytes = Array(data)
        let clock = ContinuousClock()
        var keys: [PSKCKey] = []
        let elapsed = try clock.measure { keys = try PSKC.read(bytes, key: .preSharedKey(key)) }
        print("PSKC.read: \(keys.count) keys from \(bytes.count) bytes in \(elapsed)")
        let expected = Self.environment["PSKC_BENCH_COUNT"].flatMap { Int($0) } ?? 100_000
        #expect(keys.count == expected)
        #expect(Set(keys.map(\.serial)).count == keys.count)
    }
}
