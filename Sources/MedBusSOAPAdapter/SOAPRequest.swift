import Foundation
import MedBusHL7
#if canImport(FoundationXML)
import FoundationXML
#endif

/// A SOAP 1.1/1.2 request as the adapter reads it: the envelope's version, the WS-Security
/// UsernameToken if any, and the HL7 v3 document in the Body, in either of two forms:
///
/// - **interaction**: the v3 interaction is the Body's element (`<soap:Body><PRPA_IN201311UV02 …>`);
/// - **wrapped**: an operation element (`<HIPMessageServer><action>…</action><message>…</message>`),
///   as Chinese HIS WebServices send it, `message` holding the v3 document as escaped text,
///   CDATA, or as an element.
///
/// The payload is the v3 document's own bytes (cut from the request, namespace declarations
/// made on the envelope copied onto its root), never the envelope: the SOAP Header may carry a
/// password, and the router reads bare v3.
struct SOAPRequest: Sendable {
    enum Form: Sendable, Equatable {
        case interaction
        case wrapped(action: String?)
    }

    var version: HL7v3Header.SOAPVersion
    var usernameToken: UsernameToken?
    var form: Form
    /// The Body element's local name: the operation, or the interaction's root element.
    var bodyElement: String
    var payload: [UInt8]

    /// - Parameter operation: local name of the wrapping operation element (namespace ignored,
    ///   since HIS clients use their own).
    /// - Throws: `SOAPFault` naming what is wrong.
    init(parsing bytes: [UInt8], operation: String) throws(SOAPFault) {
        // SOAP forbids DTDs (and with them entity expansion); Foundation's parser on Linux does not
        // report their declarations, so the prolog is checked here.
        let prolog = XMLBytes.firstIndex(of: Array("Envelope".utf8), in: bytes).map { bytes[..<$0] } ?? bytes[...]
        if XMLBytes.firstIndex(of: Array("<!DOCTYPE".utf8), in: prolog) != nil { throw SOAPFault(.notSOAPEnvelope, "a SOAP message must not contain a DTD") }
        let reader = Reader(operation: operation)
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldReportNamespacePrefixes = true
        parser.shouldResolveExternalEntities = false  // no XXE: the body is untrusted
        parser.delegate = reader
        let wellFormed = parser.parse()
        guard wellFormed, reader.rootClosed else { throw SOAPFault(.malformedXML, "the request is not well-formed XML") }
        guard reader.rootName == "Envelope" else { throw SOAPFault(.notSOAPEnvelope, "the document element is not a SOAP Envelope") }
        guard let version = reader.version else {
            throw SOAPFault(.versionMismatch, "the Envelope is in neither the SOAP 1.1 nor the SOAP 1.2 namespace")
        }
        guard let body = reader.body else { throw SOAPFault(.notSOAPEnvelope, "the Envelope has no Body") }
        guard let child = reader.bodyChild else { throw SOAPFault(.unknownOperation, "the SOAP Body is empty") }
        self.version = version
        self.usernameToken = reader.token
        self.bodyElement = child.localName

        if child.namespace == HL7v3Header.namespace {
            form = .interaction
            payload = Self.element(child, inside: body, of: bytes)
        } else if child.localName == operation {
            form = .wrapped(action: reader.action.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.flatMap { $0.isEmpty ? nil : $0 })
            if let element = reader.messageChild, let message = reader.messageElement {
                payload = Self.element(element, inside: message, of: bytes)
            } else {
                payload = Self.document(fromText: reader.messageText)
            }
            guard !payload.isEmpty else { throw SOAPFault(.notHL7v3, "\(operation) has no message (the HL7 v3 document, as an element or escaped text)") }
        } else {
            throw SOAPFault(.unknownOperation, "the Body element \(child.localName) is neither the operation \(operation) nor an HL7 v3 interaction")
        }
    }

    /// An element read by the parser: names, and the namespaces declared on it and around it.
    struct Element: Sendable {
        var localName: String
        var namespace: String?
        var qualifiedName: String
        /// Prefix → URI for every declaration in scope from its ancestors (not its own).
        var inherited: [String: String]
        var own: Set<String>
    }

    /// The bytes of `element` (the first element child of `parent`), with the namespace
    /// declarations it inherits from the envelope written onto its start tag, so it stands alone.
    private static func element(_ element: Element, inside parent: Element, of bytes: [UInt8]) -> [UInt8] {
        guard var inner = XMLBytes.content(of: parent.qualifiedName, in: bytes) else { return [] }
        // The parent's content starts with whitespace or comments before the element.
        guard let start = XMLBytes.firstIndex(of: Array("<\(element.qualifiedName)".utf8), in: inner) else { return [] }
        inner = Array(inner[start...])
        while let last = inner.last, last == 0x20 || last == 0x0A || last == 0x0D || last == 0x09 { inner.removeLast() }
        let soapNamespaces = Set([HL7v3Header.SOAPVersion.soap11.rawValue, HL7v3Header.SOAPVersion.soap12.rawValue])
        let declarations = element.inherited
            .filter { !element.own.contains($0.key) && !soapNamespaces.contains($0.value) }
            .sorted { $0.key < $1.key }
            .map { prefix, uri in " xmlns\(prefix.isEmpty ? "" : ":" + prefix)=\"\(XMLEscaping.escape(uri))\"" }
            .joined()
        inner.insert(contentsOf: Array(declarations.utf8), at: element.qualifiedName.utf8.count + 1)
        return inner
    }

    /// The v3 document sent as text (escaped or CDATA): already decoded to Unicode by the parser,
    /// so an XML declaration naming another encoding (GB18030…) is rewritten to UTF-8.
    private static func document(fromText text: String) -> [UInt8] {
        var document = text.trimmingCharacters(in: .whitespacesAndNewlines)
        if document.hasPrefix("<?xml"), let end = document.range(of: "?>") {
            document.replaceSubrange(document.startIndex..<end.upperBound, with: "<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        }
        return Array(document.utf8)
    }

    /// Reads the envelope's structure in one pass.
    private final class Reader: NSObject, XMLParserDelegate {
        let operation: String
        var rootName: String?
        var version: HL7v3Header.SOAPVersion?
        var rootClosed = false
        var body: Element?
        var bodyChild: Element?
        var token: UsernameToken?
        var action: String?
        var messageElement: Element?
        var messageChild: Element?
        var messageText = ""

        /// Local names from the document element down.
        private var path: [String] = []
        /// Namespace declarations per open element, and those announced for the next element.
        private var scopes: [[String: String]] = []
        private var pending: [String: String] = [:]
        private var text = ""

        init(operation: String) { self.operation = operation }

        func parser(_ parser: XMLParser, didStartMappingPrefix prefix: String, toURI namespaceURI: String) {
            pending[prefix] = namespaceURI
        }

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?, attributes: [String: String] = [:]) {
            var inherited: [String: String] = [:]
            for scope in scopes { inherited.merge(scope) { $1 } }
            let element = Element(localName: name, namespace: namespaceURI, qualifiedName: qualifiedName ?? name, inherited: inherited, own: Set(pending.keys))
            scopes.append(pending)
            pending = [:]
            path.append(name)
            text = ""
            let soap = namespaceURI.flatMap(HL7v3Header.SOAPVersion.init(rawValue:))
            switch path.count {
            case 1:
                rootName = name
                version = soap
            case 2 where soap != nil && name == "Body":
                body = element
            case 3 where path[1] == "Body" && body != nil:
                if bodyChild == nil { bodyChild = element }
            case 4 where path[1] == "Body" && path[2] == operation && name == "message":
                messageElement = messageElement ?? element
            case 5 where path[1] == "Body" && path[2] == operation && path[3] == "message":
                messageChild = messageChild ?? element
            default:
                if path.count >= 4, path[1] == "Header", path[path.count - 2] == "UsernameToken" {
                    if name == "Password" { token = token ?? UsernameToken(); token?.passwordType = attributes["Type"] }
                    if name == "Nonce" { token = token ?? UsernameToken(); token?.nonceEncoding = attributes["EncodingType"] }
                }
            }
        }

        func parser(_ parser: XMLParser, foundCharacters string: String) { text += string }

        func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) { text += String(decoding: CDATABlock, as: UTF8.self) }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
            if path.count == 4, path[1] == "Body", path[2] == operation {
                if name == "action" { action = text }
                if name == "message", messageChild == nil { messageText = text }
            }
            if path.count >= 4, path[1] == "Header", path[path.count - 2] == "UsernameToken" {
                token = token ?? UsernameToken()
                switch name {
                case "Username": token?.username = text.trimmingCharacters(in: .whitespacesAndNewlines)
                case "Password": token?.password = text
                case "Nonce": token?.nonce = text.trimmingCharacters(in: .whitespacesAndNewlines)
                case "Created": token?.created = text.trimmingCharacters(in: .whitespacesAndNewlines)
                default: break
                }
            }
            path.removeLast()
            scopes.removeLast()
            text = ""
            if path.isEmpty { rootClosed = true }
        }
    }
}

/// Byte-level lookups in an XML document already known to be well-formed.
enum XMLBytes {
    /// The bytes between the start tag of the first `qualifiedName` element and its last end tag.
    static func content(of qualifiedName: String, in bytes: [UInt8]) -> [UInt8]? {
        let open = Array("<\(qualifiedName)".utf8)
        var searchFrom = bytes.startIndex
        var startTag: Int?
        while let found = firstIndex(of: open, in: bytes[searchFrom...]) {
            let after = found + open.count
            // `<soap:Body` must not match `<soap:BodyPart`.
            if after < bytes.count, [0x20, 0x09, 0x0A, 0x0D, UInt8(ascii: ">"), UInt8(ascii: "/")].contains(bytes[after]) {
                startTag = found
                break
            }
            searchFrom = after
        }
        guard let startTag, let contentStart = endOfTag(from: startTag, in: bytes), bytes[contentStart - 2] != UInt8(ascii: "/") else { return nil }
        let close = Array("</\(qualifiedName)".utf8)
        guard let end = lastIndex(of: close, in: bytes), end >= contentStart else { return nil }
        return Array(bytes[contentStart..<end])
    }

    /// Index just past the `>` closing the tag that starts at `start`, skipping quoted values.
    private static func endOfTag(from start: Int, in bytes: [UInt8]) -> Int? {
        var quote: UInt8?
        for index in start..<bytes.count {
            let byte = bytes[index]
            if let open = quote {
                if byte == open { quote = nil }
            } else if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "'") {
                quote = byte
            } else if byte == UInt8(ascii: ">") {
                return index + 1
            }
        }
        return nil
    }

    static func firstIndex<Bytes: RandomAccessCollection>(of needle: [UInt8], in haystack: Bytes) -> Int? where Bytes.Element == UInt8, Bytes.Index == Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        var index = haystack.startIndex
        let last = haystack.endIndex - needle.count
        while index <= last {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func lastIndex(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        var index = haystack.count - needle.count
        while index >= 0 {
            if haystack[index] == needle[0], haystack[index..<(index + needle.count)].elementsEqual(needle) { return index }
            index -= 1
        }
        return nil
    }
}
