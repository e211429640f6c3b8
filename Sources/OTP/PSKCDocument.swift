import Foundation

#if canImport(FoundationXML)
    import FoundationXML
#endif

/// The XML namespaces a PSKC file uses (RFC 6030 §4, §6; W3C XML Encryption 1.0 and 1.1; PKCS #5 v2.0 as in
/// RFC 6030 §6.2). Elements are matched on namespace and local name, so any prefix works.
enum PSKCNamespace {
    static let pskc = "urn:ietf:params:xml:ns:keyprov:pskc"
    static let xenc = "http://www.w3.org/2001/04/xmlenc#"
    static let xenc11 = "http://www.w3.org/2009/xmlenc11#"
    static let ds = "http://www.w3.org/2000/09/xmldsig#"
    static let pkcs5 = "http://www.rsasecurity.com/rsalabs/pkcs/schemas/pkcs-5v2-0#"
    /// Elements without a namespace (the children of `PBKDF2-params` in RFC 6030 Figure 7).
    static let none = ""
    /// Ichigo's key extension (RFC 6030 `Key/Extensions`): the OCRA suite for transaction signing (取引認証)
    /// with a time-based key's seed, `<Extensions definition="…"><OCRASuite>…</OCRASuite></Extensions>`.
    static let transactionSigning = "urn:ichigo:pskc:transaction-signing"
}

/// One element of a PSKC file: namespace, local name, unqualified attributes, text and children.
struct PSKCElement: Sendable {
    var namespace: String
    var name: String
    var attributes: [String: String]
    var text = ""
    var children: [PSKCElement] = []

    /// The first child with this local name in one of `namespaces`.
    func child(_ name: String, in namespaces: String...) -> PSKCElement? {
        for child in children where child.name == name && namespaces.contains(child.namespace) { return child }
        return nil
    }

    /// The first child in the PSKC namespace with this local name.
    func child(_ name: String) -> PSKCElement? {
        for child in children where child.name == name && child.namespace == PSKCNamespace.pskc { return child }
        return nil
    }

    /// Every child in the PSKC namespace with this local name.
    func children(_ name: String) -> [PSKCElement] {
        var found: [PSKCElement] = []
        for child in children where child.name == name && child.namespace == PSKCNamespace.pskc { found.append(child) }
        return found
    }

    /// Every child with this local name in `namespace`.
    func children(_ name: String, in namespace: String) -> [PSKCElement] {
        var found: [PSKCElement] = []
        for child in children where child.name == name && child.namespace == namespace { found.append(child) }
        return found
    }

    func `is`(_ name: String, in namespace: String = PSKCNamespace.pskc) -> Bool {
        self.name == name && self.namespace == namespace
    }

    /// The text without surrounding white space (base64 values are often wrapped and indented).
    var trimmedText: String {
        func isSpace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 }
        guard let first = text.utf8.first, let last = text.utf8.last, isSpace(first) || isSpace(last) else { return text }
        return text.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

/// Reads a PSKC file as a stream: the `KeyContainer` root is checked, and each of its children (`EncryptionKey`,
/// `MACMethod`, every `KeyPackage`, …) is handed over as a small tree as soon as it ends, then dropped.
///
/// Vendors' files hold hundreds of thousands of key packages: libxml2 is fed in chunks through an `InputStream`
/// (one huge chunk trips its input limits) and memory stays flat. Any XML error ends the reading: in recovery
/// mode libxml2 would carry on, and `XMLParser.parse()` even returns `true` for a stream cut short, so errors are
/// taken from the delegate and the root's end tag must have been seen.
enum PSKCDocument {
    /// What the delegate needs to know about the container's children.
    protocol Consumer: AnyObject {
        /// The `KeyContainer` start tag's attributes.
        func container(attributes: [String: String]) throws(PSKCError)
        /// A child of the container, complete; `position` is its 1-based `KeyPackage` number, if it is one.
        func child(_ element: PSKCElement, position: Int?) throws(PSKCError)
    }

    /// Streams `data` to `consumer`; throws the first problem, the consumer's or the parser's.
    static func read(_ data: [UInt8], into consumer: some Consumer) throws(PSKCError) {
        try checkProlog(data)
        let streamer = Streamer(consumer: consumer)
        // On Linux the stream reads the caller's bytes in place: `InputStream(data:)` copies them (tens of
        // megabytes for a large file). The parse ends before the buffer is released.
        let (finished, parserError) = data.withUnsafeBufferPointer { buffer -> (Bool, (any Error)?) in
            #if canImport(FoundationXML)
                let stream: InputStream = BufferStream(buffer)
            #else
                let stream = InputStream(data: Data(buffer))
            #endif
            let parser = XMLParser(stream: stream)
            parser.shouldProcessNamespaces = true
            parser.shouldResolveExternalEntities = false
            parser.delegate = streamer
            return (parser.parse(), parser.parserError)
        }
        if let failure = streamer.failure { throw failure }
        guard finished, parserError == nil else {
            throw PSKCError(.malformed, position: streamer.openPackage, "not well-formed XML (parser error)")
        }
        guard streamer.sawRoot else { throw PSKCError(.malformed, "not XML: no root element") }
        guard streamer.closedRoot else {
            throw PSKCError(.malformed, position: streamer.openPackage, "the file ends before </KeyContainer>")
        }
    }

    /// Refuses, before libxml2 sees them, files whose prolog holds a document type declaration (entity tricks: the
    /// parser substitutes entities and loads nothing, but PSKC has no DTD, so none is read at all), files not in
    /// UTF-8 (the only encoding this check can see through, so EBCDIC or UTF-16 cannot hide a DTD from it), and files
    /// whose first markup is not `<`.
    static func checkProlog(_ data: [UInt8]) throws(PSKCError) {
        if data.starts(with: [0xFE, 0xFF]) || data.starts(with: [0xFF, 0xFE]) || data.prefix(4).contains(0) {
            throw PSKCError(.unsupported, "only UTF-8 PSKC files are read")
        }
        var index = data.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        func skip(past terminator: [UInt8]) -> Int? {
            var at = index
            while at + terminator.count <= data.count {
                if data[at..<(at + terminator.count)].elementsEqual(terminator) { return at + terminator.count }
                at += 1
            }
            return nil
        }
        if data[index...].starts(with: Array("<?xml".utf8)), let end = skip(past: Array("?>".utf8)) {
            try checkDeclaration(String(decoding: data[index..<end], as: UTF8.self))
            index = end
        }
        while index < data.count {
            switch data[index] {
            case 0x20, 0x09, 0x0A, 0x0D:
                index += 1
            case UInt8(ascii: "<") where data[index...].starts(with: Array("<?".utf8)):
                guard let next = skip(past: Array("?>".utf8)) else { return }
                index = next
            case UInt8(ascii: "<") where data[index...].starts(with: Array("<!--".utf8)):
                guard let next = skip(past: Array("-->".utf8)) else { return }
                index = next
            case UInt8(ascii: "<") where data[index...].starts(with: Array("<!".utf8)):
                throw PSKCError(.malformed, "a document type declaration is not allowed in a PSKC file")
            case UInt8(ascii: "<"):
                return
            default:
                throw PSKCError(.malformed, "not XML: the file does not start with markup")
            }
        }
    }

    /// The XML declaration may name UTF-8 (or its subset US-ASCII) only.
    private static func checkDeclaration(_ declaration: String) throws(PSKCError) {
        guard let range = declaration.range(of: "encoding") else { return }
        let rest = declaration[range.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" || $0 == "\n" || $0 == "\r" }
        guard let quote = rest.first, quote == "\"" || quote == "'" else { return }
        let name = rest.dropFirst().prefix { $0 != quote }.lowercased()
        guard name == "utf-8" || name == "us-ascii" else {
            throw PSKCError(.unsupported, "only UTF-8 PSKC files are read (the file declares \(name.prefix(40)))")
        }
    }

    #if canImport(FoundationXML)
    /// An `InputStream` over bytes the caller keeps alive for the parse: `XMLParser` pulls them in chunks.
    private final class BufferStream: InputStream {
        private let buffer: UnsafeBufferPointer<UInt8>
        private var offset = 0

        init(_ buffer: UnsafeBufferPointer<UInt8>) {
            self.buffer = buffer
            super.init(data: Data())
        }

        override func open() {}
        override func close() {}
        override var hasBytesAvailable: Bool { offset < buffer.count }
        override var streamError: (any Error)? { nil }

        override func read(_ destination: UnsafeMutablePointer<UInt8>, maxLength: Int) -> Int {
            let count = min(maxLength, buffer.count - offset)
            guard count > 0, let base = buffer.baseAddress else { return 0 }
            destination.update(from: base + offset, count: count)
            offset += count
            return count
        }
    }
    #endif

    /// The `XMLParserDelegate`: keeps a stack of open elements below the root, hands each finished child of the
    /// root to the consumer, and stops at the first problem.
    private final class Streamer: NSObject, XMLParserDelegate {
        let consumer: any Consumer
        private(set) var failure: PSKCError?
        private(set) var sawRoot = false
        private(set) var closedRoot = false
        /// The number of the `KeyPackage` being read, while one is open.
        private(set) var openPackage: Int?
        private var packages = 0
        private var depth = 0
        private var stack: [PSKCElement] = []

        /// The deepest nesting a PSKC file needs is under 10 (KeyContainer/…/CipherValue); libxml2 would allow 256.
        static let maximumDepth = 24
        /// The longest text of one element.
        static let maximumText = 65_536

        init(consumer: any Consumer) { self.consumer = consumer }

        private func fail(_ error: PSKCError, _ parser: XMLParser) {
            guard failure == nil else { return }
            failure = error
            parser.abortParsing()
        }

        func parser(
            _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
            attributes: [String: String] = [:]
        ) {
            guard failure == nil else { return }
            let namespace = namespaceURI ?? PSKCNamespace.none
            depth += 1
            if depth == 1 {
                sawRoot = true
                guard elementName == "KeyContainer", namespace == PSKCNamespace.pskc else {
                    fail(PSKCError(.malformed, "not a PSKC file: the root is not a KeyContainer in \(PSKCNamespace.pskc)"), parser)
                    return
                }
                do {
                    try consumer.container(attributes: attributes)
                } catch {
                    fail(error, parser)
                }
                return
            }
            guard depth <= Self.maximumDepth else {
                fail(PSKCError(.malformed, position: openPackage, "elements nested over \(Self.maximumDepth) deep"), parser)
                return
            }
            let element = PSKCElement(namespace: namespace, name: elementName, attributes: attributes)
            if depth == 2 && element.is("KeyPackage") {
                packages += 1
                openPackage = packages
            }
            stack.append(element)
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) {
            append(string, parser)
        }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
            append(String(decoding: CDATABlock, as: UTF8.self), parser)
        }

        /// Text of the open element, up to `maximumText` bytes: no PSKC value is anywhere near that long, and a
        /// huge base64 value must not be decoded.
        private func append(_ string: String, _ parser: XMLParser) {
            guard failure == nil, !stack.isEmpty else { return }
            guard stack[stack.count - 1].text.utf8.count + string.utf8.count <= Self.maximumText else {
                let name = stack[stack.count - 1].name
                fail(PSKCError(.malformed, position: openPackage, "\(name) holds over \(Self.maximumText) bytes of text"), parser)
                return
            }
            stack[stack.count - 1].text += string
        }

        func parser(
            _ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?
        ) {
            guard failure == nil else { return }
            depth -= 1
            guard depth > 0 else {
                closedRoot = true
                return
            }
            guard let element = stack.popLast() else { return }
            if depth > 1 {
                stack[stack.count - 1].children.append(element)
                return
            }
            let position = element.is("KeyPackage") ? openPackage : nil
            openPackage = nil
            do {
                try consumer.child(element, position: position)
            } catch {
                fail(error, parser)
            }
        }

        func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
            let code = (parseError as NSError).code
            fail(
                PSKCError(
                    .malformed, position: openPackage,
                    "not well-formed XML at line \(parser.lineNumber) (libxml2 error \(code))"), parser)
        }

        func parser(_ parser: XMLParser, validationErrorOccurred validationError: any Error) {
            self.parser(parser, parseErrorOccurred: validationError)
        }

        // Declarations can only come from a DTD, which `checkProlog` refuses; should one get through, stop.

        private func refuseDeclaration(_ parser: XMLParser) {
            fail(PSKCError(.malformed, "a document type declaration is not allowed in a PSKC file"), parser)
        }

        func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) {
            refuseDeclaration(parser)
        }

        func parser(
            _ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?,
            systemID: String?
        ) {
            refuseDeclaration(parser)
        }

        func parser(
            _ parser: XMLParser, foundUnparsedEntityDeclarationWithName name: String, publicID: String?,
            systemID: String?, notationName: String?
        ) {
            refuseDeclaration(parser)
        }

        func parser(_ parser: XMLParser, foundElementDeclarationWithName elementName: String, model: String) {
            refuseDeclaration(parser)
        }

        func parser(_ parser: XMLParser, foundNotationDeclarationWithName name: String, publicID: String?, systemID: String?) {
            refuseDeclaration(parser)
        }

        func parser(
            _ parser: XMLParser, foundAttributeDeclarationWithName attributeName: String, forElement elementName: String,
            type: String?, defaultValue: String?
        ) {
            refuseDeclaration(parser)
        }

        func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
            refuseDeclaration(parser)
            return nil
        }
    }
}
