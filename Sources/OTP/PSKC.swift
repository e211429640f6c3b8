import Crypto
import Foundation
import CryptoExtras

/// How a PSKC file's secrets are protected (RFC 6030 §6).
public enum PSKCDecryptionKey: Sendable {
    /// A pre-shared AES key (§6.1), as raw bytes.
    case preSharedKey([UInt8])
    /// A password from which the key is derived with PBKDF2 (§6.2).
    case password(String)
}

/// One key package of a PSKC file.
public struct PSKCKey: Sendable {
    /// 1-based position of the `<KeyPackage>` in the file.
    public var position: Int
    /// `DeviceInfo/SerialNo`, as written.
    public var serial: String
    public var manufacturer: String?
    /// `Key/@Id`.
    public var keyID: String?
    /// `Key/@Algorithm`, e.g. `urn:ietf:params:xml:ns:keyprov:pskc:totp`.
    public var algorithm: String
    public var seed: Seed
    /// Digits from `ResponseFormat/@Length` (default 6), period from `Data/TimeInterval` (default 30, RFC 6030 §4.3.4 /
    /// RFC 6238), hash SHA-1 unless the algorithm or `Suite` names SHA-256 or SHA-512. For HOTP and OCRA keys the
    /// period is meaningless (30).
    public var parameters: TOTPParameters
    /// `AlgorithmParameters/Suite` as written: for HOTP and TOTP keys the hash (`HMAC-SHA256`, as RFC 6030 means it), for
    /// OCRA keys the OCRA suite.
    public var suite: String?
    /// The OCRA suite the key signs transactions with (取引認証): an OCRA key's `Suite`, or for a time-based key
    /// Ichigo's `Key/Extensions` (`OCRASuite` in `urn:ichigo:pskc:transaction-signing`). A time-based key's `Suite`
    /// that is an OCRA suite (files Ichigo wrote before the extension) is read here too, and not as its OTP hash.
    public var ocraSuite: String?
    /// `Data/Counter` (plain or encrypted), when present.
    public var counter: Int64?
    /// `Data/Time` (plain or encrypted), when present: for time-based keys, the number of time steps since the
    /// algorithm's start point (RFC 6030 §4.3.4). Ichigo's TOTP counts from the Unix epoch.
    public var time: Int64? = nil
    /// `Data/TimeDrift` (plain or encrypted), when present: the device's clock drift in time steps.
    public var timeDrift: Int64? = nil
}

/// Why a PSKC file could not be read. Nothing is returned half-read.
public struct PSKCError: Error, Sendable, Hashable, CustomStringConvertible {
    /// A stable code; its storage is private so new cases break nobody.
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private let value: String
        private init(_ value: String) { self.value = value }
        public var description: String { value }
        /// Not XML, or not a PSKC `KeyContainer`.
        public static let malformed = Code("pskc.malformed")
        /// An algorithm, encryption or MAC method Ichigo does not support.
        public static let unsupported = Code("pskc.unsupported")
        /// The secrets are encrypted but no key or password was given.
        public static let keyRequired = Code("pskc.key_required")
        /// The key or password does not decrypt the file.
        public static let wrongKey = Code("pskc.wrong_key")
        /// A secret's `ValueMAC` does not match: the file was changed, or the key is wrong.
        public static let macMismatch = Code("pskc.mac_mismatch")
        /// Two key packages carry the same serial.
        public static let duplicateSerial = Code("pskc.duplicate_serial")
        /// A key package without a secret or a serial.
        public static let missingSecret = Code("pskc.missing_secret")
    }

    public let code: Code
    /// The key package concerned, when known (1-based).
    public let position: Int?
    public let detail: String

    public init(_ code: Code, position: Int? = nil, _ detail: String) {
        self.code = code
        self.position = position
        self.detail = detail
    }

    public var description: String {
        (position.map { "key package \($0): " } ?? "") + "\(detail) (\(code))"
    }
}

/// Reads Portable Symmetric Key Container files (RFC 6030), the format token vendors deliver seeds in.
public enum PSKC {
    /// Reads every key package, decrypting the secrets and checking their MACs.
    ///
    /// The file is read as a stream (`PSKCDocument`), one key package at a time, so files of hundreds of thousands
    /// of packages take flat memory. Elements are matched by namespace and local name, whatever their prefixes.
    /// What is refused, rather than guessed at:
    /// - anything not well-formed, and a file that ends before `</KeyContainer>` (a cut file is not a smaller file);
    /// - a document type declaration (entities), and encodings other than UTF-8;
    /// - AES-CBC values without a matching `ValueMAC` (RFC 6030 §6.1.1 requires the MAC), and plain secrets in a
    ///   file that declares encryption or is read with a key (a secret nobody can authenticate);
    /// - codes Ichigo cannot compute: digits other than 6–8, non-decimal codes, SHA-224/SHA-384 OTPs, time steps
    ///   outside 1…3600 s, algorithms other than HOTP, TOTP and OCRA.
    ///
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - key: the pre-shared key or password; `nil` for a file with plain secrets only.
    /// - Throws: `PSKCError` for the first problem, with the key package's position.
    public static func read(_ data: [UInt8], key: PSKCDecryptionKey?) throws(PSKCError) -> [PSKCKey] {
        let reader = Reader(key: key)
        try PSKCDocument.read(data, into: reader)
        guard !reader.keys.isEmpty else { throw PSKCError(.malformed, "no KeyPackage") }
        return reader.keys
    }

    /// The longest secret accepted: an HMAC key longer than a hash block is hashed anyway.
    static let maximumSecretBytes = 1024
    /// The most PBKDF2 rounds run for a file (python-pskc writes 100,000 by default).
    static let maximumIterations = 10_000_000
    /// The time steps accepted, in seconds.
    static let periods = 1...3600

    /// Takes the container's children as the stream delivers them: the header (`EncryptionKey`, `MACMethod`), then
    /// each `KeyPackage`.
    private final class Reader: PSKCDocument.Consumer {
        let key: PSKCDecryptionKey?
        var keys: [PSKCKey] = []
        private var seen: [String: Int] = [:]
        private var encryptionKeyElement: PSKCElement?
        private var macMethodElement: PSKCElement?
        private var header: Header?
        private var hashes: [String: OTPAlgorithm] = [:]

        init(key: PSKCDecryptionKey?) { self.key = key }

        func container(attributes: [String: String]) throws(PSKCError) {
            if let version = attributes["Version"], version != "1.0", version != "1" {
                throw PSKCError(.unsupported, "PSKC version \(version.prefix(20)) (only 1.0 is read)")
            }
        }

        func child(_ element: PSKCElement, position: Int?) throws(PSKCError) {
            guard element.namespace == PSKCNamespace.pskc else { return }  // e.g. ds:Signature: not checked
            switch element.name {
            case "EncryptionKey", "MACMethod":
                guard header == nil else {
                    throw PSKCError(.malformed, "\(element.name) after the first KeyPackage")
                }
                if element.name == "EncryptionKey" {
                    guard encryptionKeyElement == nil else { throw PSKCError(.malformed, "two EncryptionKey elements") }
                    encryptionKeyElement = element
                } else {
                    guard macMethodElement == nil else { throw PSKCError(.malformed, "two MACMethod elements") }
                    macMethodElement = element
                }
            case "KeyPackage":
                guard let position else { return }
                if header == nil {
                    header = try Header(encryptionKey: encryptionKeyElement, macMethod: macMethodElement, key: key)
                }
                let parsed = try PSKC.key(element, position: position, header: header!, hashes: &hashes)
                if let earlier = seen[parsed.serial] {
                    throw PSKCError(
                        .duplicateSerial, position: position, "serial \(parsed.serial) also in key package \(earlier)")
                }
                seen[parsed.serial] = position
                keys.append(parsed)
            default:
                return
            }
        }
    }

    /// What the container's header gives for reading the key packages.
    private struct Header {
        /// The key that decrypts the values (§6.1 pre-shared, §6.2 PBKDF2), when one was given.
        let encryptionKey: SymmetricKey?
        /// The key and algorithm of the value MACs (`MACMethod`), when the file has one.
        let macKey: MACKey?
        /// Whether secrets must be encrypted: the file declares encryption, or the caller gave a key.
        let encrypted: Bool

        init(encryptionKey element: PSKCElement?, macMethod: PSKCElement?, key: PSKCDecryptionKey?) throws(PSKCError) {
            encryptionKey = try PSKC.encryptionKey(element, key)
            macKey = try PSKC.macKey(macMethod, encryptionKey)
            encrypted = element != nil || macMethod != nil || key != nil
        }
    }

    /// The key that decrypts the secrets (§6.1 pre-shared, §6.2 PBKDF2), or nil when none is given.
    private static func encryptionKey(_ element: PSKCElement?, _ key: PSKCDecryptionKey?) throws(PSKCError) -> SymmetricKey? {
        let derived = element?.child("DerivedKey", in: PSKCNamespace.xenc11)
        guard let key else { return nil }
        switch key {
        case .preSharedKey(let bytes):
            guard [16, 24, 32].contains(bytes.count) else {
                throw PSKCError(.wrongKey, "a pre-shared key must be 16, 24 or 32 bytes")
            }
            guard derived == nil else {
                throw PSKCError(.wrongKey, "the file's key is derived from a password, not pre-shared")
            }
            return SymmetricKey(data: bytes)
        case .password(let password):
            guard let derived, let method = derived.child("KeyDerivationMethod", in: PSKCNamespace.xenc11) else {
                throw PSKCError(.wrongKey, "the file does not use a password (no key derivation)")
            }
            let algorithm = method.attributes["Algorithm"] ?? ""
            guard algorithm.hasSuffix("#pbkdf2") else {
                throw PSKCError(.unsupported, "key derivation \(algorithm.prefix(100)) (only PBKDF2 is supported)")
            }
            guard let parameters = method.child("PBKDF2-params", in: PSKCNamespace.xenc11, PSKCNamespace.pkcs5) else {
                throw PSKCError(.malformed, "PBKDF2 without PBKDF2-params")
            }
            // RFC 6030 Figure 7 writes the parameters without a namespace; XML Encryption 1.1 puts them in its own.
            let spaces = [PSKCNamespace.none, PSKCNamespace.xenc11, PSKCNamespace.pkcs5]
            func parameter(_ name: String) -> PSKCElement? {
                parameters.children.first { $0.name == name && spaces.contains($0.namespace) }
            }
            guard let saltText = parameter("Salt")?.children.first(where: { $0.name == "Specified" })?.text,
                let salt = base64(saltText), !salt.isEmpty
            else { throw PSKCError(.malformed, "PBKDF2 parameters without a salt") }
            guard let roundsText = parameter("IterationCount")?.trimmedText, let rounds = Int(roundsText), rounds > 0
            else { throw PSKCError(.malformed, "PBKDF2 parameters without an iteration count") }
            guard rounds <= maximumIterations else {
                throw PSKCError(.unsupported, "PBKDF2 with \(rounds) rounds (at most \(maximumIterations) are run)")
            }
            var length = 16
            if let lengthText = parameter("KeyLength")?.trimmedText {
                guard let value = Int(lengthText), [16, 24, 32].contains(value) else {
                    throw PSKCError(.malformed, "PBKDF2 key length \(lengthText.prefix(20)) (an AES key is 16, 24 or 32 bytes)")
                }
                length = value
            }
            // RFC 8018 gives the PRF as an Algorithm attribute; python-pskc writes it as the element's text.
            let prfElement = parameter("PRF")
            let prfURI = prfElement?.attributes["Algorithm"] ?? prfElement?.trimmedText ?? ""
            let prf: KDF.Insecure.PBKDF2.HashFunction
            switch hmacName(prfURI.isEmpty ? "hmac-sha1" : prfURI) {
            case "hmac-sha1": prf = .insecureSHA1
            case "hmac-sha224": prf = .insecureSHA224
            case "hmac-sha256": prf = .sha256
            case "hmac-sha384": prf = .sha384
            case "hmac-sha512": prf = .sha512
            default: throw PSKCError(.unsupported, "PBKDF2 PRF \(prfURI.prefix(100))")
            }
            do {
                // Vendors' files use few rounds; the count is the file's, not ours to raise.
                return try KDF.Insecure.PBKDF2.deriveKey(
                    from: Array(password.utf8), salt: salt, using: prf, outputByteCount: length,
                    unsafeUncheckedRounds: rounds)
            } catch {
                throw PSKCError(.malformed, "PBKDF2 failed: \(error)")
            }
        }
    }

    /// `http://…#hmac-sha256`, `hmac-sha-256`, … as `hmac-sha256`.
    private static func hmacName(_ uri: String) -> String {
        let name = (uri.split(separator: "#").last.map(String.init) ?? uri).lowercased()
        return name.hasPrefix("hmac-sha-") ? "hmac-sha" + name.dropFirst("hmac-sha-".count) : name
    }

    /// The MAC key (`MACMethod/MACKey`, encrypted under the encryption key) and its algorithm.
    private static func macKey(_ method: PSKCElement?, _ encryptionKey: SymmetricKey?) throws(PSKCError) -> MACKey? {
        guard let method else { return nil }
        let algorithm = try MACKey.Algorithm(uri: method.attributes["Algorithm"] ?? "")
        let sealed = method.children("MACKey")
        guard sealed.count == 1 else {
            throw PSKCError(
                sealed.isEmpty ? .unsupported : .malformed,
                sealed.isEmpty ? "MACMethod without a MACKey" : "MACMethod with \(sealed.count) MACKeys")
        }
        guard let encryptionKey else { throw PSKCError(.keyRequired, "the file is encrypted: give its key or password") }
        let bytes = try decrypt(sealed[0], with: encryptionKey, position: nil, authenticated: false)
        guard !bytes.isEmpty else { throw PSKCError(.wrongKey, position: nil, "the MAC key decrypts to nothing") }
        return MACKey(bytes: bytes, algorithm: algorithm)
    }

    private struct MACKey {
        enum Algorithm {
            case sha1, sha224, sha256, sha384, sha512
            init(uri: String) throws(PSKCError) {
                switch PSKC.hmacName(uri) {
                case "hmac-sha1": self = .sha1
                case "hmac-sha224": self = .sha224
                case "hmac-sha256": self = .sha256
                case "hmac-sha384": self = .sha384
                case "hmac-sha512": self = .sha512
                default:
                    throw PSKCError(
                        .unsupported, "MAC method \(uri.isEmpty ? "(none)" : String(uri.prefix(100))) (HMAC-SHA1, -SHA224, -SHA256, -SHA384 or -SHA512)")
                }
            }
        }
        /// The HMAC keyed once (the key schedule is the costly part for short values); each check copies it.
        private enum Keyed {
            case sha1(HMAC<Insecure.SHA1>)
            case sha224([UInt8])
            case sha256(HMAC<SHA256>)
            case sha384(HMAC<SHA384>)
            case sha512(HMAC<SHA512>)
        }
        private let keyed: Keyed

        init(bytes: [UInt8], algorithm: Algorithm) {
            let key = SymmetricKey(data: bytes)
            switch algorithm {
            case .sha1: keyed = .sha1(HMAC(key: key))
            case .sha224: keyed = .sha224(bytes)
            case .sha256: keyed = .sha256(HMAC(key: key))
            case .sha384: keyed = .sha384(HMAC(key: key))
            case .sha512: keyed = .sha512(HMAC(key: key))
            }
        }

        /// Constant-time check of `mac` over `data` (RFC 6030 §6.1.1: the MAC covers IV and ciphertext).
        func isValid(_ mac: [UInt8], for data: [UInt8]) -> Bool {
            switch keyed {
            case .sha1(var hmac):
                hmac.update(data: data)
                return hmac.finalize() == mac
            case .sha224(let key):
                return SHA224.isValidAuthenticationCode(mac, for: data, key: key)
            case .sha256(var hmac):
                hmac.update(data: data)
                return hmac.finalize() == mac
            case .sha384(var hmac):
                hmac.update(data: data)
                return hmac.finalize() == mac
            case .sha512(var hmac):
                hmac.update(data: data)
                return hmac.finalize() == mac
            }
        }
    }

    /// Decrypts an `EncryptedValue`-like element (`xenc:EncryptionMethod` + `xenc:CipherData/CipherValue`), AES-CBC
    /// with the IV prepended to the ciphertext (W3C XML Encryption, RFC 6030 §6.1).
    ///
    /// A decryption that fails is a wrong key when nothing vouched for the ciphertext (the MAC key), and a broken
    /// file when its MAC matched.
    private static func decrypt(
        _ element: PSKCElement, with key: SymmetricKey, position: Int?, authenticated: Bool,
        cipher: [UInt8]? = nil
    ) throws(PSKCError) -> [UInt8] {
        let bits = try aesBits(element, position: position)
        guard key.bitCount == bits else {
            throw PSKCError(
                .wrongKey, position: position, "aes\(bits)-cbc needs a \(bits / 8)-byte key, not \(key.bitCount / 8)")
        }
        let combined: [UInt8]
        if let cipher { combined = cipher } else { combined = try cipherValue(element, position: position) }
        guard combined.count >= 32, combined.count % 16 == 0 else {
            throw PSKCError(
                .malformed, position: position,
                "cipher value of \(combined.count) bytes (a 16-byte IV and whole 16-byte blocks)")
        }
        do {
            let iv = try AES._CBC.IV(ivBytes: combined.prefix(16))
            return Array(try AES._CBC.decrypt(combined.dropFirst(16), using: key, iv: iv))
        } catch {
            if authenticated {
                throw PSKCError(.malformed, position: position, "the value's MAC matches but it does not decrypt (padding)")
            }
            throw PSKCError(.wrongKey, position: position, "the key or password does not decrypt the file")
        }
    }

    /// The AES key size of the element's `xenc:EncryptionMethod`.
    private static func aesBits(_ element: PSKCElement, position: Int?) throws(PSKCError) -> Int {
        let method = element.child("EncryptionMethod", in: PSKCNamespace.xenc)?.attributes["Algorithm"] ?? ""
        for bits in [128, 192, 256] where method == PSKCNamespace.xenc + "aes\(bits)-cbc" { return bits }
        throw PSKCError(
            .unsupported, position: position,
            "encryption method \(method.isEmpty ? "(none)" : String(method.prefix(100))) (AES-CBC is supported)")
    }

    private static func cipherValue(_ element: PSKCElement, position: Int?) throws(PSKCError) -> [UInt8] {
        let data = element.children("CipherData", in: PSKCNamespace.xenc)
        let values = data.first?.children("CipherValue", in: PSKCNamespace.xenc) ?? []
        guard data.count == 1, values.count == 1, let bytes = base64(values[0].text) else {
            throw PSKCError(.malformed, position: position, "missing or bad xenc:CipherData/CipherValue")
        }
        return bytes
    }

    /// Strict base64 once white space (line wrapping, indentation) is removed.
    private static func base64(_ text: String) -> [UInt8]? {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        for byte in text.utf8 where byte != 0x20 && byte != 0x0A && byte != 0x0D && byte != 0x09 { bytes.append(byte) }
        return Data(base64Encoded: Data(bytes)).map(Array.init)
    }

    /// A `Data` field's value: the text of its `PlainValue`, or its `EncryptedValue` decrypted once its `ValueMAC`
    /// matched.
    private enum FieldValue {
        case plain(String)
        case decrypted([UInt8])
    }

    private static func fieldValue(
        _ field: PSKCElement, position: Int, header: Header
    ) throws(PSKCError) -> FieldValue {
        let plains = field.children("PlainValue")
        let encrypted = field.children("EncryptedValue")
        let name = field.name
        switch (plains.count, encrypted.count) {
        case (1, 0):
            return .plain(plains[0].trimmedText)
        case (0, 1):
            break
        case (0, 0):
            if name == "Secret" { throw PSKCError(.missingSecret, position: position, "Secret without a value") }
            throw PSKCError(.malformed, position: position, "\(name) without PlainValue or EncryptedValue")
        default:
            throw PSKCError(
                .malformed, position: position,
                "\(name) with \(plains.count) PlainValue and \(encrypted.count) EncryptedValue elements (one is allowed)")
        }
        let value = encrypted[0]
        _ = try aesBits(value, position: position)
        guard let encryptionKey = header.encryptionKey else {
            throw PSKCError(.keyRequired, position: position, "the \(name) is encrypted: give the key or password")
        }
        guard let macKey = header.macKey else {
            throw PSKCError(
                .malformed, position: position,
                "the \(name) is AES-CBC encrypted but the file has no MACMethod (RFC 6030 §6.1.1 requires a MAC)")
        }
        let macs = field.children("ValueMAC")
        guard macs.count == 1 else {
            throw PSKCError(.macMismatch, position: position, macs.isEmpty ? "no ValueMAC for the \(name)" : "\(macs.count) ValueMACs")
        }
        let cipher = try cipherValue(value, position: position)
        guard let mac = base64(macs[0].text), macKey.isValid(mac, for: cipher) else {
            throw PSKCError(.macMismatch, position: position, "the \(name)'s ValueMAC does not match (tampered, or wrong key)")
        }
        return .decrypted(try decrypt(value, with: encryptionKey, position: position, authenticated: true, cipher: cipher))
    }

    /// An integer field (`Counter`, `Time`, `TimeInterval`, `TimeDrift`): decimal text when plain, big-endian
    /// bytes when encrypted (as python-pskc writes them).
    private static func integer(
        _ name: String, in data: PSKCElement, position: Int, header: Header
    ) throws(PSKCError) -> Int64? {
        let fields = data.children(name)
        guard fields.count <= 1 else { throw PSKCError(.malformed, position: position, "\(fields.count) \(name) elements") }
        guard let field = fields.first else { return nil }
        switch try fieldValue(field, position: position, header: header) {
        case .plain(let text):
            guard let value = Int64(text) else {
                throw PSKCError(.malformed, position: position, "\(name) \(text.prefix(30)) is not a 64-bit integer")
            }
            return value
        case .decrypted(let bytes):
            guard !bytes.isEmpty else { throw PSKCError(.malformed, position: position, "\(name) decrypts to nothing") }
            let significant = bytes.drop { $0 == 0 }
            guard significant.count < 8 || (significant.count == 8 && significant.first! < 0x80) else {
                throw PSKCError(.unsupported, position: position, "\(name) of \(significant.count) bytes (over 63 bits)")
            }
            return significant.reduce(Int64(0)) { $0 << 8 | Int64($1) }
        }
    }

    /// The OTP hash a key names in its algorithm URI or OCRA/`Suite` text (`HMAC-SHA256`, `OCRA-1:HOTP-SHA512-8:…`).
    private static func hash(_ text: String, position: Int) throws(PSKCError) -> OTPAlgorithm {
        let compact = text.uppercased().filter { $0 != "-" && $0 != "_" }
        for unsupported in ["SHA224", "SHA384"] where compact.contains(unsupported) {
            throw PSKCError(
                .unsupported, position: position,
                "\(unsupported) one-time passwords are not supported (SHA-1, SHA-256 and SHA-512 are)")
        }
        return compact.contains("SHA512") ? .sha512 : compact.contains("SHA256") ? .sha256 : .sha1
    }

    private static func key(
        _ package: PSKCElement, position: Int, header: Header, hashes: inout [String: OTPAlgorithm]
    ) throws(PSKCError) -> PSKCKey {
        let keyElements = package.children("Key")
        guard keyElements.count <= 1 else {
            throw PSKCError(.malformed, position: position, "\(keyElements.count) Key elements in one KeyPackage")
        }
        guard let key = keyElements.first else { throw PSKCError(.missingSecret, position: position, "no Key") }
        let info = package.child("DeviceInfo")
        guard let serial = info?.child("SerialNo")?.trimmedText, !serial.isEmpty else {
            throw PSKCError(.missingSecret, position: position, "no DeviceInfo/SerialNo")
        }
        guard serial.count <= 128 else { throw PSKCError(.malformed, position: position, "a serial over 128 characters") }

        let algorithm = key.attributes["Algorithm"] ?? ""
        let parameters = key.child("AlgorithmParameters")
        let suite = parameters?.child("Suite")?.trimmedText
        let signingExtension = key.children("Extensions").lazy
            .compactMap { $0.child("OCRASuite", in: PSKCNamespace.transactionSigning)?.trimmedText }.first
        // An OCRA suite in a HOTP or TOTP key's Suite names how it signs, not the hash of its one-time passwords.
        let suiteIsOCRA = suite?.uppercased().hasPrefix("OCRA-") == true
        let isOCRAKey = algorithm.lowercased().contains("ocra")
        let hashSuite = suiteIsOCRA && !isOCRAKey ? "" : (suite ?? "")
        // A file names few algorithms: each (algorithm, suite) pair is checked once.
        let hash: OTPAlgorithm
        let pair = algorithm + "\u{1}" + hashSuite
        if let known = hashes[pair] {
            hash = known
        } else {
            let lowered = algorithm.lowercased()
            guard lowered.hasSuffix(":totp") || lowered.hasSuffix("#totp") || lowered.hasSuffix(":hotp")
                || lowered.hasSuffix("#hotp") || lowered.contains("ocra")
            else {
                throw PSKCError(
                    .unsupported, position: position,
                    "key algorithm \(algorithm.isEmpty ? "(none)" : String(algorithm.prefix(100))) (HOTP, TOTP and OCRA are read)")
            }
            hash = try Self.hash(algorithm + " " + hashSuite, position: position)
            hashes[pair] = hash
        }
        var digits = 6
        if let format = parameters?.child("ResponseFormat") {
            if let encoding = format.attributes["Encoding"], encoding.uppercased() != "DECIMAL" {
                throw PSKCError(.unsupported, position: position, "\(encoding.prefix(20)) codes (decimal codes are)")
            }
            if let length = format.attributes["Length"] {
                guard let value = Int(length) else {
                    throw PSKCError(.malformed, position: position, "ResponseFormat Length \(length.prefix(20))")
                }
                digits = value
            }
        }
        guard OTPCode.allowedLengths.contains(digits) else {
            throw PSKCError(.unsupported, position: position, "\(digits)-digit codes (6 to 8 digits are supported)")
        }

        let dataElements = key.children("Data")
        guard dataElements.count <= 1 else { throw PSKCError(.malformed, position: position, "\(dataElements.count) Data elements") }
        let secrets = dataElements.first?.children("Secret") ?? []
        guard secrets.count <= 1 else { throw PSKCError(.malformed, position: position, "\(secrets.count) Secret elements") }
        guard let data = dataElements.first, let secret = secrets.first else {
            throw PSKCError(.missingSecret, position: position, "no Data/Secret")
        }
        let bytes: [UInt8]
        switch try fieldValue(secret, position: position, header: header) {
        case .plain(let text):
            guard !header.encrypted else {
                throw PSKCError(
                    .malformed, position: position,
                    "a plain secret in an encrypted file (nothing authenticates it): refused")
            }
            guard let decoded = base64(text) else {
                throw PSKCError(.malformed, position: position, "the secret's PlainValue is not base64")
            }
            bytes = decoded
        case .decrypted(let decrypted):
            bytes = decrypted
        }
        guard !bytes.isEmpty else { throw PSKCError(.missingSecret, position: position, "empty secret") }
        guard bytes.count <= maximumSecretBytes else {
            throw PSKCError(.unsupported, position: position, "a secret of \(bytes.count) bytes (at most \(maximumSecretBytes))")
        }

        let counter = try integer("Counter", in: data, position: position, header: header)
        if let counter, counter < 0 { throw PSKCError(.malformed, position: position, "negative Counter \(counter)") }
        let time = try integer("Time", in: data, position: position, header: header)
        let drift = try integer("TimeDrift", in: data, position: position, header: header)
        var period = 30
        if let interval = try integer("TimeInterval", in: data, position: position, header: header) {
            guard interval >= periods.lowerBound, interval <= periods.upperBound else {
                throw PSKCError(
                    .unsupported, position: position,
                    "time step of \(interval) seconds (\(periods.lowerBound) to \(periods.upperBound) are supported)")
            }
            period = Int(interval)
        }
        return PSKCKey(
            position: position, serial: serial, manufacturer: info?.child("Manufacturer")?.trimmedText,
            keyID: key.attributes["Id"], algorithm: algorithm, seed: Seed(bytes: bytes),
            parameters: TOTPParameters(algorithm: hash, digits: digits, period: period), suite: suite,
            ocraSuite: signingExtension ?? (suiteIsOCRA ? suite : nil),
            counter: counter, time: time, timeDrift: drift)
    }
}

extension PSKC {
    /// Writes TOTP keys as a PSKC file with secrets encrypted under a pre-shared AES-128 key and HMAC-SHA1 value
    /// MACs (RFC 6030 §6.1) — what a vendor delivers. Ichigo uses it for its demo batch; tests check it against
    /// python-pskc.
    /// Each TOTP key's `AlgorithmParameters/Suite` names its hash (`HMAC-SHA1`), as RFC 6030 has it for
    /// HMAC-based algorithms, so that no vendor's tool reads anything else there as the TOTP algorithm.
    /// - Parameter ocraSuite: an OCRA suite for transaction signing with the same seed (the bank's 取引認証 suite),
    ///   written in each key's `Extensions` as `<OCRASuite>` in `urn:ichigo:pskc:transaction-signing`; none if `nil`.
    public static func write(
        _ keys: [(serial: String, seed: Seed, parameters: TOTPParameters)], preSharedKey: [UInt8],
        manufacturer: String = "Ichigo demo", ocraSuite: String? = nil
    ) throws -> [UInt8] {
        let key = SymmetricKey(data: preSharedKey)
        let macKey = SymmetricKey(size: .bits256).withUnsafeBytes { Array($0.prefix(20)) }
        func seal(_ bytes: [UInt8]) throws -> [UInt8] {
            let iv = AES._CBC.IV()
            return Array(iv) + Array(try AES._CBC.encrypt(bytes, using: key, iv: iv))
        }
        func escape(_ text: String) -> String {
            text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
        }
        var xml = """
            <?xml version="1.0" encoding="UTF-8"?>
            <pskc:KeyContainer xmlns:pskc="urn:ietf:params:xml:ns:keyprov:pskc" xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Version="1.0">
             <pskc:EncryptionKey/>
             <pskc:MACMethod Algorithm="http://www.w3.org/2000/09/xmldsig#hmac-sha1">
              <pskc:MACKey>
               <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
               <xenc:CipherData><xenc:CipherValue>\(Data(try seal(macKey)).base64EncodedString())</xenc:CipherValue></xenc:CipherData>
              </pskc:MACKey>
             </pskc:MACMethod>

            """
        let signing = ocraSuite.map {
            """

                   <pskc:Extensions definition="\(PSKCNamespace.transactionSigning)"><ichigo:OCRASuite xmlns:ichigo="\(PSKCNamespace.transactionSigning)">\(escape($0))</ichigo:OCRASuite></pskc:Extensions>
            """
        } ?? ""
        for entry in keys {
            let cipher = try seal(entry.seed.bytes)
            let mac = Data(HMAC<Insecure.SHA1>.authenticationCode(for: cipher, using: SymmetricKey(data: macKey)))
            xml += """
                 <pskc:KeyPackage>
                  <pskc:DeviceInfo><pskc:Manufacturer>\(escape(manufacturer))</pskc:Manufacturer><pskc:SerialNo>\(escape(entry.serial))</pskc:SerialNo></pskc:DeviceInfo>
                  <pskc:Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
                   <pskc:AlgorithmParameters><pskc:Suite>HMAC-\(entry.parameters.algorithm.rawValue)</pskc:Suite><pskc:ResponseFormat Length="\(entry.parameters.digits)"/></pskc:AlgorithmParameters>
                   <pskc:Data>
                    <pskc:Secret>
                     <pskc:EncryptedValue>
                      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
                      <xenc:CipherData><xenc:CipherValue>\(Data(cipher).base64EncodedString())</xenc:CipherValue></xenc:CipherData>
                     </pskc:EncryptedValue>
                     <pskc:ValueMAC>\(mac.base64EncodedString())</pskc:ValueMAC>
                    </pskc:Secret>
                    <pskc:TimeInterval><pskc:PlainValue>\(entry.parameters.period)</pskc:PlainValue></pskc:TimeInterval>
                   </pskc:Data>\(signing)
                  </pskc:Key>
                 </pskc:KeyPackage>

                """
        }
        xml += "</pskc:KeyContainer>\n"
        return Array(xml.utf8)
    }
}
