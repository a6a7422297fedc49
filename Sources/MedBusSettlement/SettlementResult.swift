import Foundation
import MedBusCore

/// The outcome of one settlement: `settlement-result.schema.json` (topic `settlement.results`).
///
/// `setlinfo` and `setldetail` are the platform's 2207 output as it came, limited to the fields the
/// schema names, with numbers kept as their text; the typed accessors read amounts exactly.
public struct SettlementResult: Codable, Sendable, Hashable {
    public enum Status: String, Codable, Sendable {
        case settled, preSettled = "pre-settled", cancelled, failed
    }

    /// The commercial direct-pay leg.
    public struct Commercial: Codable, Sendable, Hashable {
        public enum Status: String, Codable, Sendable {
            case approved, partiallyApproved = "partially-approved", rejected, pending, cancelled
        }
        public var insurerCode: String
        public var claimId: String?
        public var status: Status
        public var claimedAmount: Money?
        public var approvedAmount: Money?
        public var rejectReason: String?
        /// A `settlement.claims.<insurer>` record was written for the share the patient paid.
        public var claimQueued: Bool?
    }

    public var settlementId: String
    public var chrgBchno: String
    public var encounterId: String?
    public var patientId: String?
    public var fixmedinsCode: String?
    public var status: Status
    public var failureReason: String?
    /// The platform's err_msg when it rejected a step.
    public var errMsg: String?
    public var setlinfo: JSONValue?
    public var setldetail: [JSONValue]?
    public var commercial: Commercial?
    /// What the patient pays in cash: psn_cash_pay minus the commercial approved amount.
    public var patientPayable: Money?
    public var completedAt: String?

    enum CodingKeys: String, CodingKey {
        case settlementId, chrgBchno = "chrg_bchno", encounterId, patientId, fixmedinsCode = "fixmedins_code", status
        case failureReason, errMsg = "err_msg", setlinfo, setldetail, commercial, patientPayable, completedAt
    }

    /// The fields of `setlinfo` the schema allows (the platform may send more).
    static let setlinfoFields: Set<String> = [
        "setl_id", "mdtrt_id", "psn_no", "psn_name", "insutype", "psn_type", "setl_time", "med_type", "medfee_sumamt",
        "fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt", "act_pay_dedc", "hifp_pay",
        "pool_prop_selfpay", "cvlserv_pay", "hifes_pay", "hifmi_pay", "hifob_pay", "maf_pay", "oth_pay", "fund_pay_sumamt",
        "psn_part_amt", "acct_pay", "psn_cash_pay", "hosp_part_amt", "balc", "acct_mulaid_pay", "medins_setl_id",
        "clr_optins", "clr_way", "clr_type",
    ]
    static let setldetailFields: Set<String> = [
        "fund_pay_type", "fund_pay_type_name", "inscp_scp_amt", "crt_payb_lmt_amt", "fund_payamt", "setl_proc_info",
    ]

    /// An amount of `setlinfo` (zero when the platform left it out or sent null).
    public func amount(_ field: String) -> Money { setlinfo?[field]?.moneyValue ?? .zero }

    /// The wire form: numbers with two decimals, sorted keys, no nulls.
    public var jsonValue: JSONValue {
        var fields: [String: JSONValue] = [
            "settlementId": .string(settlementId), "chrg_bchno": .string(chrgBchno), "status": .string(status.rawValue),
        ]
        fields["encounterId"] = encounterId.map(JSONValue.string)
        fields["patientId"] = patientId.map(JSONValue.string)
        fields["fixmedins_code"] = fixmedinsCode.map(JSONValue.string)
        fields["failureReason"] = failureReason.map(JSONValue.string)
        fields["err_msg"] = errMsg.map(JSONValue.string)
        fields["setlinfo"] = setlinfo?.amountsWithTwoDecimals
        fields["setldetail"] = setldetail.map { .array($0.map(\.amountsWithTwoDecimals)) }
        fields["patientPayable"] = patientPayable.map(JSONValue.money)
        fields["completedAt"] = completedAt.map(JSONValue.string)
        if let commercial {
            var leg: [String: JSONValue] = ["insurerCode": .string(commercial.insurerCode), "status": .string(commercial.status.rawValue)]
            leg["claimId"] = commercial.claimId.map(JSONValue.string)
            leg["claimedAmount"] = commercial.claimedAmount.map(JSONValue.money)
            leg["approvedAmount"] = commercial.approvedAmount.map(JSONValue.money)
            leg["rejectReason"] = commercial.rejectReason.map(JSONValue.string)
            leg["claimQueued"] = commercial.claimQueued.map(JSONValue.bool)
            fields["commercial"] = .object(leg)
        }
        return .object(fields)
    }

    /// Reads the wire form back.
    public init(json: JSONValue) throws {
        self = try JSONDecoder().decode(SettlementResult.self, from: try JSONEncoder().encode(json))
    }

    init(settlementId: String, request: SettlementRequest, status: Status) {
        self.settlementId = settlementId
        self.chrgBchno = request.chrgBchno
        self.encounterId = request.encounterId
        self.patientId = request.patientId
        self.fixmedinsCode = request.fixmedinsCode
        self.status = status
    }
}

extension JSONValue {
    /// Amounts with two decimals (`800.00`) however the number came: as the platform wrote it, or
    /// out of the saga log through `Decimal` (`800`). A result published again after a restart is
    /// then the same bytes as the first time.
    var amountsWithTwoDecimals: JSONValue {
        switch self {
        case .number(let text): Money(text).map(JSONValue.money) ?? self
        case .object(let members): .object(members.map { ($0.0, $0.1.amountsWithTwoDecimals) })
        case .array(let items): .array(items.map(\.amountsWithTwoDecimals))
        default: self
        }
    }

    /// The object with only `allowed` keys and without nulls (schemas forbid both), members sorted
    /// by key: the result reads the same whether the reply came off the wire or out of the saga log.
    func keeping(_ allowed: Set<String>) -> JSONValue {
        guard case .object(let members) = self else { return self }
        return .object(members.filter { allowed.contains($0.0) && $0.1 != .null }.sorted { $0.0 < $1.0 })
    }
}
