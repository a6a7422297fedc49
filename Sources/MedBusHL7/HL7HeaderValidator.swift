/// Checks a parsed message's MSH against what a receiver accepts; kept apart from parsing, which is
/// lenient and accepts anything with legal delimiters.
///
/// The issues it returns go straight into `HL7AckBuilder.acknowledge(_:issues:level:)`.
public struct HL7HeaderValidator: Sendable {
    /// MSH-12.1 values accepted.
    public var supportedVersions: Set<String>
    /// MSH-11.1 values accepted.
    public var processingIDs: Set<String>
    /// Accepted MSH-9.1 message types, each with its accepted MSH-9.2 trigger events (an empty set takes
    /// any event); nil accepts every type.
    public var messageTypes: [String: Set<String>]?

    public init(
        supportedVersions: Set<String> = ["2.3", "2.3.1", "2.4", "2.5", "2.5.1", "2.6", "2.7", "2.7.1", "2.8", "2.8.1", "2.8.2"],
        processingIDs: Set<String> = ["P", "D", "T"],
        messageTypes: [String: Set<String>]? = nil
    ) {
        self.supportedVersions = supportedVersions
        self.processingIDs = processingIDs
        self.messageTypes = messageTypes
    }

    /// Required MSH-9.1, MSH-10, MSH-11 and MSH-12 (table 0357 code 101), then the accepted values: message
    /// type 200, trigger event 201, processing id 202, version 203.
    public func validate(_ message: HL7Message) -> [HL7Issue] {
        let msh = message.msh
        func location(_ field: Int, component: Int? = nil) -> HL7ErrorLocation {
            HL7ErrorLocation(segmentID: "MSH", field: field, fieldRepetition: 1, component: component)
        }
        var issues: [HL7Issue] = []
        func check(_ value: String?, field: Int, component: Int? = nil, accepted: (String) -> Bool, otherwise code: HL7ErrorCode) {
            guard let value else {
                issues.append(HL7Issue(code: .requiredFieldMissing, location: location(field, component: component)))
                return
            }
            if !accepted(value) { issues.append(HL7Issue(code: code, location: location(field, component: component))) }
        }
        let type = msh.messageType
        check(type.code, field: 9, component: 1, accepted: { messageTypes == nil || messageTypes?[$0] != nil }, otherwise: .unsupportedMessageType)
        if let code = type.code, let events = messageTypes?[code], !events.isEmpty {
            check(type.triggerEvent, field: 9, component: 2, accepted: events.contains, otherwise: .unsupportedEventCode)
        }
        check(msh.controlID, field: 10, accepted: { _ in true }, otherwise: .requiredFieldMissing)
        check(msh.processingID, field: 11, accepted: processingIDs.contains, otherwise: .unsupportedProcessingID)
        check(msh.versionID, field: 12, accepted: supportedVersions.contains, otherwise: .unsupportedVersionID)
        return issues
    }
}
