/// Where a settlement's saga is. Stored as the raw value in the saga log.
///
/// A working state names the step in progress: its request has been committed to the saga log and
/// sent (or is about to be re-sent after a restart) and the saga waits for its reply. The forward
/// path is `received → person-lookup (1101) → [registration (2201 outpatient / 2401 admission,
/// when the request has no mdtrt_id)] → fee-upload (2204; inpatient 2301) → pre-settled (2206;
/// 2303) → settled (2207; 2304) → commercial-claim → [commercial-reversal, when the claim got no
/// answer] → completed`; the compensation states undo what was done before `failed` or `cancelled`.
public enum SettlementState: String, Codable, Sendable, CaseIterable {
    case received
    case personLookup = "person-lookup"
    case registration
    case feeUpload = "fee-upload"
    case preSettled = "pre-settled"
    case settled
    case commercialClaim = "commercial-claim"
    case completed
    case feeUploadCancel = "fee-upload-cancel"
    case reversal
    case registrationCancel = "registration-cancel"
    case settlementCancel = "settlement-cancel"
    case commercialReversal = "commercial-reversal"
    case failed
    case cancelled

    /// No further step will run (a `completed` settlement can still be cancelled).
    public var isTerminal: Bool { self == .completed || self == .failed || self == .cancelled }
}

/// One request the saga sends, and the state it stands in while waiting for the reply.
enum SagaStep: String, Codable, Sendable {
    case personLookup = "1101"
    /// Outpatient registration, giving the visit its mdtrt_id (cancelled by 2202).
    case registration = "2201"
    /// Inpatient admission registration (cancelled by 2404).
    case admission = "2401"
    case registrationCancel = "2202"
    case admissionCancel = "2404"
    case feeUpload = "2204"
    case feeUploadCancel = "2205"
    case preSettlement = "2206"
    case settlement = "2207"
    case settlementCancel = "2208"
    case reversal = "2601"
    case commercialClaim = "claim"
    case commercialReversal = "claim-reversal"

    var state: SettlementState {
        switch self {
        case .personLookup: .personLookup
        case .registration, .admission: .registration
        case .registrationCancel, .admissionCancel: .registrationCancel
        case .feeUpload: .feeUpload
        case .feeUploadCancel: .feeUploadCancel
        case .preSettlement: .preSettled
        case .settlement: .settled
        case .settlementCancel: .settlementCancel
        case .reversal: .reversal
        case .commercialClaim: .commercialClaim
        case .commercialReversal: .commercialReversal
        }
    }

    /// The platform's transaction code for this step of an outpatient (the raw value) or inpatient
    /// visit (med_type 2x, 52: the 23xx series; commercial steps: the raw value). The platform
    /// refuses an outpatient code for an inpatient mdtrt_id and the other way round.
    ///
    /// Discharge (2402) is not a step: it is the HIS's own transaction when the patient leaves
    /// (ADT^A03), with the discharge diagnoses, time and way that a charge batch does not carry,
    /// and undoing a settlement (2305) must not undo a discharge (2405) — whether the patient is
    /// re-admitted is the HIS's decision. The saga settles what was uploaded for the admission.
    func infno(inpatient: Bool) -> String {
        guard inpatient else { return rawValue }
        switch self {
        case .feeUpload: return "2301"
        case .feeUploadCancel: return "2302"
        case .preSettlement: return "2303"
        case .settlement: return "2304"
        case .settlementCancel: return "2305"
        default: return rawValue
        }
    }

    var isCommercial: Bool { self == .commercialClaim || self == .commercialReversal }

    /// Compensation steps are retried without limit: giving up would leave money moved.
    var isCompensation: Bool {
        switch self {
        case .feeUploadCancel, .reversal, .settlementCancel, .commercialReversal, .registrationCancel, .admissionCancel: true
        default: false
        }
    }
}
