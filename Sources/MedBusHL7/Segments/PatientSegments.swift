/// PID: patient identification.
public struct PIDSegment: HL7SegmentView {
    public static let segmentID = "PID"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    public var setID: String? { text(1) }
    /// PID-3, every identifier the sender knows the patient by (MPI id, medical record no., card no.…).
    public var identifiers: [HL7ExtendedID] { list(3, HL7ExtendedID.init) }
    /// PID-5, all names.
    public var names: [HL7PersonName] { list(5, HL7PersonName.init) }
    /// The first name of PID-5.
    public var name: HL7PersonName? { names.first }
    /// PID-7. Often a date only.
    public var birthDate: HL7DateTime? { dateTime(7) }
    /// PID-8: HL7 table 0001 (`M`, `F`, `O`, `U`), or GB/T 2261.1 codes (`1`, `2`, `9`) from some HIS.
    public var sex: String? { text(8) }
    public var addresses: [HL7Address] { list(11, HL7Address.init) }
    /// PID-13, home phone numbers.
    public var homePhones: [HL7Telecom] { list(13, HL7Telecom.init) }
    /// PID-14, business phone numbers.
    public var businessPhones: [HL7Telecom] { list(14, HL7Telecom.init) }
    public var maritalStatus: HL7CodedElement { HL7CodedElement(segment.field(16)) }
    /// PID-18, the patient account number.
    public var accountNumber: HL7ExtendedID { HL7ExtendedID(segment.field(18)) }
    /// PID-22, ethnic group (民族 in Chinese HIS, GB/T 3304 codes).
    public var ethnicGroup: HL7CodedElement { HL7CodedElement(segment.field(22)) }

    /// The resident identity card number (身份证号).
    ///
    /// Chinese HIS send it in one of three places; the first found wins: a PID-3 repetition with identifier
    /// type `NI` (national unique identifier), a PID-3 repetition whose assigning authority is the national
    /// id OID `2.16.156.10011.1.3`, or PID-19 (v2.3's SSN field, which many HIS reuse).
    public var nationalID: String? {
        let nationalIDOID = "2.16.156.10011.1.3"
        let fromIdentifiers = identifiers.first {
            $0.identifierTypeCode == "NI" || $0.assigningAuthority.universalID == nationalIDOID
        }
        return fromIdentifiers?.id ?? text(19)
    }
}

/// PV1: patient visit.
public struct PV1Segment: HL7SegmentView {
    public static let segmentID = "PV1"
    public let segment: HL7Segment
    public init(segment: HL7Segment) { self.segment = segment }

    /// PV1-2, HL7 table 0004: `I` inpatient, `O` outpatient, `E` emergency…
    public var patientClass: String? { text(2) }
    /// PV1-3: ward, room, bed.
    public var assignedLocation: HL7PatientLocation { HL7PatientLocation(segment.field(3)) }
    public var admissionType: String? { text(4) }
    public var attendingDoctors: [HL7ExtendedPerson] { list(7, HL7ExtendedPerson.init) }
    public var referringDoctors: [HL7ExtendedPerson] { list(8, HL7ExtendedPerson.init) }
    /// PV1-10, the department (科室) code.
    public var hospitalService: String? { text(10) }
    /// PV1-19: the visit (就诊) number, outpatient or inpatient.
    public var visitNumber: HL7ExtendedID { HL7ExtendedID(segment.field(19)) }
    public var admitDateTime: HL7DateTime? { dateTime(44) }
    public var dischargeDateTime: HL7DateTime? { dateTime(45) }
}
