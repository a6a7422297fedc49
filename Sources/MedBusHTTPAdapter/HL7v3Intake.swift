import Foundation
import Hummingbird
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusHL7
import MedBusTLS

/// HL7 v3 XML interactions over HTTP (e.g. `PRPA_IN201311UV02`), independent of the server.
///
/// Per request: media type (415), size (413), well-formedness and the transmission wrapper
/// (`HL7v3Header`, 400 with an `AR` acknowledgement, or an RFC 9457 problem body when not even
/// the message id could be read), then `DurableIngest`. Stored and on Kafka → 200 with an
/// `MCCI_IN000002UV01` `AA` acknowledgement echoing the message id (a retransmission gets the
/// first acknowledgement again); not yet safe → 503 with `AE` and `Retry-After`. Every refused
/// body is kept in the store as `rejected`. The body is published as received, SOAP envelope
/// included.
///
/// Retransmissions are recognised by `<sender device>|<id/@root>|<id/@extension>`.
final class HL7v3Intake: Sendable {
    static let mediaTypes: Set<String> = ["application/xml", "text/xml", "application/soap+xml", "application/hl7-v3+xml"]

    private let settings: HTTPIntakeSettings

    init(_ settings: HTTPIntakeSettings) {
        self.settings = settings
    }

    func handle(_ request: Request, peer: TLSHandshakeCompleted?) async -> Response {
        let body: [UInt8]
        do {
            // XML declares its own encoding (GB18030 among them), so any charset parameter is accepted.
            body = try await settings.reader.read(request, accepting: Self.mediaTypes, allowOtherCharsets: true)
        } catch let refusal as HTTPBodyReader.Refusal {
            let status: HTTPResponse.Status = refusal == .tooLarge ? .contentTooLarge : .unsupportedMediaType
            let detail = refusal == .tooLarge ? "body larger than \(settings.reader.maxBodyBytes) bytes" : "Content-Type must be application/xml, text/xml or application/soap+xml"
            return await reject([], header: nil, reason: refusal.reason, detail: detail, status: status)
        } catch {
            settings.logger.info("request body not read", metadata: ["error": "\(error)"])
            return problem(.badRequest, detail: "request body could not be read")
        }

        let header = HL7v3Header(parsing: body)
        if let refusal = settings.refusal(of: peer) {
            return await reject(body, header: header.malformed ? nil : header, reason: refusal, detail: refusal, status: .forbidden)
        }
        if header.malformed {
            return await reject(body, header: header, reason: "XML is not well-formed", detail: "XML is not well-formed", status: .badRequest)
        }
        guard let interaction = header.interaction, let sourceMessageId = header.sourceMessageId else {
            return await reject(body, header: header, reason: "interaction or message id missing", detail: "the interaction's id and interactionId are required", status: .badRequest)
        }

        let envelope = MessageEnvelope(
            source: settings.source,
            sourceMessageId: sourceMessageId, messageType: interaction, contentType: HL7v3Header.contentType,
            traceParent: request.headers[.traceParent]
        )
        let outcome = await settings.ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: settings.topic, key: header.kafkaKey, payload: body))
        switch outcome {
        case .accepted(let id, _):
            let ack = acknowledgement(.accept, header).xml
            settings.ingest.recordAcknowledgement(Data(ack), for: id)
            return xml(.ok, ack, header.soap, messageId: id)
        case .duplicate(let id, let ack):
            return xml(.ok, ack.map(Array.init) ?? acknowledgement(.accept, header).xml, header.soap, messageId: id)
        case .notPublished(_, let reason), .notStored(let reason):
            settings.logger.warning("HL7 v3 message not yet safe; AE so the sender retries", metadata: ["reason": "\(reason)"])
            let ack = acknowledgement(.error, header, detail: "message not yet stored durably; retransmit")
            var response = xml(.serviceUnavailable, ack.xml, header.soap, messageId: nil)
            response.headers[.retryAfter] = "\(settings.retryAfterSeconds)"
            return response
        }
    }

    private func acknowledgement(_ typeCode: MCCIAcknowledgement.TypeCode, _ header: HL7v3Header, detail: String? = nil) -> MCCIAcknowledgement {
        MCCIAcknowledgement(
            typeCode: typeCode, target: header.messageId, receiverDevice: header.senderDevice,
            senderDevice: header.receiverDevice ?? MCCIAcknowledgement.ownDevice, detail: detail, soap: header.soap
        )
    }

    /// Keeps the refused body and answers `AR` when the message id was read, else a problem body.
    private func reject(_ body: [UInt8], header: HL7v3Header?, reason: String, detail: String, status: HTTPResponse.Status) async -> Response {
        let envelope = MessageEnvelope(source: settings.source, messageType: header?.interaction ?? "hl7v3.unparseable", contentType: HL7v3Header.contentType)
        await settings.ingest.recordRejection(envelope: envelope, payload: body, reason: reason)
        settings.logger.info("HL7 v3 request rejected", metadata: ["message": "\(envelope.id)", "status": "\(status.code)", "reason": "\(reason)"])
        guard let header, header.messageId != nil else { return problem(status, detail: detail) }
        return xml(status, acknowledgement(.reject, header, detail: detail).xml, header.soap, messageId: nil)
    }

    private func xml(_ status: HTTPResponse.Status, _ body: [UInt8], _ soap: HL7v3Header.SOAPVersion?, messageId: String?) -> Response {
        var headers: HTTPFields = [.contentType: MCCIAcknowledgement.contentType(soap: soap)]
        if let messageId { headers[.medBusMessageID] = messageId }
        return Response(status: status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
    }

    /// An RFC 9457 problem body, for requests too broken to acknowledge in v3.
    private func problem(_ status: HTTPResponse.Status, detail: String) -> Response {
        let object = ["type": "about:blank", "title": status.reasonPhrase, "status": status.code, "detail": detail] as [String: Any]
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return Response(status: status, headers: [.contentType: "application/problem+json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
