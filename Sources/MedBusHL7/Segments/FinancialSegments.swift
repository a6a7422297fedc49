/// FT1: financial transaction (one charge line of a DFT^P03).
public struct FT1Segment: HL7SegmentView {
    public static let segmentID = "FT1"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    public var setID: String? { text(1) }
    public var transactionID: String? { text(2) }
    public var transactionBatchID: String? { text(3) }
    /// FT1-4, when the service was given.
    public var transactionDate: HL7DateTime? { dateTime(4) }
    public var postingDate: HL7DateTime? { dateTime(5) }
    /// FT1-6, HL7 table 0017: `CG` charge, `CR` credit, `PY` payment, `AJ` adjustment.
    public var transactionType: String? { text(6) }
    /// FT1-7, the charge item (收费项目) code.
    public var transactionCode: HL7CodedElement { HL7CodedElement(segment.field(7)) }
    public var transactionDescription: String? { text(8) }
    public var transactionQuantity: String? { text(10) }
    /// FT1-11.1, the extended amount (quantity × unit price). CP's first component is an MO, so the
    /// amount and currency are sub-components: `125.50&CNY`.
    public var extendedAmount: HL7Money { HL7Money(segment.field(11).component(1)) }
    /// FT1-12.1, the unit price.
    public var unitAmount: HL7Money { HL7Money(segment.field(12).component(1)) }
    public var departmentCode: HL7CodedElement { HL7CodedElement(segment.field(13)) }
    public var insurancePlanID: HL7CodedElement { HL7CodedElement(segment.field(14)) }
    public var performedBy: [HL7ExtendedPerson] { list(20, HL7ExtendedPerson.init) }
    public var orderedBy: [HL7ExtendedPerson] { list(21, HL7ExtendedPerson.init) }
    public var procedureCode: HL7CodedElement { HL7CodedElement(segment.field(25)) }
}
