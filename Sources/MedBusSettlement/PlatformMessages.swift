import Foundation
import MedBusCore

/// The national platform's request and response envelopes (DOMAIN.md §1), as they travel on
/// `insurer.nhsa.requests` / `.replies` exactly as over HTTP.
enum PlatformMessages {
    /// `fixmedins_code(12) + yyyyMMddHHmmss(14) + sequence(4)`: the time part, in China time.
    static func msgidTimePart(_ date: Date) -> String { format(date, "yyyyMMddHHmmss") }

    /// `yyyy-MM-dd HH:mm:ss`, China time, for `inf_time`.
    static func infTime(_ date: Date) -> String { format(date, "yyyy-MM-dd HH:mm:ss") }

    private static func format(_ date: Date, _ pattern: String) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        let p = { (v: Int?, w: Int) in String(format: "%0\(w)d", v ?? 0) }
        if pattern == "yyyyMMddHHmmss" {
            return p(c.year, 4) + p(c.month, 2) + p(c.day, 2) + p(c.hour, 2) + p(c.minute, 2) + p(c.second, 2)
        }
        return "\(p(c.year, 4))-\(p(c.month, 2))-\(p(c.day, 2)) \(p(c.hour, 2)):\(p(c.minute, 2)):\(p(c.second, 2))"
    }

    /// The request envelope around `input` for one saga step.
    static func request(infno: String, msgid: String, input: JSONValue, saga: SagaRecord,
                        platform: SettlementConfiguration.Platform, at date: Date) -> JSONValue {
        let request = saga.request
        let insuplc = saga.person?.insuplcAdmdvs ?? request.insuplcAdmdvs ?? request.mdtrtareaAdmvs ?? ""
        return envelope(infno: infno, msgid: msgid, fixmedinsCode: request.fixmedinsCode, fixmedinsName: request.fixmedinsName ?? "",
                        mdtrtareaAdmvs: request.mdtrtareaAdmvs ?? insuplc, insuplcAdmdvs: insuplc, input: input, platform: platform, at: date)
    }

    /// The request envelope. `sign_no` is the configured one; the NHSA insurer adapter replaces it
    /// with the sign_no of its own 9001 sign-in.
    static func envelope(infno: String, msgid: String, fixmedinsCode: String, fixmedinsName: String, mdtrtareaAdmvs: String,
                         insuplcAdmdvs: String, input: JSONValue, platform: SettlementConfiguration.Platform, at date: Date) -> JSONValue {
        .object([
            "infno": .string(infno),
            "msgid": .string(msgid),
            "mdtrtarea_admvs": .string(mdtrtareaAdmvs),
            "insuplc_admdvs": .string(insuplcAdmdvs),
            "recer_sys_code": .string(platform.recerSysCode),
            "dev_no": .string(""),
            "dev_safe_info": .string(""),
            "cainfo": .string(""),
            "signtype": .string(""),
            "infver": .string(platform.infver),
            "opter_type": .string(platform.opterType),
            "opter": .string(platform.opter),
            "opter_name": .string(platform.opterName),
            "inf_time": .string(infTime(date)),
            "fixmedins_code": .string(fixmedinsCode),
            "fixmedins_name": .string(fixmedinsName),
            "sign_no": .string(platform.signNo),
            "input": input,
        ])
    }

    /// The transaction code `step` is sent with for this visit (2204 or 2301, …; see `SagaStep`).
    static func infno(of step: SagaStep, for saga: SagaRecord) -> String {
        step.infno(inpatient: saga.request.isInpatient)
    }

    /// The `input` of each platform step, from the request and what earlier replies returned.
    /// Inpatient visits use the 23xx shapes: 2301 lines carry med_type and no charge batch, and
    /// 2303 / 2304 settle every unsettled line of the admission (`mid_setl_flag`, no chrg_bchno).
    static func input(for step: SagaStep, saga: SagaRecord) -> JSONValue {
        let request = saga.request
        let psnNo = JSONValue.optional(saga.person?.psnNo ?? request.psnNo)
        let mdtrtId = JSONValue.optional(saga.mdtrtId)
        let presented = request.certificate
        let certificate: [String: JSONValue] = ["mdtrt_cert_type": .optional(presented?.type), "mdtrt_cert_no": .optional(presented?.number)]
        let insutype = JSONValue.optional(saga.person?.insutype ?? request.insutype)
        let begntime = JSONValue.string(infTime(request.requestedAt.flatMap(MessageEnvelope.parseTimestamp) ?? saga.createdAt))
        switch step {
        case .personLookup:
            // With a national id card (02) the certificate number is the person's certno too.
            let idCard = presented?.type == "02"
            return .object(["data": .object(certificate.merging([
                "psn_cert_type": .string(request.psnCertType ?? (idCard ? "01" : "")),
                "certno": .string(request.certno ?? (idCard ? presented?.number ?? "" : "")), "psn_name": .string(""),
            ]) { $1 })])
        case .registration:
            return .object(["data": .object(certificate.merging([
                "psn_no": psnNo, "insutype": insutype, "begntime": begntime, "ipt_otp_no": .string(request.encounterId),
                "atddr_no": .string(""), "dr_name": .string(""), "dept_code": .optional(request.feedetail.first?.bilgDeptCodg),
                "dept_name": .optional(request.feedetail.first?.bilgDeptName), "caty": .string(""),
            ]) { $1 })])
        case .admission:
            return .object(["mdtrtinfo": .object(certificate.merging([
                "psn_no": psnNo, "insutype": insutype, "begntime": begntime, "med_type": .string(request.medType),
                "ipt_no": .string(request.encounterId), "atddr_no": .string(""), "chfpdr_name": .string(""),
                "adm_dept_codg": .optional(request.feedetail.first?.bilgDeptCodg), "adm_dept_name": .optional(request.feedetail.first?.bilgDeptName),
            ]) { $1 }), "diseinfo": .array([])])
        case .registrationCancel, .admissionCancel:
            return .object(["data": .object(["psn_no": psnNo, "mdtrt_id": mdtrtId, "ipt_otp_no": .string(request.encounterId)])])
        case .feeUpload:
            let lines: [JSONValue] = request.feedetail.map { line in
                var fields: [String: JSONValue] = [
                    "feedetl_sn": .string(line.feedetlSn), "mdtrt_id": mdtrtId, "psn_no": psnNo,
                    "fee_ocur_time": .optional(line.feeOcurTime),
                    "med_list_codg": .optional(line.medListCodg), "medins_list_codg": .string(line.medinsListCodg),
                    "det_item_fee_sumamt": .money(line.detItemFeeSumamt), "cnt": .number(line.cnt.description),
                    "pric": .number(line.pric.description), "med_chrgitm_type": .optional(line.medChrgitmType),
                    "bilg_dept_codg": .optional(line.bilgDeptCodg), "bilg_dept_name": .optional(line.bilgDeptName),
                    "bilg_dr_codg": .optional(line.bilgDrCodg), "bilg_dr_name": .optional(line.bilgDrName),
                    "hosp_appr_flag": .string("1"),
                ]
                if request.isInpatient {
                    // 2301: lines of the admission, by order (drord_no); no prescription circulation.
                    fields["med_type"] = .string(request.medType)
                    fields["drord_no"] = .string("")
                    fields["init_feedetl_sn"] = .string("")
                } else {
                    fields["chrg_bchno"] = .string(request.chrgBchno)
                    fields["rxno"] = .optional(line.rxno)
                    fields["rx_circ_flag"] = .string(line.rxCircFlag ?? "0")
                }
                return .object(fields)
            }
            return .object(["feedetail": .array(lines)])
        case .feeUploadCancel:
            // feedetl_sn "0000": every unsettled line (of the batch for 2205, of the admission for 2302).
            var data: [String: JSONValue] = ["feedetl_sn": .string("0000"), "mdtrt_id": mdtrtId, "psn_no": psnNo]
            if !request.isInpatient { data["chrg_bchno"] = .string(request.chrgBchno) }
            return .object(["data": .object(data)])
        case .preSettlement, .settlement:
            var data: [String: JSONValue] = certificate.merging([
                "psn_no": psnNo, "med_type": .string(request.medType),
                "medfee_sumamt": .money(request.total), "psn_setlway": .string(request.psnSetlway ?? "01"),
                "mdtrt_id": mdtrtId, "chrg_bchno": .string(request.chrgBchno),
                "insutype": .optional(saga.person?.insutype ?? request.insutype),
                "acct_used_flag": .string(request.acctUsedFlag ?? "0"),
            ]) { $1 }
            if request.isInpatient {
                // 2303 / 2304 settle the admission's uploaded lines, no batch; requests carry no
                // mid-way flag, so each is a final settlement (mid_setl_flag 0).
                data["chrg_bchno"] = nil
                data["mid_setl_flag"] = .string("0")
            }
            if step == .settlement {
                // 2207 / 2304 repeat the amounts the pre-settlement computed, so the platform settles what was pre-settled.
                let pre = saga.preSettlement?["setlinfo"] ?? .object([:])
                for field in ["fulamt_ownpay_amt", "overlmt_selfpay", "preselfpay_amt", "inscp_scp_amt"] {
                    data[field] = .money(pre[field]?.moneyValue ?? .zero)
                }
                data["invono"] = .string("")
            }
            return .object(["data": .object(data)])
        case .settlementCancel:
            return .object(["data": .object([
                "setl_id": .optional(saga.settlement?["setlinfo"]?["setl_id"]?.stringValue),
                "mdtrt_id": mdtrtId, "psn_no": psnNo,
            ])])
        case .reversal:
            return .object(["data": .object([
                "psn_no": psnNo, "omsgid": .optional(saga.reversalTarget?.msgid), "oinfno": .optional(saga.reversalTarget?.infno),
            ])])
        case .commercialClaim, .commercialReversal:
            preconditionFailure("commercial steps are not platform transactions")
        }
    }

    /// A response envelope: `infcode` 0 success, -1 system-level (outcome unknown), other negative
    /// values business errors with `err_msg`.
    struct Reply: Sendable {
        var infcode: Int
        var errMsg: String?
        var output: JSONValue

        init(_ body: JSONValue) throws {
            guard let infcode = body["infcode"]?.intValue else { throw SettlementError.invalidRequest("reply has no infcode") }
            self.infcode = infcode
            self.errMsg = body["err_msg"]?.stringValue
            self.output = body["output"] ?? .null
        }
    }
}
