import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHL7
import MedBusHTTPServer
import MedBusTLS

/// One SOAP request in, one SOAP answer out, independent of the server.
///
/// Checks, in order, each failure a SOAP Fault with its own reason (see `SOAPFault.Reason`):
/// Content-Type (`text/xml` = SOAP 1.1, `application/soap+xml` = SOAP 1.2), size, well-formed
/// XML, a SOAP Envelope, the envelope's version against the Content-Type, the operation (Body
/// element, and `SOAPAction` / the `action` parameter when they name one), the client
/// certificate (mTLS), WS-Security, then the payload: well-formed HL7 v3 with a message id.
/// Every refused request is kept in the store as `rejected` with its reason (the v3 payload
/// when it was cut out of the envelope, so no WS-Security password is stored).
///
/// Then `DurableIngest`: stored and on Kafka → the `MCCI_IN000002UV01` `AA` acknowledgement (a
/// retransmission of the same message id gets the first acknowledgement again, published once);
/// not yet safe → a Receiver fault carrying `AE`, with `Retry-After`, so the HIS retries.
final class SOAPIntake: Sendable {
    let source: String
    let topic: String
    let operation: String
    let maxBodyBytes: Int
    let retryAfterSeconds: Int
    let requiredCommonName: String?
    let security: WSSecurity?
    let ingest: DurableIngest
    let logger: Logger

    static let soapAction = HTTPFields.Element.Name("SOAPAction")!
    static let traceParent = HTTPFields.Element.Name("traceparent")!
    static let medBusMessageID = HTTPFields.Element.Name("X-MedBus-Message-Id")!

    init(source: String, topic: String, operation: String, maxBodyBytes: Int, retryAfterSeconds: Int, requiredCommonName: String?,
         security: WSSecurity?, ingest: DurableIngest, logger: Logger) {
        self.source = source
        self.topic = topic
        self.operation = operation
        self.maxBodyBytes = maxBodyBytes
        self.retryAfterSeconds = retryAfterSeconds
        self.requiredCommonName = requiredCommonName
        self.security = security
        self.ingest = ingest
        self.logger = logger
    }

    /// What a refused request leaves behind: the bytes to keep and what they are.
    private struct Refused: Error {
        var fault: SOAPFault
        var kept: [UInt8]
        var messageType: String
        var contentType: String
    }

    func handle(_ request: Request, peer: TLSHandshakeCompleted?) async -> Response {
        let mediaType = request.headers[.contentType].flatMap(HTTPContentType.init)
        // The answer's SOAP version: the one the Content-Type announced, else 1.1.
        let version: HL7v3Header.SOAPVersion = mediaType?.name == "application/soap+xml" ? .soap12 : .soap11
        let tooLarge = Refused(fault: SOAPFault(.tooLarge, "the request is larger than \(maxBodyBytes) bytes"), kept: [], messageType: "soap.too-large", contentType: mediaType?.name ?? "text/xml")
        if let declared = request.headers[.contentLength].flatMap(Int.init), declared > maxBodyBytes { return await reject(tooLarge, version) }
        var request = request
        let body: [UInt8]
        do {
            body = Array(try await request.collectBody(upTo: maxBodyBytes).readableBytesView)
        } catch let error as HTTPResponseError where error.status == .contentTooLarge {
            return await reject(tooLarge, version)
        } catch {
            // The connection failed mid-body; there is nobody to answer reliably.
            logger.info("request body not read", metadata: ["error": "\(error)"])
            return SOAPResponse.response(.badRequest, SOAPFault(.malformedXML, "the request body could not be read").envelope(version), version)
        }

        do {
            let (soap, header, sourceMessageId) = try check(body, mediaType: mediaType, version: version, headers: request.headers, peer: peer)
            return await publish(soap, header, sourceMessageId: sourceMessageId, traceParent: request.headers[Self.traceParent])
        } catch let refused as Refused {
            return await reject(refused, version)
        } catch {
            return SOAPResponse.response(.internalServerError, SOAPFault(.storeUnavailable, "unexpected error").envelope(version), version)
        }
    }

    /// Everything before the store; throws `Refused` with the first problem found.
    private func check(_ body: [UInt8], mediaType: HTTPContentType?, version: HL7v3Header.SOAPVersion, headers: HTTPFields, peer: TLSHandshakeCompleted?)
        throws -> (SOAPRequest, HL7v3Header, String)
    {
        let envelopeType = mediaType?.name ?? "text/xml"
        func refused(_ fault: SOAPFault, kept: [UInt8] = body, type: String? = nil, contentType: String? = nil) -> Refused {
            Refused(fault: fault, kept: kept, messageType: type ?? "soap.\(fault.reason.rawValue)", contentType: contentType ?? envelopeType)
        }
        guard let mediaType, mediaType.name == "text/xml" || mediaType.name == "application/soap+xml" else {
            throw refused(SOAPFault(.contentType, "Content-Type must be text/xml (SOAP 1.1) or application/soap+xml (SOAP 1.2)"))
        }
        let soap: SOAPRequest
        do { soap = try SOAPRequest(parsing: body, operation: operation) } catch { throw refused(error) }
        guard soap.version == version else {
            let sent = soap.version == .soap11 ? "SOAP 1.1" : "SOAP 1.2"
            throw refused(SOAPFault(.versionMismatch, "a \(sent) envelope was sent as \(mediaType.name); SOAP 1.1 is text/xml, SOAP 1.2 application/soap+xml"))
        }
        // From here on only the v3 payload is kept: the envelope may carry a password.
        let payload = soap.payload
        let action = (version == .soap11 ? headers[Self.soapAction] : mediaType.parameters["action"])?.trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
        if let action, !action.isEmpty, !knows(action: action, soap) {
            throw refused(SOAPFault(.unknownOperation, "the SOAP action names an operation this service does not have; use \(WSDL.soapAction(operation))"),
                          kept: payload, contentType: HL7v3Header.contentType)
        }
        if let requiredCommonName, peer?.peerCommonName != requiredCommonName {
            throw refused(SOAPFault(.authentication, "client certificate does not identify sender \(requiredCommonName)"), kept: payload, contentType: HL7v3Header.contentType)
        }
        if let security, let refusal = security.refusal(of: soap.usernameToken) {
            throw refused(SOAPFault(.authentication, "WS-Security: \(refusal)"), kept: payload, contentType: HL7v3Header.contentType)
        }

        let header = HL7v3Header(parsing: payload)
        func invalid(_ reason: SOAPFault.Reason, _ text: String) -> Refused {
            let ack = header.sourceMessageId == nil ? nil : acknowledgement(.reject, header, detail: text).element
            return refused(SOAPFault(reason, text, acknowledgement: ack), kept: payload, type: header.interaction, contentType: HL7v3Header.contentType)
        }
        if header.malformed { throw invalid(.malformedXML, "the HL7 v3 message is not well-formed XML") }
        guard header.rootNamespace == HL7v3Header.namespace else { throw invalid(.notHL7v3, "the message is not an HL7 v3 interaction (root element not in \(HL7v3Header.namespace))") }
        guard let sourceMessageId = header.sourceMessageId else { throw invalid(.missingMessageId, "the HL7 v3 message has no id (id/@root, id/@extension)") }
        return (soap, header, sourceMessageId)
    }

    /// `SOAPAction` may name the operation (`urn:medbus:soap/HIPMessageServer`, or just its name)
    /// or, for a bare interaction, the interaction.
    private func knows(action: String, _ soap: SOAPRequest) -> Bool {
        let name = action.split(whereSeparator: { "/#:".contains($0) }).last.map(String.init) ?? action
        return name == operation || (soap.form == .interaction && name == soap.bodyElement)
    }

    private func publish(_ soap: SOAPRequest, _ header: HL7v3Header, sourceMessageId: String, traceParent: String?) async -> Response {
        let envelope = MessageEnvelope(
            source: source, sourceMessageId: sourceMessageId, messageType: header.interaction ?? soap.bodyElement,
            contentType: HL7v3Header.contentType, traceParent: traceParent
        )
        switch await ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: topic, key: header.kafkaKey, payload: soap.payload)) {
        case .accepted(let id, _):
            let ack = acknowledgement(.accept, header).element
            ingest.recordAcknowledgement(Data(ack.utf8), for: id)
            return answer(soap, ack: ack, messageId: id)
        case .duplicate(let id, let stored):
            // The first answer's acknowledgement (also one the http-his adapter gave).
            let ack = stored.flatMap { Self.acknowledgementElement(in: String(decoding: $0, as: UTF8.self)) } ?? acknowledgement(.accept, header).element
            return answer(soap, ack: ack, messageId: id)
        case .notPublished(_, let reason), .notStored(let reason):
            logger.warning("HL7 v3 message not yet safe; Receiver fault so the HIS retries", metadata: ["reason": "\(reason)"])
            let text = "the message is not yet stored durably on Kafka; retransmit it"
            let fault = SOAPFault(.kafkaUnavailable, text, acknowledgement: acknowledgement(.error, header, detail: text).element)
            return SOAPResponse.response(fault.status(soap.version), fault.envelope(soap.version), soap.version, headers: [.retryAfter: "\(retryAfterSeconds)"])
        }
    }

    private func answer(_ soap: SOAPRequest, ack: String, messageId: String) -> Response {
        let body = soap.form == .interaction ? ack : WSDL.wrappedResponse(operation: operation, acknowledgement: ack)
        return SOAPResponse.response(.ok, SOAPResponse.envelope(soap.version, body: body), soap.version, headers: [Self.medBusMessageID: messageId])
    }

    private func reject(_ refused: Refused, _ version: HL7v3Header.SOAPVersion) async -> Response {
        let envelope = MessageEnvelope(source: source, messageType: refused.messageType, contentType: refused.contentType)
        await ingest.recordRejection(envelope: envelope, payload: refused.kept, reason: "\(refused.fault.reason.rawValue): \(refused.fault.text)")
        logger.info("SOAP request rejected", metadata: ["message": "\(envelope.id)", "reason": "\(refused.fault.reason.rawValue)"])
        return SOAPResponse.response(refused.fault.status(version), refused.fault.envelope(version), version, headers: [Self.medBusMessageID: envelope.id])
    }

    private func acknowledgement(_ typeCode: MCCIAcknowledgement.TypeCode, _ header: HL7v3Header, detail: String? = nil) -> MCCIAcknowledgement {
        MCCIAcknowledgement(
            typeCode: typeCode, target: header.messageId, receiverDevice: header.senderDevice,
            senderDevice: header.receiverDevice ?? MCCIAcknowledgement.ownDevice, detail: detail
        )
    }

    /// The `MCCI_IN000002UV01` element of a stored acknowledgement (bare, or a whole document).
    static func acknowledgementElement(in text: String) -> String? {
        guard let start = text.range(of: "<MCCI_IN000002UV01"), let end = text.range(of: "</MCCI_IN000002UV01>", range: start.upperBound..<text.endIndex) else { return nil }
        return String(text[start.lowerBound..<end.upperBound])
    }
}
