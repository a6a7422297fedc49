/// ORC: common order.
public struct ORCSegment: HL7SegmentView {
    public static let segmentID = "ORC"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// ORC-1, HL7 table 0119: `NW` new, `CA` cancel, `SC` status changed…
    public var orderControl: String? { text(1) }
    public var placerOrderNumber: HL7EntityIdentifier { HL7EntityIdentifier(segment.field(2)) }
    public var fillerOrderNumber: HL7EntityIdentifier { HL7EntityIdentifier(segment.field(3)) }
    public var placerGroupNumber: HL7EntityIdentifier { HL7EntityIdentifier(segment.field(4)) }
    /// ORC-5, HL7 table 0038.
    public var orderStatus: String? { text(5) }
    public var transactionDateTime: HL7DateTime? { dateTime(9) }
    public var enteredBy: [HL7ExtendedPerson] { list(10, HL7ExtendedPerson.init) }
    public var orderingProviders: [HL7ExtendedPerson] { list(12, HL7ExtendedPerson.init) }
    public var enteringOrganization: HL7CodedElement { HL7CodedElement(segment.field(17)) }
}

/// OBR: observation request.
public struct OBRSegment: HL7SegmentView {
    public static let segmentID = "OBR"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    public var setID: String? { text(1) }
    public var placerOrderNumber: HL7EntityIdentifier { HL7EntityIdentifier(segment.field(2)) }
    public var fillerOrderNumber: HL7EntityIdentifier { HL7EntityIdentifier(segment.field(3)) }
    /// OBR-4, what was ordered (the test or exam code).
    public var universalServiceID: HL7CodedElement { HL7CodedElement(segment.field(4)) }
    public var observationDateTime: HL7DateTime? { dateTime(7) }
    public var orderingProviders: [HL7ExtendedPerson] { list(16, HL7ExtendedPerson.init) }
    public var resultsReportedDateTime: HL7DateTime? { dateTime(22) }
    public var diagnosticServiceSection: String? { text(24) }
    /// OBR-25, HL7 table 0123: `F` final, `P` preliminary, `C` corrected…
    public var resultStatus: String? { text(25) }
}

/// OBX: observation or result.
public struct OBXSegment: HL7SegmentView {
    public static let segmentID = "OBX"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    public var setID: String? { text(1) }
    /// OBX-2, the data type of OBX-5: `NM`, `ST`, `TX`, `FT`, `CWE`, `ED`…
    public var valueType: String? { text(2) }
    public var identifier: HL7CodedElement { HL7CodedElement(segment.field(3)) }
    public var subID: String? { text(4) }
    /// OBX-5 as an element: its shape depends on `valueType` (components for CWE, repetitions for TX).
    public var value: HL7Element { segment.field(5) }
    public var units: HL7CodedElement { HL7CodedElement(segment.field(6)) }
    public var referenceRange: String? { text(7) }
    /// OBX-8, HL7 table 0078: `H`, `L`, `HH`, `LL`, `N`, `A`…
    public var abnormalFlags: [String] { list(8) { $0.string ?? "" } }
    /// OBX-11, HL7 table 0085: `F` final, `P` preliminary, `C` corrected…
    public var resultStatus: String? { text(11) }
    public var observationDateTime: HL7DateTime? { dateTime(14) }
    public var responsibleObservers: [HL7ExtendedPerson] { list(16, HL7ExtendedPerson.init) }
}

/// RXE: pharmacy/treatment encoded order.
public struct RXESegment: HL7SegmentView {
    public static let segmentID = "RXE"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// RXE-2, the drug (HIS drug code and name).
    public var giveCode: HL7CodedElement { HL7CodedElement(segment.field(2)) }
    public var giveAmountMinimum: String? { text(3) }
    public var giveAmountMaximum: String? { text(4) }
    public var giveUnits: HL7CodedElement { HL7CodedElement(segment.field(5)) }
    public var giveDosageForm: HL7CodedElement { HL7CodedElement(segment.field(6)) }
    public var providersAdministrationInstructions: [HL7CodedElement] { list(7, HL7CodedElement.init) }
    public var dispenseAmount: String? { text(10) }
    public var dispenseUnits: HL7CodedElement { HL7CodedElement(segment.field(11)) }
    public var numberOfRefills: String? { text(12) }
    public var prescriptionNumber: String? { text(15) }
    /// RXE-21, the pharmacy's special dispensing instructions.
    public var dispensingInstructions: [HL7CodedElement] { list(21, HL7CodedElement.init) }
}
