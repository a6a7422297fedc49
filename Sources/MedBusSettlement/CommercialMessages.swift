import Foundation
import MedBusCore

/// MedBus's own claim contract with commercial insurers (DOMAIN.md §5): requests on
/// `insurer.<id>.requests`, replies on `insurer.<id>.replies`, and claims queued on
/// `settlement.claims.<id>` when the patient paid a share the insurer should reimburse.
enum CommercialMessages {
    /// `insurer-claim-request.schema.json`: the basic settlement's summary, fee detail and the
    /// amount the patient still owes (`claimedAmount`).
    static func request(type: String, msgid: String, claimId: String, saga: SagaRecord, claimed: Money) -> JSONValue {
        let request = saga.request
        let setlinfo = saga.settlement?["setlinfo"] ?? .object([:])
        let amount = { (field: String) in JSONValue.money(setlinfo[field]?.moneyValue ?? .zero) }
        return .object([
            "msgid": .string(msgid),
            "claimId": .string(claimId),
            "settlementId": .string(saga.id),
            "type": .string(type),
            "fixmedins_code": .string(request.fixmedinsCode),
            "psn_no": .string(saga.person?.psnNo ?? request.psnNo ?? ""),
            "certno": .string(saga.person?.certno ?? ""),
            "psn_name": .string(saga.person?.psnName ?? ""),
            "policyNo": .string(request.commercial?.policyNo ?? ""),
            "mdtrt_id": .string(request.mdtrtId ?? setlinfo["mdtrt_id"]?.stringValue ?? ""),
            "setl_id": .string(setlinfo["setl_id"]?.stringValue ?? ""),
            "med_type": .string(request.medType),
            "claimedAmount": .money(claimed),
            "summary": .object([
                "medfee_sumamt": amount("medfee_sumamt"), "inscp_scp_amt": amount("inscp_scp_amt"),
                "fulamt_ownpay_amt": amount("fulamt_ownpay_amt"), "overlmt_selfpay": amount("overlmt_selfpay"),
                "preselfpay_amt": amount("preselfpay_amt"), "psn_part_amt": amount("psn_part_amt"),
                "fund_pay_sumamt": amount("fund_pay_sumamt"), "psn_cash_pay": amount("psn_cash_pay"),
            ]),
            "feedetail": .array(request.feedetail.map { line in
                .object([
                    "feedetl_sn": .string(line.feedetlSn), "medins_list_codg": .string(line.medinsListCodg),
                    "med_list_codg": .string(line.medListCodg ?? ""), "med_chrgitm_type": .string(line.medChrgitmType ?? ""),
                    "cnt": .number(line.cnt.description), "pric": .number(line.pric.description),
                    "det_item_fee_sumamt": .money(line.detItemFeeSumamt),
                ])
            }),
            "diseinfo": .array([]),
        ])
    }

    /// `insurer-claim-reply.schema.json`.
    struct Reply: Sendable {
        enum Status: String, Sendable { case approved, declined, reversed }
        var status: Status
        var approvedAmount: Money
        var reason: String?

        init(_ body: JSONValue) throws {
            guard let raw = body["status"]?.stringValue, let status = Status(rawValue: raw) else {
                throw SettlementError.invalidRequest("claim reply has no valid status")
            }
            self.status = status
            self.approvedAmount = body["approvedAmount"]?.moneyValue ?? .zero
            self.reason = body["reason"]?.stringValue
        }
    }

    /// `settlement-claim.schema.json`: a share the patient paid because the insurer declined or
    /// did not answer, queued for reimbursement.
    static func claimRecord(saga: SagaRecord, insurer: String, claimId: String, claimed: Money, reason: String,
                            insurerReason: String?, at date: Date) -> JSONValue {
        let setlinfo = saga.settlement?["setlinfo"] ?? .object([:])
        let amount = { (field: String) in JSONValue.money(setlinfo[field]?.moneyValue ?? .zero) }
        var fields: [String: JSONValue] = [
            "claimId": .string(claimId),
            "settlementId": .string(saga.id),
            "insurerCode": .string(insurer),
            "fixmedins_code": .string(saga.request.fixmedinsCode),
            "chrg_bchno": .string(saga.request.chrgBchno),
            "mdtrt_id": .string(saga.request.mdtrtId ?? setlinfo["mdtrt_id"]?.stringValue ?? ""),
            "setl_id": .string(setlinfo["setl_id"]?.stringValue ?? ""),
            "psn_no": .string(saga.person?.psnNo ?? saga.request.psnNo ?? ""),
            "policyNo": .string(saga.request.commercial?.policyNo ?? ""),
            "claimedAmount": .money(claimed),
            "paidByPatient": .money(claimed),
            "reason": .string(reason),
            "status": .string("queued"),
            "queuedAt": .string(ISO8601DateFormatter().string(from: date)),
            "summary": .object([
                "medfee_sumamt": amount("medfee_sumamt"), "fund_pay_sumamt": amount("fund_pay_sumamt"),
                "psn_part_amt": amount("psn_part_amt"), "psn_cash_pay": amount("psn_cash_pay"),
            ]),
        ]
        fields["insurerReason"] = insurerReason.map(JSONValue.string)
        return .object(fields)
    }
}
