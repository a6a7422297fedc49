import MedBusCore

/// The invariant a result must hold before it is published: every fen of the bill is paid by
/// exactly one payer.
///
/// `fund_pay_sumamt + hosp_part_amt + commercial + patient == medfee_sumamt`, where the patient's
/// share is `psn_part_amt` minus what the commercial insurer pays, and `medfee_sumamt` is the
/// request's own total. The platform computes the basic shares; this check catches a reply that
/// does not add up (or a commercial approval above what the patient owed) instead of passing it on.
struct ShareCheck: Sendable, Equatable {
    var total: Money
    var funds: Money
    var hospital: Money
    var commercial: Money
    var patient: Money
    /// What the patient pays in cash after the commercial share.
    var patientCash: Money

    init(setlinfo: JSONValue, commercialApproved: Money) {
        total = setlinfo["medfee_sumamt"]?.moneyValue ?? .zero
        funds = setlinfo["fund_pay_sumamt"]?.moneyValue ?? .zero
        hospital = setlinfo["hosp_part_amt"]?.moneyValue ?? .zero
        commercial = commercialApproved
        patient = (setlinfo["psn_part_amt"]?.moneyValue ?? .zero) - commercialApproved
        patientCash = (setlinfo["psn_cash_pay"]?.moneyValue ?? setlinfo["psn_part_amt"]?.moneyValue ?? .zero) - commercialApproved
    }

    /// True when the shares add up to `requestTotal` exactly and none is negative.
    func addsUp(to requestTotal: Money) -> Bool {
        total == requestTotal
            && funds + hospital + commercial + patient == total
            && [funds, hospital, commercial, patient, patientCash].allSatisfy { $0 >= .zero }
    }
}
