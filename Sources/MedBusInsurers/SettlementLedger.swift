import Foundation
import MedBusCore

/// One basic-insurance settlement (2207, or 2304 for an admission) as the simulated platform recorded it.
public struct LedgerEntry: Sendable {
    public enum Status: String, Sendable {
        case settled
        /// Cancelled by 2208 / 2305.
        case cancelled
        /// Reversed by 2601 naming the 2207's msgid.
        case reversed
    }

    public var setlId: String
    /// 2207 or 2304.
    public var infno: String
    /// The 2207 / 2304 request's msgid.
    public var msgid: String
    public var psnNo: String
    public var mdtrtId: String
    public var chrgBchno: String
    public var fixmedinsCode: String
    public var insutype: String
    public var computation: SettlementComputation
    public var status: Status
    /// msgid of the 2208 or 2601 that ended it.
    public var endedBy: String?
    public var lineSns: [String]
    /// `setl_time` as the 2207 answer stated it (`yyyy-MM-dd HH:mm:ss`): the day 3201 counts it on.
    public var setlTime: String

    /// The ledger as `GET /_ledger` shows it: amounts only, no names or certificate numbers.
    var json: JSONValue {
        let c = computation
        return .object([
            ("setl_id", .string(setlId)), ("infno", .string(infno)), ("msgid", .string(msgid)), ("status", .string(status.rawValue)),
            ("ended_by", endedBy.map(JSONValue.string) ?? .null),
            ("psn_no", .string(psnNo)), ("mdtrt_id", .string(mdtrtId)), ("chrg_bchno", .string(chrgBchno)),
            ("fixmedins_code", .string(fixmedinsCode)), ("insutype", .string(insutype)), ("setl_time", .string(setlTime)),
            ("medfee_sumamt", .money(c.medfeeSumamt)), ("hifp_pay", .money(c.hifpPay)),
            ("serious_pay", .money(c.seriousPay)), ("maf_pay", .money(c.mafPay)),
            ("fund_pay_sumamt", .money(c.fundPaySumamt)), ("psn_part_amt", .money(c.psnPartAmt)),
        ])
    }
}

extension Accumulators {
    var json: JSONValue {
        .object([
            ("deductible_used", .money(deductibleUsed)), ("pooling_paid", .money(poolingPaid)),
            ("serious_base", .money(seriousBase)), ("serious_paid", .money(seriousPaid)),
            ("assistance_paid", .money(assistancePaid)),
        ])
    }
}
