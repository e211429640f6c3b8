import Crypto

/// The hash function under an HOTP/TOTP generator (RFC 6238 §1.2 allows SHA-1, SHA-256 and SHA-512).
public enum OTPAlgorithm: String, Sendable, Hashable, Codable, CaseIterable {
    case sha1 = "SHA1"
    case sha256 = "SHA256"
    case sha512 = "SHA512"

    /// Parses the spelling used in `otpauth://` URIs and PSKC files (`SHA1`, `sha-256`, …).
    public init?(name: String) {
        switch String(name.uppercased().filter { $0 != "-" }) {
        case "SHA1": self = .sha1
        case "SHA256": self = .sha256
        case "SHA512": self = .sha512
        default: return nil
        }
    }
}

/// An HMAC whose key schedule has been computed once, so each counter costs only the hashing.
///
/// Copying the keyed state (a value type) and finalising the copy avoids re-keying for every step.
@usableFromInline
enum KeyedHMAC: Sendable {
    case sha1(HMAC<Insecure.SHA1>)
    case sha256(HMAC<SHA256>)
    case sha512(HMAC<SHA512>)

    @usableFromInline
    init(algorithm: OTPAlgorithm, key: SymmetricKey) {
        switch algorithm {
        case .sha1: self = .sha1(HMAC(key: key))
        case .sha256: self = .sha256(HMAC(key: key))
        case .sha512: self = .sha512(HMAC(key: key))
        }
    }

    /// RFC 4226 §5.3 dynamic truncation of HMAC(K, C), as a 31-bit integer.
    @usableFromInline
    func truncatedValue(counter: UInt64) -> UInt32 {
        var big = counter.bigEndian
        return withUnsafeBytes(of: &big) { counterBytes -> UInt32 in
            switch self {
            case .sha1(var mac):
                mac.update(data: counterBytes)
                return mac.finalize().withUnsafeBytes(Self.dynamicTruncation)
            case .sha256(var mac):
                mac.update(data: counterBytes)
                return mac.finalize().withUnsafeBytes(Self.dynamicTruncation)
            case .sha512(var mac):
                mac.update(data: counterBytes)
                return mac.finalize().withUnsafeBytes(Self.dynamicTruncation)
            }
        }
    }

    @usableFromInline
    static func dynamicTruncation(_ hmac: UnsafeRawBufferPointer) -> UInt32 {
        let offset = Int(hmac[hmac.count - 1] & 0x0f)
        return (UInt32(hmac[offset] & 0x7f) << 24)
            | (UInt32(hmac[offset + 1]) << 16)
            | (UInt32(hmac[offset + 2]) << 8)
            | UInt32(hmac[offset + 3])
    }
}
