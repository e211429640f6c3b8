import Foundation
import Ichigo
import IchigoTesting
import OTP
import Testing

/// The importer takes time-based keys only: an HOTP key must not become a TOTP token with a made-up step.
@Suite("Token import")
struct TokenImporterTests {
    static func file(algorithm: String, serial: String, suite: String? = nil) -> [UInt8] {
        Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">
              <KeyPackage>
                <DeviceInfo><Manufacturer>Test</Manufacturer><SerialNo>\(serial)</SerialNo></DeviceInfo>
                <Key Id="1" Algorithm="\(algorithm)">
                  <AlgorithmParameters>\(suite.map { "<Suite>\($0)</Suite>" } ?? "")<ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
                  <Data>
                    <Secret><PlainValue>MTIzNDU2Nzg5MDEyMzQ1Njc4OTA=</PlainValue></Secret>
                    <TimeInterval><PlainValue>60</PlainValue></TimeInterval>
                  </Data>
                </Key>
              </KeyPackage>
            </KeyContainer>
            """.utf8)
    }

    @Test func totpKeysImportAndOthersAreRefused() async throws {
        let key = MasterKey.random()
        let repository = MemoryRepository(chain: AuditChain(masterKey: key))
        let importer = TokenImporter(repository: repository, vault: SeedVault(masterKey: key))
        let summary = try await importer.importPSKC(
            Self.file(algorithm: "urn:ietf:params:xml:ns:keyprov:pskc:totp", serial: "SKTH90000001"), key: nil,
            actor: "test", at: Date())
        #expect(summary.count == 1)
        for algorithm in ["urn:ietf:params:xml:ns:keyprov:pskc:hotp", "urn:ietf:params:xml:ns:keyprov:pskc#OCRA-1"] {
            await #expect(throws: IchigoError.self) {
                _ = try await importer.importPSKC(
                    Self.file(algorithm: algorithm, serial: "SKTH90000002"), key: nil, actor: "test", at: Date())
            }
        }
        #expect(try await repository.token(serial: SerialNumber(rawValue: "SKTH90000002")!) == nil)
    }

    /// A time-based key that also names an OCRA suite (取引認証 with the same seed) keeps it; a suite the server
    /// cannot check (a PIN, no T or C) refuses the file, and nothing is imported.
    @Test func aTimeBasedKeyKeepsItsSigningSuite() async throws {
        let key = MasterKey.random()
        let repository = MemoryRepository(chain: AuditChain(masterKey: key))
        let importer = TokenImporter(repository: repository, vault: SeedVault(masterKey: key))
        let totp = "urn:ietf:params:xml:ns:keyprov:pskc:totp"
        _ = try await importer.importPSKC(
            Self.file(algorithm: totp, serial: "SKTH90000011", suite: "OCRA-1:HOTP-SHA1-6:QN20-T1M"), key: nil,
            actor: "test", at: Date())
        let token = try #require(try await repository.token(serial: SerialNumber(rawValue: "SKTH90000011")!))
        #expect(token.ocraSuite == "OCRA-1:HOTP-SHA1-6:QN20-T1M")
        #expect(token.parameters == .ichigoDefault)
        for suite in ["OCRA-1:HOTP-SHA1-6:QN20-PSHA1-T1M", "OCRA-1:HOTP-SHA1-6:QN20", "OCRA-1:HOTP-SHA1-6:QA20-T1M", "OCRA-2:x"] {
            await #expect(throws: IchigoError.self) {
                _ = try await importer.importPSKC(
                    Self.file(algorithm: totp, serial: "SKTH90000012", suite: suite), key: nil, actor: "test", at: Date())
            }
        }
        #expect(try await repository.token(serial: SerialNumber(rawValue: "SKTH90000012")!) == nil)
    }
}
