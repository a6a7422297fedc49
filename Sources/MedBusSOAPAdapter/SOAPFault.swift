import Hummingbird
import MedBusHL7

/// A SOAP Fault with one specific reason, written in the caller's SOAP version:
/// 1.1 `faultcode`/`faultstring`/`detail`, 1.2 `Code`/`Subcode`/`Reason`/`Detail`.
///
/// The detail always names the reason by a stable code (`<medbus:error code="…">`), and carries
/// the HL7 v3 acknowledgement (`AR`, or `AE` when the sender should retry) once the message id
/// is known. Reasons are written by MedBus and never quote the request.
struct SOAPFault: Error, Sendable {
    /// Who is at fault: 1.1 `Client`/`Server`, 1.2 `Sender`/`Receiver`.
    enum Code: Sendable {
        case sender, receiver, versionMismatch
    }

    /// The specific reasons, each with its stable code (the 1.2 `Subcode`, the `detail` code).
    enum Reason: String, Sendable {
        case malformedXML = "malformed-xml"
        case notSOAPEnvelope = "not-soap-envelope"
        case versionMismatch = "version-mismatch"
        case contentType = "unsupported-content-type"
        case tooLarge = "too-large"
        case unknownOperation = "unknown-operation"
        case missingMessageId = "missing-message-id"
        case notHL7v3 = "not-hl7v3"
        case authentication = "ws-security"
        case kafkaUnavailable = "kafka-unavailable"
        case storeUnavailable = "store-unavailable"

        var code: Code {
            switch self {
            case .versionMismatch: .versionMismatch
            case .kafkaUnavailable, .storeUnavailable: .receiver
            default: .sender
            }
        }

        /// 1.2 `Subcode` (QName in the MedBus namespace, or WS-Security's for authentication).
        var subcode: String {
            switch self {
            case .authentication: "wsse:FailedAuthentication"
            default: "medbus:" + rawValue.split(separator: "-").map { $0.prefix(1).uppercased() + $0.dropFirst() }.joined()
            }
        }
    }

    static let medbusNamespace = "urn:medbus:soap"
    static let wsseNamespace = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"

    var reason: Reason
    /// What exactly is wrong, for the sender's operators.
    var text: String
    /// The `MCCI_IN000002UV01` element to put in the detail, when the message id was read.
    var acknowledgement: String?

    init(_ reason: Reason, _ text: String, acknowledgement: String? = nil) {
        self.reason = reason
        self.text = text
        self.acknowledgement = acknowledgement
    }

    /// SOAP 1.1 over HTTP answers every fault with 500; SOAP 1.2 answers a sender's fault with
    /// 400 and a receiver's with 500 (SOAP 1.2 part 2, 7.5.1.2).
    func status(_ version: HL7v3Header.SOAPVersion) -> HTTPResponse.Status {
        version == .soap12 && reason.code == .sender ? .badRequest : .internalServerError
    }

    func envelope(_ version: HL7v3Header.SOAPVersion) -> String {
        let text = XMLEscaping.escape(self.text)
        let detail = "<medbus:error code=\"\(reason.rawValue)\">\(text)</medbus:error>" + (acknowledgement.map { "\n\($0)" } ?? "")
        let namespaces = "xmlns:soap=\"\(version.rawValue)\" xmlns:medbus=\"\(Self.medbusNamespace)\" xmlns:wsse=\"\(Self.wsseNamespace)\""
        let fault: String
        switch version {
        case .soap11:
            let code = switch reason.code {
            case .sender: reason == .authentication ? "wsse:FailedAuthentication" : "soap:Client"
            case .receiver: "soap:Server"
            case .versionMismatch: "soap:VersionMismatch"
            }
            fault = "<soap:Fault><faultcode>\(code)</faultcode><faultstring>\(text)</faultstring><detail>\(detail)</detail></soap:Fault>"
        case .soap12:
            let code = switch reason.code {
            case .sender: "soap:Sender"
            case .receiver: "soap:Receiver"
            case .versionMismatch: "soap:VersionMismatch"
            }
            fault = """
            <soap:Fault><soap:Code><soap:Value>\(code)</soap:Value><soap:Subcode><soap:Value>\(reason.subcode)</soap:Value></soap:Subcode></soap:Code>\
            <soap:Reason><soap:Text xml:lang="en">\(text)</soap:Text></soap:Reason><soap:Detail>\(detail)</soap:Detail></soap:Fault>
            """
        }
        return SOAPResponse.envelope(version, body: fault, namespaces: namespaces)
    }
}

/// Writing answers: the envelope around a body, the HTTP response.
enum SOAPResponse {
    static func envelope(_ version: HL7v3Header.SOAPVersion, body: String, namespaces: String? = nil) -> String {
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<soap:Envelope \(namespaces ?? "xmlns:soap=\"\(version.rawValue)\"")><soap:Body>\n\(body)\n</soap:Body></soap:Envelope>\n"
    }

    static func response(_ status: HTTPResponse.Status, _ document: String, _ version: HL7v3Header.SOAPVersion, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = MCCIAcknowledgement.contentType(soap: version)
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: Array(document.utf8))))
    }
}
