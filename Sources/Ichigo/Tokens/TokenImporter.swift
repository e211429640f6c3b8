import Foundation
import OTP

/// Reads a vendor's PSKC file into sealed hardware tokens and stores them all, or none.
public struct TokenImporter: Sendable {
    public let repository: any OperatorRepository
    public let vault: SeedVault

    public init(repository: any OperatorRepository, vault: SeedVault) {
        self.repository = repository
        self.vault = vault
    }

    /// What an import did.
    public struct Summary: Sendable {
        public var count: Int
        public var serials: [SerialNumber]
    }

    /// Imports the key packages of a PSKC file as hardware tokens in the bank's inventory (state `issued`, no
    /// contract). Every package is checked before anything is written; the write is one transaction.
    ///
    /// - Parameter progress: called with (done, total) while preparing, for a progress bar.
    /// - Throws: `importFailed` with the position and reason of the first bad key package, or a duplicate.
    public func importPSKC(
        _ data: [UInt8], key: PSKCDecryptionKey?, actor: String, at now: Date,
        progress: (@Sendable (Int, Int) -> Void)? = nil
    ) async throws -> Summary {
        let keys: [PSKCKey]
        do {
            keys = try PSKC.read(data, key: key)
        } catch {
            throw IchigoError(.importFailed, detail: error.description)
        }
        var tokens: [Token] = []
        var audit: [AuditEvent] = []
        tokens.reserveCapacity(keys.count)
        audit.reserveCapacity(keys.count)
        for (index, key) in keys.enumerated() {
            guard let serial = SerialNumber(rawValue: key.serial), serial.kind == .hardware else {
                throw IchigoError(
                    .importFailed,
                    detail: "key package \(key.position): serial \(key.serial) is not a hardware serial (SKTH + digits)")
            }
            // Ichigo's hardware tokens are time-based: an HOTP (event) or OCRA key would otherwise be read as a
            // TOTP key with a meaningless 30-second step.
            let algorithm = key.algorithm.lowercased()
            guard algorithm.hasSuffix(":totp") || algorithm.hasSuffix("#totp") else {
                throw IchigoError(
                    .importFailed,
                    detail: "key package \(key.position): algorithm \(key.algorithm) is not TOTP; Ichigo's hardware tokens are time-based")
            }
            guard OTPCode.allowedLengths.contains(key.parameters.digits), (10...300).contains(key.parameters.period)
            else {
                throw IchigoError(
                    .importFailed, detail: "key package \(key.position): unsupported digits or time step")
            }
            // A time-based key may also name an OCRA suite (`AlgorithmParameters/Suite`) for transaction signing
            // (取引認証) with the same seed: kept if the server can check it, else the file is refused.
            if let text = key.ocraSuite {
                let suite: OCRASuite
                do {
                    suite = try OCRASuite(text)
                } catch {
                    throw IchigoError(
                        .importFailed, detail: "key package \(key.position): Suite \(text.prefix(60)): \(error.detail)")
                }
                if let problem = TransferSigningPolicy.problem(with: suite) {
                    throw IchigoError(.importFailed, detail: "key package \(key.position): \(problem)")
                }
            }
            let id = TokenID.random()
            tokens.append(
                Token(
                    id: id, serial: serial, kind: .hardware, state: .issued, sealedSeed: try vault.seal(key.seed, for: id),
                    parameters: key.parameters, createdAt: now, ocraSuite: key.ocraSuite))
            audit.append(
                AuditEvent(
                    at: now, actor: actor, action: "token.import", subject: serial.rawValue, outcome: "ok",
                    reason: "position=\(key.position) manufacturer=\(key.manufacturer ?? "-")"))
            if index % 1000 == 999 { progress?(index + 1, keys.count) }
        }
        progress?(keys.count, keys.count)
        try await repository.importTokens(tokens, audit: audit)
        return Summary(count: tokens.count, serials: tokens.map(\.serial))
    }
}

