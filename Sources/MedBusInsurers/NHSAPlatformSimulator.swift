import Foundation
import MedBusCore

/// The simulated national platform's state and transaction logic, without HTTP (see
/// `NHSASimulatorServer`): sign-ins, uploaded fee lines, the settlement ledger, per-person annual
/// accumulators, and the responses already given, by msgid.
///
/// **Idempotent by msgid**: a request whose msgid was already processed gets the stored response
/// again and changes nothing. Requests refused before processing (bad envelope, expired sign_no,
/// injected decline or system error) are not stored, so their retry is processed normally.
/// A 2601 reversal removes the stored response of the msgid it reverses, so the orchestrator's
/// retry with that same msgid is processed afresh.
///
/// **Outpatient and inpatient visits** use their own transactions (2204/2205/2206/2207/2208 and
/// 2301/2302/2303/2304/2305). A visit's kind is fixed by its registration (2201 or 2401) or, for
/// a visit the HIS registered, by its first fee upload; a transaction of the other kind, or a
/// med_type that contradicts the code, is refused as the platform refuses it. Inpatient
/// settlements apply the policy's inpatient rules (deductible per admission).
public actor NHSAPlatformSimulator {
    public let calculator: PolicyCalculator
    public let persons: PersonDirectory
    /// Refuse requests whose sign_no did not come from 9001 (or was expired through `expireSignIns`).
    public let requireSignIn: Bool
    /// Area code written into inf_refmsgid, setl_id and clr_optins.
    public let areaCode: String

    private var signIns: Set<String> = []
    /// Responses given, by msgid, with the infno they answered.
    private var responses: [String: (infno: String, response: JSONValue)] = [:]
    private var uploads: [String: [UploadedLine]] = [:]
    private var ledger: [LedgerEntry] = []
    /// Registered visits (2201 outpatient, 2401 admission): mdtrt_id → psn_no, while not cancelled.
    private var visits: [String: String] = [:]
    /// mdtrt_id → outpatient or inpatient, from its registration or first fee upload.
    private var visitKinds: [String: VisitKind] = [:]
    /// mdtrt_id → what its standing inpatient settlements paid toward the per-admission deductible.
    private var admissionDeductibles: [String: Money] = [:]
    /// Every processed transaction, in order (`GET /_ledger` → `transactions`).
    private var transactions: [Transaction] = []
    private var accumulators: [String: Accumulators] = [:]
    private var sequence = 0

    struct UploadedLine {
        var line: FeeLine
        var psnNo: String
        var chrgBchno: String
        var cnt: String
        var pric: String
        var msgid: String
        /// The settlement that consumed it, while that settlement stands.
        var setlId: String?
    }

    public init(policy: BasicInsurancePolicy, persons: PersonDirectory, requireSignIn: Bool = true, areaCode: String = "370100") {
        self.calculator = PolicyCalculator(policy: policy)
        self.persons = persons
        self.requireSignIn = requireSignIn
        self.areaCode = areaCode
    }

    // MARK: - Entry point

    /// Processes one request. `failAfterRecording` simulates the platform failing after it
    /// committed the transaction: the state changes, but the answer (stored for the msgid too) is
    /// `infcode = -1`.
    public func handle(_ request: PlatformRequest, failAfterRecording: Bool = false) -> JSONValue {
        let received = Date()
        if requireSignIn, request.infno != "9001", !signIns.contains(request.signNo) {
            return PlatformResponse.make(infcode: PlatformResponse.businessError, refmsgid: nextRefMsgid(), received: received,
                                         errMsg: Self.signInExpiredMessage)
        }
        if let stored = responses[request.msgid] {
            guard stored.infno == request.infno else {
                return PlatformResponse.make(infcode: PlatformResponse.businessError, refmsgid: nextRefMsgid(), received: received,
                                             errMsg: "msgid \(request.msgid) was already used by transaction \(stored.infno)")
            }
            return stored.response
        }
        let (infcode, errMsg, output) = process(request)
        var response = PlatformResponse.make(infcode: infcode, refmsgid: nextRefMsgid(), received: received, errMsg: errMsg, output: output)
        if failAfterRecording {
            response = PlatformResponse.make(infcode: PlatformResponse.systemError, refmsgid: nextRefMsgid(), received: received, errMsg: "系统异常 (simulated system error after the transaction was recorded)")
        }
        responses[request.msgid] = (request.infno, response)
        transactions.append(Transaction(infno: request.infno, msgid: request.msgid, infcode: infcode,
                                        mdtrtId: Self.mdtrtId(of: request) ?? output["result"]?["mdtrt_id"]?.stringValue ?? output["data"]?["mdtrt_id"]?.stringValue))
        return response
    }

    /// One processed request, as the transaction log keeps it (codes and ids, no personal data).
    struct Transaction: Sendable {
        var infno: String
        var msgid: String
        var infcode: Int
        var mdtrtId: String?

        var json: JSONValue {
            .object([("infno", .string(infno)), ("msgid", .string(msgid)), ("infcode", .int(infcode)), ("mdtrt_id", mdtrtId.map(JSONValue.string) ?? .null)])
        }
    }

    private static func mdtrtId(of request: PlatformRequest) -> String? {
        request.data["mdtrt_id"]?.stringValue ?? request.input["feedetail"]?.arrayValue?.first?["mdtrt_id"]?.stringValue
    }

    /// The answer to an expired or unknown sign_no. Which text the real platform sends is not
    /// public; the adapter recognises it by `NHSAAdapterConfiguration.signInExpiredMarker`.
    public static let signInExpiredMessage = "sign_no无效或已过期，请重新签到 (sign_no invalid or expired: sign in again with 9001)"

    /// An answer built without processing (injected faults): not stored under the msgid.
    public func refusal(_ request: PlatformRequest, infcode: Int, message: String) -> JSONValue {
        PlatformResponse.make(infcode: infcode, refmsgid: nextRefMsgid(), received: Date(), errMsg: message)
    }

    /// Forgets every sign-in, as when the platform's sign_no expires.
    public func expireSignIns() { signIns.removeAll() }

    public var entries: [LedgerEntry] { ledger }

    public func accumulators(psnNo: String) -> Accumulators { accumulators[psnNo] ?? Accumulators() }

    /// `GET /_ledger`.
    public func ledgerJSON() -> JSONValue {
        .object([
            ("settlements", .array(ledger.map(\.json))),
            ("accumulators", .object(accumulators.keys.sorted().map { ($0, accumulators[$0]!.json) })),
            ("signIns", .int(signIns.count)),
            ("transactions", .array(transactions.map(\.json))),
        ])
    }

    // MARK: - Transactions

    typealias Answer = (infcode: Int, errMsg: String?, output: JSONValue)

    private func process(_ request: PlatformRequest) -> Answer {
        switch request.infno {
        case "9001": return signIn()
        case "1101": return personLookup(request)
        case "2201", "2401": return register(request)
        case "2202", "2404": return cancelRegistration(request)
        case "2204": return uploadFees(request, kind: .outpatient)
        case "2301": return uploadFees(request, kind: .inpatient)
        case "2205": return cancelFees(request, kind: .outpatient)
        case "2302": return cancelFees(request, kind: .inpatient)
        case "2206": return settle(request, kind: .outpatient, record: false)
        case "2207": return settle(request, kind: .outpatient, record: true)
        case "2303": return settle(request, kind: .inpatient, record: false)
        case "2304": return settle(request, kind: .inpatient, record: true)
        case "2208": return cancelSettlement(request, kind: .outpatient)
        case "2305": return cancelSettlement(request, kind: .inpatient)
        case "2601": return reverse(request)
        case "3201": return reconcile(request)
        default: return fail("infno \(request.infno) is not supported by the simulator")
        }
    }

    private func fail(_ message: String) -> Answer { (PlatformResponse.businessError, message, .object([])) }

    /// The refusal of a transaction of the wrong kind for the visit (2207 for an admission, …), or
    /// nil when the visit is of `kind` (or not known yet).
    private func wrongKind(_ mdtrtId: String, _ kind: VisitKind, infno: String) -> Answer? {
        guard let known = visitKinds[mdtrtId], known != kind else { return nil }
        return fail(known == .inpatient
            ? "就诊类型不符：该就诊为住院，请使用住院交易2301-2305 (mdtrt_id is an inpatient admission: \(infno) is an outpatient transaction)"
            : "就诊类型不符：该就诊为门诊，请使用门诊交易2204-2208 (mdtrt_id is an outpatient visit: \(infno) is an inpatient transaction)")
    }

    private func signIn() -> Answer {
        sequence += 1
        let signNo = "SN\(PlatformTime.msgidStamp(Date()))\(String(format: "%06d", sequence))"
        signIns.insert(signNo)
        return (0, nil, .object([("signinoutb", .object([("sign_time", .string(PlatformTime.readable(Date()))), ("sign_no", .string(signNo))]))]))
    }

    private func personLookup(_ request: PlatformRequest) -> Answer {
        let data = request.data
        guard let certno = [data["certno"], data["mdtrt_cert_no"]].compactMap({ $0?.stringValue }).first(where: { !$0.isEmpty }) else { return fail("certno or mdtrt_cert_no is required") }
        guard let person = persons.person(certno: certno) else { return fail("未查询到参保信息 (no insured person for this certificate)") }
        let idetinfo: [JSONValue] = person.assistance ? [.object([("psn_idet_type", .string("2301")), ("psn_type_lv", .null), ("begntime", .string("2025-01-01 00:00:00")), ("endtime", .null)])] : []
        return (0, nil, .object([
            ("baseinfo", .object([
                ("psn_no", .string(person.psnNo)), ("psn_cert_type", .string("01")), ("certno", .string(person.certno)),
                ("psn_name", .string(person.psnName)), ("gend", .string("9")), ("naty", .string("01")), ("brdy", .null), ("age", .null),
            ])),
            ("insuinfo", .array([.object([
                ("balc", .money(person.balance)), ("insutype", .string(person.insutype)), ("psn_type", .string(person.psnType)),
                ("psn_insu_stas", .string("1")), ("psn_insu_date", .string("2020-01-01")), ("paus_insu_date", .null),
                ("cvlserv_flag", .string("0")), ("insuplc_admdvs", .string(person.insuplcAdmdvs)), ("emp_name", .null),
            ])])),
            ("idetinfo", .array(idetinfo)),
        ]))
    }

    /// 2201 (`input.data`) and 2401 (`input.mdtrtinfo`): a new visit for an insured person;
    /// answers its `mdtrt_id` (in `data` for 2201, in `result` for 2401).
    private func register(_ request: PlatformRequest) -> Answer {
        let info = request.infno == "2401" ? request.input["mdtrtinfo"] ?? .null : request.data
        guard let psnNo = info["psn_no"]?.stringValue, persons.person(psnNo: psnNo) != nil else { return fail("psn_no is not an insured person") }
        sequence += 1
        let mdtrtId = "\(areaCode)MDT\(String(format: "%010d", sequence))"
        visits[mdtrtId] = psnNo
        visitKinds[mdtrtId] = request.infno == "2401" ? .inpatient : .outpatient
        let output = JSONValue.object([("mdtrt_id", .string(mdtrtId)), ("psn_no", .string(psnNo)),
                                       ("ipt_otp_no", info["ipt_otp_no"] ?? info["ipt_no"] ?? .null)])
        return (0, nil, .object([(request.infno == "2401" ? "result" : "data", output)]))
    }

    /// 2202 / 2404: cancels a registered visit that has no standing settlement.
    private func cancelRegistration(_ request: PlatformRequest) -> Answer {
        guard let mdtrtId = request.data["mdtrt_id"]?.stringValue, visits[mdtrtId] != nil else { return fail("mdtrt_id is not a registered visit") }
        if ledger.contains(where: { $0.mdtrtId == mdtrtId && $0.status == .settled }) { return fail("the visit has a standing settlement; cancel it first (2208 / 2305)") }
        visits[mdtrtId] = nil
        visitKinds[mdtrtId] = nil
        uploads[mdtrtId] = nil
        return (0, nil, .object([]))
    }

    /// 2204 (lines of a charge batch) and 2301 (lines of an admission, with med_type).
    private func uploadFees(_ request: PlatformRequest, kind: VisitKind) -> Answer {
        guard let details = request.input["feedetail"]?.arrayValue, !details.isEmpty else { return fail("input.feedetail is empty") }
        var parsed: [UploadedLine] = []
        for (index, detail) in details.enumerated() {
            guard let sn = detail["feedetl_sn"]?.stringValue, let mdtrtId = detail["mdtrt_id"]?.stringValue, let psnNo = detail["psn_no"]?.stringValue,
                  let code = detail["med_list_codg"]?.stringValue, let amount = detail["det_item_fee_sumamt"]?.moneyValue, amount >= .zero else {
                return fail("feedetail[\(index)]: feedetl_sn, mdtrt_id, psn_no, med_list_codg and det_item_fee_sumamt (>= 0) are required")
            }
            guard mdtrtId == details[0]["mdtrt_id"]?.stringValue else { return fail("feedetail[\(index)]: all lines of one upload must belong to one mdtrt_id") }
            if uploads[mdtrtId]?.contains(where: { $0.line.feedetlSn == sn && $0.setlId != nil }) == true {
                return fail("feedetail[\(index)]: feedetl_sn \(sn) is already settled")
            }
            parsed.append(UploadedLine(line: FeeLine(feedetlSn: sn, medListCode: code, amount: amount), psnNo: psnNo,
                                       chrgBchno: detail["chrg_bchno"]?.stringValue ?? "", cnt: detail["cnt"]?.stringValue ?? "1",
                                       pric: detail["pric"]?.stringValue ?? amount.yuanText, msgid: request.msgid))
        }
        guard persons.person(psnNo: parsed[0].psnNo) != nil else { return fail("psn_no is not an insured person") }
        let mdtrtId = details[0]["mdtrt_id"]!.stringValue!
        if let refusal = wrongKind(mdtrtId, kind, infno: request.infno) { return refusal }
        if let medType = details[0]["med_type"]?.stringValue, VisitKind(medType: medType) != kind {
            return fail("med_type \(medType) does not match transaction \(request.infno)")
        }
        visitKinds[mdtrtId] = kind
        var lines = uploads[mdtrtId] ?? []
        for upload in parsed {
            // Uploading a feedetl_sn again replaces the unsettled line.
            lines.removeAll { $0.line.feedetlSn == upload.line.feedetlSn }
            lines.append(upload)
        }
        uploads[mdtrtId] = lines
        let quantities = Dictionary(parsed.map { ($0.line.feedetlSn, (cnt: $0.cnt, pric: $0.pric)) }, uniquingKeysWith: { $1 })
        return (0, nil, .object([("result", SettlementOutput.lineResults(calculator.classify(parsed.map(\.line)), uploaded: quantities))]))
    }

    /// 2205 / 2302: removes unsettled lines, all of them with feedetl_sn "0000".
    private func cancelFees(_ request: PlatformRequest, kind: VisitKind) -> Answer {
        let data = request.data
        guard let mdtrtId = data["mdtrt_id"]?.stringValue else { return fail("mdtrt_id is required") }
        if let refusal = wrongKind(mdtrtId, kind, infno: request.infno) { return refusal }
        let batch = data["chrg_bchno"]?.stringValue
        let sn = data["feedetl_sn"]?.stringValue ?? "0000"
        let before = uploads[mdtrtId]?.count ?? 0
        uploads[mdtrtId]?.removeAll { line in
            line.setlId == nil && (batch == nil || batch == "" || line.chrgBchno == batch) && (sn == "0000" || line.line.feedetlSn == sn)
        }
        let removed = before - (uploads[mdtrtId]?.count ?? 0)
        return (0, nil, .object([("result", .object([("mdtrt_id", .string(mdtrtId)), ("cancelled_count", .int(removed))]))]))
    }

    /// 2206 / 2303 (`record: false`) and 2207 / 2304: the same computation; only the settlement
    /// changes state. An inpatient settlement covers every unsettled line of the admission.
    private func settle(_ request: PlatformRequest, kind: VisitKind, record: Bool) -> Answer {
        let data = request.data
        guard let psnNo = data["psn_no"]?.stringValue, let mdtrtId = data["mdtrt_id"]?.stringValue else { return fail("psn_no and mdtrt_id are required") }
        guard let person = persons.person(psnNo: psnNo) else { return fail("psn_no is not an insured person") }
        if let refusal = wrongKind(mdtrtId, kind, infno: request.infno) { return refusal }
        let medType = data["med_type"]?.stringValue ?? (kind == .inpatient ? "21" : "11")
        guard VisitKind(medType: medType) == kind else { return fail("med_type \(medType) does not match transaction \(request.infno)") }
        let batch = data["chrg_bchno"]?.stringValue ?? ""
        let lines = (uploads[mdtrtId] ?? []).filter { $0.setlId == nil && $0.psnNo == psnNo && (batch.isEmpty || $0.chrgBchno == batch) }
        guard !lines.isEmpty else { return fail("没有待结算的费用明细 (no unsettled fee details for this visit and charge batch)") }
        let insutype = data["insutype"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 } ?? person.insutype
        let computation: SettlementComputation
        do {
            computation = try calculator.settle(lines: lines.map(\.line), insutype: insutype, fixmedinsCode: request.fixmedinsCode,
                                                psnNo: psnNo, assistanceEligible: person.assistance, accumulators: accumulators(psnNo: psnNo),
                                                visit: kind, admissionDeductibleUsed: admissionDeductibles[mdtrtId] ?? .zero)
        } catch {
            return fail("\(error)")
        }
        if let stated = data["medfee_sumamt"]?.moneyValue, stated != computation.medfeeSumamt {
            return fail("medfee_sumamt \(stated.yuanText) does not match the uploaded details (\(computation.medfeeSumamt.yuanText))")
        }
        var setlId: String?
        if record {
            sequence += 1
            setlId = "\(areaCode)SETL\(String(format: "%010d", sequence))"
        }
        let setlinfo = SettlementOutput.setlinfo(computation, setlId: setlId, person: person, insutype: insutype, mdtrtId: mdtrtId, medType: medType, clearingArea: areaCode)
        if let id = setlId {
            ledger.append(LedgerEntry(setlId: id, infno: request.infno, msgid: request.msgid, psnNo: psnNo, mdtrtId: mdtrtId, chrgBchno: batch,
                                      fixmedinsCode: request.fixmedinsCode, insutype: insutype, computation: computation,
                                      status: .settled, endedBy: nil, lineSns: lines.map(\.line.feedetlSn),
                                      setlTime: setlinfo["setl_time"]?.stringValue ?? PlatformTime.readable(Date())))
            mark(mdtrtId: mdtrtId, sns: Set(lines.map(\.line.feedetlSn)), setlId: id)
            tally(ledger.count - 1, undo: false)
        }
        return (0, nil, .object([("setlinfo", setlinfo), ("setldetail", SettlementOutput.setldetail(computation))]))
    }

    /// 3201 (reconciliation totals): the hospital's totals for `insutype` and the days
    /// `stmt_begndate`…`stmt_enddate` against the standing settlements of the ledger. Answers
    /// `stmtinfo{stmt_rslt: "0" agree | "1" disagree, stmt_rslt_dscr}` and — beyond what the
    /// platform is known to send — the simulator's own totals, so differences can be listed.
    private func reconcile(_ request: PlatformRequest) -> Answer {
        let data = request.data
        guard let begin = data["stmt_begndate"]?.stringValue, let end = data["stmt_enddate"]?.stringValue, begin.count == 10, end.count == 10,
              let medfee = data["medfee_sumamt"]?.moneyValue, let funds = data["fund_pay_sumamt"]?.moneyValue,
              let count = data["fixmedins_setl_cnt"]?.intValue else {
            return fail("stmt_begndate, stmt_enddate (yyyy-MM-dd), medfee_sumamt, fund_pay_sumamt and fixmedins_setl_cnt are required")
        }
        let insutype = data["insutype"]?.stringValue ?? ""
        let standing = ledger.filter { entry in
            entry.status == .settled && entry.fixmedinsCode == request.fixmedinsCode && (insutype.isEmpty || entry.insutype == insutype)
                && String(entry.setlTime.prefix(10)) >= begin && String(entry.setlTime.prefix(10)) <= end
        }
        let ourMedfee = standing.map(\.computation.medfeeSumamt).sum()
        let ourFunds = standing.map(\.computation.fundPaySumamt).sum()
        let acct = data["acct_pay"]?.moneyValue ?? .zero
        let agrees = standing.count == count && ourMedfee == medfee && ourFunds == funds && acct == .zero
        return (0, nil, .object([("stmtinfo", .object([
            ("setl_optins", .string(areaCode)), ("stmt_rslt", .string(agrees ? "0" : "1")),
            ("stmt_rslt_dscr", .string(agrees ? "对账一致 (totals agree)" : "对账不一致 (totals differ)")),
            ("fixmedins_setl_cnt", .int(standing.count)), ("medfee_sumamt", .money(ourMedfee)),
            ("fund_pay_sumamt", .money(ourFunds)), ("acct_pay", .money(.zero)),
        ]))]))
    }

    /// 2208 / 2305: cancels a standing settlement of an outpatient visit / an admission.
    private func cancelSettlement(_ request: PlatformRequest, kind: VisitKind) -> Answer {
        guard let setlId = request.data["setl_id"]?.stringValue, let index = ledger.firstIndex(where: { $0.setlId == setlId }) else {
            return fail("setl_id not found")
        }
        if let refusal = wrongKind(ledger[index].mdtrtId, kind, infno: request.infno) { return refusal }
        guard ledger[index].status == .settled else { return fail("settlement \(setlId) is already \(ledger[index].status.rawValue)") }
        end(index, as: .cancelled, by: request.msgid)
        let c = ledger[index].computation
        sequence += 1
        return (0, nil, .object([("setlinfo", .object([
            ("setl_id", .string("\(areaCode)SETL\(String(format: "%010d", sequence))")),
            ("init_setl_id", .string(setlId)),
            ("mdtrt_id", .string(ledger[index].mdtrtId)),
            ("psn_no", .string(ledger[index].psnNo)),
            ("medfee_sumamt", .money(-c.medfeeSumamt)),
            ("fund_pay_sumamt", .money(-c.fundPaySumamt)),
            ("psn_part_amt", .money(-c.psnPartAmt)),
            ("psn_cash_pay", .money(-c.psnPartAmt)),
        ]))]))
    }

    /// 2601: reverses the transaction named by `omsgid` if it changed state (a 2207 settlement is
    /// ended, a 2208 cancellation undone); an unknown or stateless msgid reverses nothing and still
    /// succeeds. Either way the stored response of `omsgid` is forgotten.
    private func reverse(_ request: PlatformRequest) -> Answer {
        guard let omsgid = request.data["omsgid"]?.stringValue, !omsgid.isEmpty else { return fail("omsgid is required") }
        var reversed = false
        if let index = ledger.firstIndex(where: { $0.msgid == omsgid && $0.status == .settled }) {
            end(index, as: .reversed, by: request.msgid)
            reversed = true
        } else if let index = ledger.firstIndex(where: { $0.endedBy == omsgid && $0.status == .cancelled }) {
            // Undo a cancellation: the settlement stands again.
            ledger[index].status = .settled
            ledger[index].endedBy = nil
            mark(mdtrtId: ledger[index].mdtrtId, sns: Set(ledger[index].lineSns), setlId: ledger[index].setlId)
            tally(index, undo: false)
            reversed = true
        }
        responses[omsgid] = nil
        return (0, nil, .object([("result", .object([("omsgid", .string(omsgid)), ("reversed", .bool(reversed))]))]))
    }

    /// Ends a standing settlement: its lines become unsettled again, the person's totals drop back.
    private func end(_ index: Int, as status: LedgerEntry.Status, by msgid: String) {
        ledger[index].status = status
        ledger[index].endedBy = msgid
        mark(mdtrtId: ledger[index].mdtrtId, sns: Set(ledger[index].lineSns), setlId: nil)
        tally(index, undo: true)
    }

    /// Adds (or, undoing, takes back) what a settlement counts toward the person's annual totals
    /// and its admission's deductible.
    private func tally(_ index: Int, undo: Bool) {
        let entry = ledger[index]
        let c = entry.computation
        accumulators[entry.psnNo] = accumulators(psnNo: entry.psnNo) + (undo ? -c.delta : c.delta)
        if c.admissionDeductiblePaid != .zero {
            let used = (admissionDeductibles[entry.mdtrtId] ?? .zero) + (undo ? -c.admissionDeductiblePaid : c.admissionDeductiblePaid)
            admissionDeductibles[entry.mdtrtId] = used == .zero ? nil : used
        }
    }

    private func mark(mdtrtId: String, sns: Set<String>, setlId: String?) {
        guard var lines = uploads[mdtrtId] else { return }
        for i in lines.indices where sns.contains(lines[i].line.feedetlSn) { lines[i].setlId = setlId }
        uploads[mdtrtId] = lines
    }

    private func nextRefMsgid() -> String {
        sequence += 1
        return "\(areaCode)\(PlatformTime.msgidStamp(Date()))\(String(format: "%010d", sequence % 10_000_000_000))"
    }
}
