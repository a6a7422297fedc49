import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// The transmission wrapper of an HL7 v3 interaction (bare, or the body of a SOAP 1.1/1.2
/// envelope), read with a streaming `XMLParser`; the payload below it is not interpreted except
/// for the first `patient/id`, used as the Kafka key.
///
/// Device and patient ids are read from `id/@extension`, or, in the Chinese interoperability
/// profile's `DSET` form, from `id/item/@extension`.
public struct HL7v3Header: Sendable, Equatable {
    public enum SOAPVersion: String, Sendable {
        case soap11 = "http://schemas.xmlsoap.org/soap/envelope/"
        case soap12 = "http://www.w3.org/2003/05/soap-envelope"
    }

    public struct InstanceIdentifier: Sendable, Equatable {
        public var root: String?
        public var `extension`: String?

        public init(root: String?, extension: String?) {
            self.root = root
            self.extension = `extension`
        }
    }

    /// The media type MedBus stores and publishes v3 interactions under (the `content-type` header).
    public static let contentType = "application/hl7-v3+xml"
    /// The namespace of HL7 v3 XML (ITS 1.0).
    public static let namespace = "urn:hl7-org:v3"

    /// Root element of the interaction, e.g. `PRPA_IN201311UV02`.
    public var rootElement: String?
    /// `interactionId/@extension`.
    public var interactionId: String?
    /// The message's `id` (`@root`, `@extension`).
    public var messageId: InstanceIdentifier?
    /// `sender/device/id` and `receiver/device/id`, `@extension`.
    public var senderDevice: String?
    public var receiverDevice: String?
    public var patientId: String?
    public var soap: SOAPVersion?
    /// Set when the XML is not well-formed; what was read before the error is kept.
    public var malformed = false

    /// The interaction: `interactionId/@extension`, else the root element's name.
    public var interaction: String? { interactionId ?? rootElement }

    /// Namespace of the root element: `urn:hl7-org:v3` for an HL7 v3 interaction.
    public var rootNamespace: String?

    /// How a retransmission is recognised, whatever the transport (HTTP, SOAP):
    /// `<sender device>|<id/@root>|<id/@extension>`; nil without a message id.
    public var sourceMessageId: String? {
        guard let messageId, messageId.root != nil || messageId.extension != nil else { return nil }
        return [senderDevice ?? "", messageId.root ?? "", messageId.extension ?? ""].joined(separator: "|")
    }

    /// The Kafka key: the patient id, else the message id's extension.
    public var kafkaKey: String? { patientId ?? messageId?.extension }

    public init(parsing bytes: [UInt8]) {
        let reader = Reader()
        let parser = XMLParser(data: Data(bytes))
        parser.shouldProcessNamespaces = true
        parser.shouldResolveExternalEntities = false  // no XXE: the body is untrusted
        parser.delegate = reader
        let wellFormed = parser.parse()
        self = reader.header
        // Foundation's parser on Linux can report success for a document cut short, so an
        // interaction whose root element never closed counts as malformed too.
        malformed = !wellFormed || !reader.rootClosed
    }

    fileprivate init() {}

    /// Collects the header fields by their path below the interaction's root element.
    private final class Reader: NSObject, XMLParserDelegate {
        var header = HL7v3Header()
        /// Element names from the interaction's root (inclusive) down; empty while in SOAP wrapping.
        private var path: [String] = []
        private var patientDepth: Int?
        /// The interaction's root element was closed: the document was read to its end.
        private(set) var rootClosed = false

        func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName _: String?, attributes: [String: String] = [:]) {
            if path.isEmpty {
                if let soap = namespaceURI.flatMap(SOAPVersion.init(rawValue:)) {
                    if name == "Envelope" { header.soap = soap }
                    return  // Envelope, Header, Body and SOAP header blocks are skipped
                }
                guard header.rootElement == nil else { return }
                header.rootElement = name
                header.rootNamespace = namespaceURI
            }
            path.append(name)
            let below = path.dropFirst()
            let id = InstanceIdentifier(root: attributes["root"], extension: attributes["extension"])
            switch Array(below) {
            case ["id"]: header.messageId = id
            case ["interactionId"]: header.interactionId = id.extension
            case ["sender", "device", "id"], ["sender", "device", "id", "item"]: header.senderDevice = header.senderDevice ?? id.extension
            case ["receiver", "device", "id"], ["receiver", "device", "id", "item"]: header.receiverDevice = header.receiverDevice ?? id.extension
            default: break
            }
            if name == "patient", patientDepth == nil, header.patientId == nil { patientDepth = path.count }
            if let depth = patientDepth, header.patientId == nil, let ext = id.extension,
               (path.count == depth + 1 && name == "id") || (path.count == depth + 2 && name == "item" && path[depth] == "id") {
                header.patientId = ext
            }
        }

        func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName _: String?) {
            guard !path.isEmpty else { return }
            if path.count == patientDepth { patientDepth = nil }
            path.removeLast()
            if path.isEmpty { rootClosed = true }
        }
    }
}
