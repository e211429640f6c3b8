import Foundation
import Ichigo
import IchigoTesting
import Testing

/// The importer takes time-based keys only: an HOTP key must not become a TOTP token with a made-up step.
@Suite("Token import")
struct TokenImporterTests {
    static func file(algorithm: String, serial: String) -> [UInt8] {
        Array(
            """
            <?xml version="1.0" encoding="UTF-8"?>
            <KeyContainer xmlns="urn:ietf:params:xml:ns:keyprov:pskc" Version="1.0">
              <KeyPackage>
                <DeviceInfo><Manufacturer>Test</Manufacturer><SerialNo>\(serial)</SerialNo></DeviceInfo>
                <Key Id="1" Algorithm="\(algorithm)">
                  <AlgorithmParameters><ResponseFormat Length="6" Encoding="DECIMAL"/></AlgorithmParameters>
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
}
