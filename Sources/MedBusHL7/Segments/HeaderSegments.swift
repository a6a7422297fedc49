/// MSH: message header.
public struct MSHSegment: HL7SegmentView {
    public static let segmentID = "MSH"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    public var sendingApplication: HL7HierarchicDesignator { HL7HierarchicDesignator(segment.field(3)) }
    public var sendingFacility: HL7HierarchicDesignator { HL7HierarchicDesignator(segment.field(4)) }
    public var receivingApplication: HL7HierarchicDesignator { HL7HierarchicDesignator(segment.field(5)) }
    public var receivingFacility: HL7HierarchicDesignator { HL7HierarchicDesignator(segment.field(6)) }
    /// MSH-7, when the message was created.
    public var dateTime: HL7DateTime? { dateTime(7) }
    /// MSH-9, e.g. `ADT^A01^ADT_A01`.
    public var messageType: HL7MessageType { HL7MessageType(segment.field(9)) }
    /// MSH-10, the sender's id for this message; an ACK echoes it in MSA-2.
    public var controlID: String? { text(10) }
    /// MSH-11.1: `P` production, `D` debugging, `T` training.
    public var processingID: String? { text(11) }
    /// MSH-12.1, e.g. `2.5.1`.
    public var versionID: String? { text(12) }
    /// MSH-15: when the receiver sends an accept (commit) ACK, `AL`, `NE`, `ER` or `SU`. Present (with
    /// MSH-16) only in enhanced acknowledgment mode.
    public var acceptAckType: String? { text(15) }
    /// MSH-16: when the receiving application sends an application ACK.
    public var applicationAckType: String? { text(16) }
    /// MSH-18, every repetition as sent (e.g. `UNICODE UTF-8`, `GB 18030-2000`).
    public var characterSets: [String] { list(18) { $0.string ?? "" } }
}

/// EVN: event type.
public struct EVNSegment: HL7SegmentView {
    public static let segmentID = "EVN"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// EVN-1, the trigger event (withdrawn in v2.7 in favour of MSH-9.2).
    public var eventTypeCode: String? { text(1) }
    public var recordedDateTime: HL7DateTime? { dateTime(2) }
    public var plannedEventDateTime: HL7DateTime? { dateTime(3) }
    public var eventReasonCode: String? { text(4) }
    public var operators: [HL7ExtendedPerson] { list(5, HL7ExtendedPerson.init) }
    public var eventOccurred: HL7DateTime? { dateTime(6) }
}

/// MSA: message acknowledgment.
public struct MSASegment: HL7SegmentView {
    public static let segmentID = "MSA"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// MSA-1: `AA`, `AE`, `AR`, `CA`, `CE` or `CR`.
    public var acknowledgmentCode: String? { text(1) }
    /// MSA-2: MSH-10 of the message acknowledged.
    public var controlID: String? { text(2) }
}

/// ERR: error (v2.5+ layout, with the v2.3/2.4 ERR-1 kept readable).
public struct ERRSegment: HL7SegmentView {
    public static let segmentID = "ERR"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// ERR-2, where the error is (ERL: segment id, sequence, field, repetition, component, sub-component).
    public var location: HL7ErrorLocation? {
        let field = segment.field(2)
        guard let id = field.component(1).string else { return nil }
        func number(_ n: Int) -> Int? { field.component(n).string.flatMap { Int($0) } }
        return HL7ErrorLocation(
            segmentID: id, segmentSequence: number(2) ?? 1, field: number(3), fieldRepetition: number(4), component: number(5),
            subcomponent: number(6))
    }
    /// ERR-3, the table 0357 code as CWE (`101^Required field missing^HL70357`).
    public var errorCode: HL7CodedElement { HL7CodedElement(segment.field(3)) }
    /// ERR-4: `E`, `W` or `I`.
    public var severity: HL7Severity? { text(4).flatMap(HL7Severity.init) }
    /// ERR-7, diagnostic information.
    public var diagnostic: String? { text(7) }
}
