import Foundation
import MedBusCore

/// 2204 / 2206 / 2207 output nodes from a `SettlementComputation`, in the platform's field names.
enum SettlementOutput {
    /// 2204 `output.result[]`, one per uploaded line.
    static func lineResults(_ lines: [LineResult], uploaded: [String: (cnt: String, pric: String)]) -> JSONValue {
        .array(lines.map { line in
            let quantities = uploaded[line.feedetlSn]
            return .object([
                ("feedetl_sn", .string(line.feedetlSn)),
                ("det_item_fee_sumamt", .money(line.amount)),
                ("cnt", .number(quantities?.cnt ?? "1")),
                ("pric", .number(quantities?.pric ?? line.amount.yuanText)),
                ("pric_uplmt_amt", .null),
                ("selfpay_prop", .number(line.selfpayProp.decimalText)),
                ("fulamt_ownpay_amt", .money(line.fulamtOwnpay)),
                ("overlmt_amt", .money(.zero)),
                ("preselfpay_amt", .money(line.preselfpay)),
                ("inscp_scp_amt", .money(line.inscp)),
                ("chrgitm_lv", .string(line.category.chargeItemLevel)),
            ])
        })
    }

    /// `setlinfo` of 2206 (setlId nil) and 2207.
    static func setlinfo(_ c: SettlementComputation, setlId: String?, person: InsuredPerson, insutype: String, mdtrtId: String, medType: String, clearingArea: String) -> JSONValue {
        .object([
            ("setl_id", setlId.map(JSONValue.string) ?? .null),
            ("mdtrt_id", .string(mdtrtId)),
            ("psn_no", .string(person.psnNo)),
            ("psn_name", .string(person.psnName)),
            ("insutype", .string(insutype)),
            ("psn_type", .string(person.psnType)),
            ("setl_time", .string(PlatformTime.readable(Date()))),
            ("med_type", .string(medType)),
            ("medfee_sumamt", .money(c.medfeeSumamt)),
            ("fulamt_ownpay_amt", .money(c.fulamtOwnpay)),
            ("overlmt_selfpay", .money(c.overlmtSelfpay)),
            ("preselfpay_amt", .money(c.preselfpay)),
            ("inscp_scp_amt", .money(c.inscp)),
            ("act_pay_dedc", .money(c.deductiblePaid)),
            ("hifp_pay", .money(c.hifpPay)),
            ("pool_prop_selfpay", .money(c.poolPropSelfpay)),
            ("cvlserv_pay", .money(.zero)),
            ("hifes_pay", .money(.zero)),
            ("hifmi_pay", .money(c.seriousField == "hifmi_pay" ? c.seriousPay : .zero)),
            ("hifob_pay", .money(c.seriousField == "hifob_pay" ? c.seriousPay : .zero)),
            ("maf_pay", .money(c.mafPay)),
            ("oth_pay", .money(.zero)),
            ("fund_pay_sumamt", .money(c.fundPaySumamt)),
            ("psn_part_amt", .money(c.psnPartAmt)),
            // acct_used_flag is treated as 0: the personal account never pays in the simulator.
            ("acct_pay", .money(.zero)),
            ("psn_cash_pay", .money(c.psnPartAmt)),
            ("hosp_part_amt", .money(.zero)),
            ("balc", .money(person.balance)),
            ("acct_mulaid_pay", .money(.zero)),
            ("medins_setl_id", .null),
            ("clr_optins", .string(clearingArea)),
            ("clr_way", .string("1")),
            ("clr_type", .string("11")),
        ])
    }

    /// `setldetail[]`: one entry per fund that applies to the person.
    static func setldetail(_ c: SettlementComputation) -> JSONValue {
        .array(c.funds.map { fund in
            .object([
                ("fund_pay_type", .string(fund.fundPayType)),
                ("inscp_scp_amt", .money(c.inscp)),
                ("crt_payb_lmt_amt", .money(.zero)),
                ("fund_payamt", .money(fund.amount)),
                ("fund_pay_type_name", .null),
                ("setl_proc_info", .null),
            ])
        })
    }
}
