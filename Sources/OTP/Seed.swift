import Crypto

/// A token's shared secret: raw bytes, never text. Base32 only at the edges (`otpauth://`).
public struct Seed: Sendable {
    /// The key for HMAC.
    public let key: SymmetricKey

    /// Wraps raw seed bytes.
    public init<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        self.key = SymmetricKey(data: Array(bytes))
    }

    /// A new random seed from the system's secure generator.
    ///
    /// - Parameter byteCount: 20 bytes suits SHA-1 (RFC 4226 §4 asks for at least 16; 20 is recommended).
    public static func random(byteCount: Int = 20) -> Seed {
        Seed(key: SymmetricKey(size: .init(bitCount: byteCount * 8)))
    }

    init(key: SymmetricKey) { self.key = key }

    /// The number of bytes in the seed.
    public var byteCount: Int { key.bitCount / 8 }

    /// Calls `body` with the raw bytes. Do not keep or log them.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try key.withUnsafeBytes(body)
    }

    /// The raw bytes. Do not keep or log them.
    public var bytes: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The seed in RFC 4648 base32 without padding, as `otpauth://` URIs carry it.
    public var base32: String { Base32.encode(bytes, padding: false) }
}

extension Seed: Equatable {
    /// Constant-time comparison (swift-crypto's `SymmetricKey` equality).
    public static func == (lhs: Seed, rhs: Seed) -> Bool { lhs.key == rhs.key }
}
