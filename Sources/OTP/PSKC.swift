import Crypto
import Foundation
import CryptoExtras

#if canImport(FoundationXML)
    import FoundationXML
#endif

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
    /// RFC 6238), hash SHA-1 unless the algorithm names another.
    public var parameters: TOTPParameters
    /// `AlgorithmParameters/Suite`, when present (OCRA tokens).
    public var ocraSuite: String?
    /// `Data/Counter`, when present.
    public var counter: Int64?
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
    /// - Parameters:
    ///   - data: the file's bytes.
    ///   - key: the pre-shared key or password; `nil` for a file with plain secrets only.
    /// - Throws: `PSKCError` for the first problem, with the key package's position.
    public static func read(_ data: [UInt8], key: PSKCDecryptionKey?) throws(PSKCError) -> [PSKCKey] {
        // Vendors' files hold up to hundreds of thousands of key packages: the container's header and each
        // package are parsed as small documents of their own (with the container's namespace declarations), which
        // keeps the XML parser within its limits and the memory flat.
        let pieces = ContainerPieces(data)
        let root = try XMLTree.parse(pieces.map { $0.rootOpen + $0.header + $0.rootClose } ?? data)
        guard root.name == "KeyContainer" else { throw PSKCError(.malformed, "not a PSKC KeyContainer") }
        let encryptionKey = try Self.encryptionKey(root, key)
        let macKey = try Self.macKey(root, encryptionKey)
        var keys: [PSKCKey] = []
        var seen: [String: Int] = [:]
        let count = pieces?.packages.count ?? root.children(named: "KeyPackage").count
        keys.reserveCapacity(count)
        for index in 0..<count {
            let package: XMLTree
            if let pieces {
                let range = pieces.packages[index]
                let document = try XMLTree.parse(pieces.rootOpen + data[range] + pieces.rootClose)
                guard let found = document.child("KeyPackage") else {
                    throw PSKCError(.malformed, position: index + 1, "KeyPackage not well-formed")
                }
                package = found
            } else {
                package = root.children(named: "KeyPackage")[index]
            }
            let position = index + 1
            let parsed = try Self.key(package, position: position, encryptionKey: encryptionKey, macKey: macKey)
            if let earlier = seen[parsed.serial] {
                throw PSKCError(
                    .duplicateSerial, position: position, "serial \(parsed.serial) also in key package \(earlier)")
            }
            seen[parsed.serial] = position
            keys.append(parsed)
        }
        guard !keys.isEmpty else { throw PSKCError(.malformed, "no KeyPackage") }
        return keys
    }

    /// The key that decrypts the secrets (§6.1 pre-shared, §6.2 PBKDF2), or nil when none is declared.
    private static func encryptionKey(_ root: XMLTree, _ key: PSKCDecryptionKey?) throws(PSKCError) -> SymmetricKey? {
        let derived = root.child("EncryptionKey")?.child("DerivedKey")
        guard let key else {
            return nil
        }
        switch key {
        case .preSharedKey(let bytes):
            guard [16, 24, 32].contains(bytes.count) else {
                throw PSKCError(.wrongKey, "a pre-shared key must be 16, 24 or 32 bytes")
            }
            return SymmetricKey(data: bytes)
        case .password(let password):
            guard let parameters = derived?.child("KeyDerivationMethod")?.child("PBKDF2-params") else {
                throw PSKCError(.wrongKey, "the file does not use a password (no PBKDF2 parameters)")
            }
            guard let saltText = parameters.child("Salt")?.child("Specified")?.text,
                let salt = Data(base64Encoded: saltText.trimmed),
                let rounds = parameters.child("IterationCount").flatMap({ Int($0.text.trimmed) }), rounds > 0
            else { throw PSKCError(.malformed, "PBKDF2 parameters without salt or iteration count") }
            let length = parameters.child("KeyLength").flatMap { Int($0.text.trimmed) } ?? 16
            let prfURI = parameters.child("PRF")?.attributes["Algorithm"] ?? "hmac-sha1"
            let prf: KDF.Insecure.PBKDF2.HashFunction
            switch prfURI.split(separator: "#").last.map(String.init) ?? prfURI {
            case "hmac-sha1": prf = .insecureSHA1
            case "hmac-sha256": prf = .sha256
            case "hmac-sha384": prf = .sha384
            case "hmac-sha512": prf = .sha512
            default: throw PSKCError(.unsupported, "PBKDF2 PRF \(prfURI)")
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

    /// The MAC key (`MACMethod/MACKey`, encrypted under the encryption key) and its algorithm.
    private static func macKey(_ root: XMLTree, _ encryptionKey: SymmetricKey?) throws(PSKCError) -> MACKey? {
        guard let method = root.child("MACMethod") else { return nil }
        let algorithm = try MACKey.Algorithm(uri: method.attributes["Algorithm"] ?? "")
        guard let sealed = method.child("MACKey") else {
            throw PSKCError(.malformed, "MACMethod without MACKey")
        }
        guard let encryptionKey else { throw PSKCError(.keyRequired, "the file is encrypted: give its key or password") }
        let bytes = try decrypt(sealed, with: encryptionKey, position: nil)
        return MACKey(key: SymmetricKey(data: bytes), algorithm: algorithm)
    }

    private struct MACKey {
        enum Algorithm {
            case sha1, sha256, sha384, sha512
            init(uri: String) throws(PSKCError) {
                switch uri.split(separator: "#").last.map(String.init) ?? uri {
                case "hmac-sha1": self = .sha1
                case "hmac-sha256": self = .sha256
                case "hmac-sha384": self = .sha384
                case "hmac-sha512": self = .sha512
                default: throw PSKCError(.unsupported, "MAC method \(uri)")
                }
            }
        }
        let key: SymmetricKey
        let algorithm: Algorithm

        /// Constant-time check of `mac` over `data` (RFC 6030 §6.1.1: the MAC covers IV and ciphertext).
        func isValid(_ mac: [UInt8], for data: [UInt8]) -> Bool {
            switch algorithm {
            case .sha1: HMAC<Insecure.SHA1>.isValidAuthenticationCode(mac, authenticating: data, using: key)
            case .sha256: HMAC<SHA256>.isValidAuthenticationCode(mac, authenticating: data, using: key)
            case .sha384: HMAC<SHA384>.isValidAuthenticationCode(mac, authenticating: data, using: key)
            case .sha512: HMAC<SHA512>.isValidAuthenticationCode(mac, authenticating: data, using: key)
            }
        }
    }

    /// Decrypts an `EncryptedValue`-like element (EncryptionMethod + CipherData/CipherValue), AES-CBC with the IV
    /// prepended to the ciphertext (W3C XML Encryption, RFC 6030 §6.1).
    private static func decrypt(_ element: XMLTree, with key: SymmetricKey, position: Int?) throws(PSKCError) -> [UInt8] {
        let method = element.child("EncryptionMethod")?.attributes["Algorithm"] ?? ""
        guard method.hasSuffix("#aes128-cbc") || method.hasSuffix("#aes192-cbc") || method.hasSuffix("#aes256-cbc")
        else { throw PSKCError(.unsupported, position: position, "encryption method \(method)") }
        let combined = try cipherValue(element, position: position)
        guard combined.count >= 32, combined.count % 16 == 0 else {
            throw PSKCError(.malformed, position: position, "cipher value of \(combined.count) bytes")
        }
        do {
            let iv = try AES._CBC.IV(ivBytes: combined.prefix(16))
            return Array(try AES._CBC.decrypt(combined.dropFirst(16), using: key, iv: iv))
        } catch {
            throw PSKCError(.wrongKey, position: position, "the key or password does not decrypt the file")
        }
    }

    private static func cipherValue(_ element: XMLTree, position: Int?) throws(PSKCError) -> [UInt8] {
        guard let text = element.child("CipherData")?.child("CipherValue")?.text,
            let bytes = Data(base64Encoded: text.trimmed, options: .ignoreUnknownCharacters)
        else { throw PSKCError(.malformed, position: position, "missing or bad CipherValue") }
        return Array(bytes)
    }

    private static func key(
        _ package: XMLTree, position: Int, encryptionKey: SymmetricKey?, macKey: MACKey?
    ) throws(PSKCError) -> PSKCKey {
        guard let key = package.child("Key") else { throw PSKCError(.missingSecret, position: position, "no Key") }
        guard let serial = package.child("DeviceInfo")?.child("SerialNo")?.text.trimmed, !serial.isEmpty else {
            throw PSKCError(.missingSecret, position: position, "no DeviceInfo/SerialNo")
        }
        let algorithm = key.attributes["Algorithm"] ?? ""
        guard let secret = key.child("Data")?.child("Secret") else {
            throw PSKCError(.missingSecret, position: position, "no Data/Secret")
        }
        let bytes: [UInt8]
        if let plain = secret.child("PlainValue") {
            guard let decoded = Data(base64Encoded: plain.text.trimmed, options: .ignoreUnknownCharacters) else {
                throw PSKCError(.malformed, position: position, "PlainValue is not base64")
            }
            bytes = Array(decoded)
        } else if let encrypted = secret.child("EncryptedValue") {
            guard let encryptionKey else {
                throw PSKCError(.keyRequired, position: position, "the secret is encrypted: give the key or password")
            }
            if let macKey {
                guard let macText = secret.child("ValueMAC")?.text,
                    let mac = Data(base64Encoded: macText.trimmed, options: .ignoreUnknownCharacters)
                else { throw PSKCError(.macMismatch, position: position, "no ValueMAC") }
                guard macKey.isValid(Array(mac), for: try cipherValue(encrypted, position: position)) else {
                    throw PSKCError(.macMismatch, position: position, "ValueMAC does not match (tampered, or wrong key)")
                }
            }
            bytes = try decrypt(encrypted, with: encryptionKey, position: position)
        } else {
            throw PSKCError(.missingSecret, position: position, "Secret without a value")
        }
        guard !bytes.isEmpty else { throw PSKCError(.missingSecret, position: position, "empty secret") }
        let parameters = key.child("AlgorithmParameters")
        let suite = parameters?.child("Suite")?.text.trimmed
        let digits = parameters?.child("ResponseFormat")?.attributes["Length"].flatMap { Int($0) } ?? 6
        let period = key.child("Data")?.child("TimeInterval")?.child("PlainValue").flatMap { Int($0.text.trimmed) } ?? 30
        let counter = key.child("Data")?.child("Counter")?.child("PlainValue").flatMap { Int64($0.text.trimmed) }
        let lower = (algorithm + " " + (suite ?? "")).lowercased()
        let hash: OTPAlgorithm =
            lower.contains("sha512") ? .sha512 : lower.contains("sha256") ? .sha256 : .sha1
        return PSKCKey(
            position: position, serial: serial, manufacturer: package.child("DeviceInfo")?.child("Manufacturer")?.text.trimmed,
            keyID: key.attributes["Id"], algorithm: algorithm, seed: Seed(bytes: bytes),
            parameters: TOTPParameters(algorithm: hash, digits: digits, period: period), ocraSuite: suite,
            counter: counter)
    }
}

extension String {
    fileprivate var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// A PSKC file cut at its top level: the container's start tag, what precedes the first key package (encryption
/// and MAC methods), each key package's byte range, and the container's end tag.
struct ContainerPieces {
    let rootOpen: [UInt8]
    let header: [UInt8]
    let packages: [Range<Int>]
    let rootClose: [UInt8]

    /// `nil` when the file does not have the expected shape; the caller then parses it whole.
    init?(_ data: [UInt8]) {
        func find(_ needle: [UInt8], from start: Int) -> Int? {
            guard let first = needle.first, start < data.count else { return nil }
            var i = start
            let last = data.count - needle.count
            while i <= last {
                if data[i] == first {
                    var j = 1
                    while j < needle.count && data[i + j] == needle[j] { j += 1 }
                    if j == needle.count { return i }
                }
                i += 1
            }
            return nil
        }
        func isNameByte(_ byte: UInt8) -> Bool {
            (byte >= 0x30 && byte <= 0x3A) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D || byte == 0x2E
        }
        // The container's start tag and its prefix.
        guard let containerName = find(Array("KeyContainer".utf8), from: 0) else { return nil }
        var open = containerName - 1
        while open >= 0 && isNameByte(data[open]) { open -= 1 }
        guard open >= 0, data[open] == UInt8(ascii: "<"), let openEnd = find([UInt8(ascii: ">")], from: containerName)
        else { return nil }
        guard data[openEnd - 1] != UInt8(ascii: "/") else { return nil }
        let prefix = Array(data[(open + 1)..<containerName])
        rootOpen = Array(data[open...openEnd])
        rootClose = Array("</".utf8) + prefix + Array("KeyContainer>".utf8)
        // Each <prefix:KeyPackage …> … </prefix:KeyPackage>.
        let startTag = Array("<".utf8) + prefix + Array("KeyPackage".utf8)
        let endTag = Array("</".utf8) + prefix + Array("KeyPackage>".utf8)
        var ranges: [Range<Int>] = []
        var cursor = openEnd + 1
        while let start = find(startTag, from: cursor) {
            let after = data[start + startTag.count]
            guard after == UInt8(ascii: ">") || after == UInt8(ascii: " ") || after == UInt8(ascii: "\n")
                || after == UInt8(ascii: "\t") || after == UInt8(ascii: "\r")
            else { return nil }
            guard let end = find(endTag, from: start) else { return nil }
            ranges.append(start..<(end + endTag.count))
            cursor = end + endTag.count
        }
        guard let first = ranges.first else { return nil }
        header = Array(data[(openEnd + 1)..<first.lowerBound])
        packages = ranges
    }
}

/// A minimal element tree: local names (namespace prefixes dropped), attributes, text and children.
final class XMLTree {
    let name: String
    var attributes: [String: String]
    var text = ""
    var childList: [XMLTree] = []

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    func child(_ name: String) -> XMLTree? { childList.first { $0.name == name } }
    func children(named name: String) -> [XMLTree] { childList.filter { $0.name == name } }

    static func parse(_ data: [UInt8]) throws(PSKCError) -> XMLTree {
        let builder = Builder()
        let parser = XMLParser(data: Data(data))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false
        parser.delegate = builder
        guard parser.parse(), let root = builder.root else {
            throw PSKCError(.malformed, "not well-formed XML: \(parser.parserError.map { "\($0)" } ?? "empty")")
        }
        return root
    }

    private final class Builder: NSObject, XMLParserDelegate {
        var root: XMLTree?
        var stack: [XMLTree] = []

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            let local = elementName.split(separator: ":").last.map(String.init) ?? elementName
            var plain: [String: String] = [:]
            for (key, value) in attributes { plain[key.split(separator: ":").last.map(String.init) ?? key] = value }
            let element = XMLTree(name: local, attributes: plain)
            if let parent = stack.last { parent.childList.append(element) } else { root = element }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { stack.last?.text += string }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            _ = stack.popLast()
        }
    }
}

extension PSKC {
    /// Writes TOTP keys as a PSKC file with secrets encrypted under a pre-shared AES-128 key and HMAC-SHA1 value
    /// MACs (RFC 6030 §6.1) — what a vendor delivers. Ichigo uses it for its demo batch; tests check it against
    /// python-pskc.
    public static func write(
        _ keys: [(serial: String, seed: Seed, parameters: TOTPParameters)], preSharedKey: [UInt8],
        manufacturer: String = "Ichigo demo"
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
        for entry in keys {
            let cipher = try seal(entry.seed.bytes)
            let mac = Data(HMAC<Insecure.SHA1>.authenticationCode(for: cipher, using: SymmetricKey(data: macKey)))
            xml += """
                 <pskc:KeyPackage>
                  <pskc:DeviceInfo><pskc:Manufacturer>\(escape(manufacturer))</pskc:Manufacturer><pskc:SerialNo>\(escape(entry.serial))</pskc:SerialNo></pskc:DeviceInfo>
                  <pskc:Key Algorithm="urn:ietf:params:xml:ns:keyprov:pskc:totp">
                   <pskc:AlgorithmParameters><pskc:ResponseFormat Length="\(entry.parameters.digits)"/></pskc:AlgorithmParameters>
                   <pskc:Data>
                    <pskc:Secret>
                     <pskc:EncryptedValue>
                      <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#aes128-cbc"/>
                      <xenc:CipherData><xenc:CipherValue>\(Data(cipher).base64EncodedString())</xenc:CipherValue></xenc:CipherData>
                     </pskc:EncryptedValue>
                     <pskc:ValueMAC>\(mac.base64EncodedString())</pskc:ValueMAC>
                    </pskc:Secret>
                    <pskc:TimeInterval><pskc:PlainValue>\(entry.parameters.period)</pskc:PlainValue></pskc:TimeInterval>
                   </pskc:Data>
                  </pskc:Key>
                 </pskc:KeyPackage>

                """
        }
        xml += "</pskc:KeyContainer>\n"
        return Array(xml.utf8)
    }
}
