import Foundation

/// An HL7 v3 `MCCI_IN000002UV01` application acknowledgement, in the Chinese interoperability
/// profile's form (OIDs 2.16.156.10011.2.5.1.x), wrapped in the request's SOAP version if it
/// came in one. Its `detail` text is written by MedBus and never quotes the request.
public struct MCCIAcknowledgement: Sendable {
    /// `acknowledgement/@typeCode`.
    public enum TypeCode: String, Sendable {
        /// Accepted: stored and on Kafka.
        case accept = "AA"
        /// Error: not processed now; the sender should retry.
        case error = "AE"
        /// Rejected: the message itself is wrong; retrying it unchanged will not help.
        case reject = "AR"
    }

    /// This side's device id when the acknowledged message named no receiver.
    public static let ownDevice = "MedBus"
    static let messageIdRoot = "2.16.156.10011.2.5.1.1"
    static let interactionIdRoot = "2.16.156.10011.2.5.1.2"
    static let deviceIdRoot = "2.16.156.10011.2.5.1.3"

    public var typeCode: TypeCode
    /// The acknowledged message's id (`targetMessage/id`).
    public var target: HL7v3Header.InstanceIdentifier?
    /// The acknowledged message's sender, addressed as this acknowledgement's receiver.
    public var receiverDevice: String?
    /// This side, the acknowledged message's receiver when it named one.
    public var senderDevice: String
    public var detail: String?
    public var soap: HL7v3Header.SOAPVersion?
    public var id: String = UUID().uuidString.lowercased()
    public var creationTime: Date = Date()

    /// Media type of an answer: that of the SOAP version, else `application/xml`.
    public static func contentType(soap: HL7v3Header.SOAPVersion?) -> String {
        switch soap {
        case .soap12: "application/soap+xml; charset=utf-8"
        case .soap11: "text/xml; charset=utf-8"
        case nil: "application/xml; charset=utf-8"
        }
    }

    public init(typeCode: TypeCode, target: HL7v3Header.InstanceIdentifier?, receiverDevice: String?, senderDevice: String, detail: String? = nil, soap: HL7v3Header.SOAPVersion? = nil) {
        self.typeCode = typeCode
        self.target = target
        self.receiverDevice = receiverDevice
        self.senderDevice = senderDevice
        self.detail = detail
        self.soap = soap
    }

    /// The document: the acknowledgement, in a SOAP envelope when `soap` is set.
    public var xml: [UInt8] {
        let document = switch soap {
        case let soap?: "<soap:Envelope xmlns:soap=\"\(soap.rawValue)\"><soap:Body>\n\(element)\n</soap:Body></soap:Envelope>"
        case nil: element
        }
        return Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\(document)\n".utf8)
    }

    /// The `MCCI_IN000002UV01` element alone, for a caller that wraps it itself.
    public var element: String {
        var ack = """
        <MCCI_IN000002UV01 xmlns="urn:hl7-org:v3" ITSVersion="XML_1.0">
        <id root="\(Self.messageIdRoot)" extension="\(escape(id))"/>
        <creationTime value="\(Self.timestamp(creationTime))"/>
        <interactionId root="\(Self.interactionIdRoot)" extension="MCCI_IN000002UV01"/>
        <processingCode code="P"/>
        <processingModeCode/>
        <acceptAckCode code="NE"/>
        \(device("receiver", "RCV", receiverDevice))
        \(device("sender", "SND", senderDevice))
        <acknowledgement typeCode="\(typeCode.rawValue)">
        """
        if let target {
            let root = target.root.map { " root=\"\(escape($0))\"" } ?? ""
            let ext = target.extension.map { " extension=\"\(escape($0))\"" } ?? ""
            ack += "\n<targetMessage><id\(root)\(ext)/></targetMessage>"
        }
        if let detail {
            ack += "\n<acknowledgementDetail typeCode=\"\(typeCode == .accept ? "I" : "E")\"><text value=\"\(escape(detail))\"/></acknowledgementDetail>"
        }
        ack += "\n</acknowledgement>\n</MCCI_IN000002UV01>"
        return ack
    }

    private func device(_ element: String, _ typeCode: String, _ id: String?) -> String {
        let ext = id.map { " extension=\"\(escape($0))\"" } ?? ""
        return "<\(element) typeCode=\"\(typeCode)\"><device classCode=\"DEV\" determinerCode=\"INSTANCE\"><id><item root=\"\(Self.deviceIdRoot)\"\(ext)/></id></device></\(element)>"
    }

    /// v3 `TS` in China Standard Time, `yyyyMMddHHmmss` (the profile's examples carry no zone).
    private static func timestamp(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai") ?? .gmt
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d%02d%02d%02d%02d%02d", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    private func escape(_ text: String) -> String { XMLEscaping.escape(text) }
}
