import Foundation
import MedBusCore

/// The pharmacist's review of a claimed prescription (DOMAIN.md §2, pharmacy side), from a request body:
///
/// `{"pharmacyCode": "P3701001", "decision": "approve" | "reject", "rxChkOpnn": "…", "pharCode": "…",
///   "pharName": "…", "pharCertType": "…", "pharCertno": "…", "rxChkTime": "2025-01-15T04:10:00Z"}`
///
/// `rxChkOpnn` (the opinion) is required to reject; `rxChkTime` defaults to the time of the request.
public struct RxReview: Sendable {
    public var approved: Bool
    public var reason: String?
    /// What is stored and published: the fields above, normalised.
    public var json: JSONValue

    static let fields: Set<String> = ["pharmacyCode", "decision", "rxChkOpnn", "pharCode", "pharName", "pharCertType", "pharCertno", "rxChkTime"]

    init(body: JSONValue, now: Date) throws(RxProblem) {
        let fields = try RequestBody(body, allowed: Self.fields)
        switch try fields.text("decision") {
        case "approve": approved = true
        case "reject": approved = false
        default: throw RxProblem(.invalidField, "decision must be approve or reject", extras: [("field", .string("decision"))])
        }
        reason = try fields.optionalText("rxChkOpnn")
        if !approved, reason == nil {
            throw RxProblem(.missingField, "rxChkOpnn (the reason) is required to reject", extras: [("field", .string("rxChkOpnn"))])
        }
        var members: [(String, JSONValue)] = [("pharmacyCode", .string(try fields.text("pharmacyCode"))), ("decision", .string(approved ? "approve" : "reject")),
                                              ("pharCode", .string(try fields.text("pharCode")))]
        for name in ["rxChkOpnn", "pharName", "pharCertType", "pharCertno"] {
            if let value = try fields.optionalText(name) { members.append((name, .string(value))) }
        }
        members.append(("rxChkTime", .string(try fields.time("rxChkTime", default: now))))
        json = .object(members)
    }
}

/// A dispensing (sale) report (DOMAIN.md §2, pharmacy side), from a request body:
///
/// `{"pharmacyCode": "P3701001", "setl_time": "…", "fund_pay_sumamt": "52.30", "psn_part_amt": "…",
///   "acct_pay": "…", "psn_cash_pay": "…", "seltdelts": [{"med_list_codg": "XJ01…", "medins_drug_no": "…",
///   "drug_genname": "…", "drug_spec": "…", "drug_totlcnt": "6", "aprvno": "…", "bchno": "B2401",
///   "manu_lot_num": "…", "prdr_name": "…", "pric": "12.50", "sumamt": "75.00"}]}`
///
/// Amounts are decimal text (or JSON numbers) with at most two fraction digits, read exactly as `Money` and
/// written back with two (`invalid-amount` otherwise); `drug_totlcnt` is a positive decimal; `bchno` (batch
/// number) is required on every line; each line's `med_list_codg` must be on the prescription
/// (`drug-not-prescribed`) and the quantities of one drug may not exceed what was prescribed
/// (`quantity-exceeds-prescription`).
public struct RxDispenseReport: Sendable {
    /// Dispensed quantity per national drug code.
    let quantities: [String: DecimalQuantity]
    var json: JSONValue

    static let fields: Set<String> = ["pharmacyCode", "setl_time", "fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay", "seltdelts", "hi_rxno"]
    static let lineFields: Set<String> = ["med_list_codg", "medins_drug_no", "drug_genname", "drug_spec", "drug_totlcnt", "aprvno", "bchno",
                                          "manu_lot_num", "prdr_name", "pric", "sumamt"]

    init(body: JSONValue, now: Date) throws(RxProblem) {
        let fields = try RequestBody(body, allowed: Self.fields)
        guard let lines = fields.values["seltdelts"]?.arrayValue, !lines.isEmpty else {
            throw RxProblem(.missingField, "seltdelts needs at least one dispensed line", extras: [("field", .string("seltdelts"))])
        }
        var members: [(String, JSONValue)] = [("pharmacyCode", .string(try fields.text("pharmacyCode")))]
        if let hiRxno = try fields.optionalText("hi_rxno") { members.append(("hi_rxno", .string(hiRxno))) }
        members.append(("setl_time", .string(try fields.time("setl_time", default: now))))
        for name in ["fund_pay_sumamt", "psn_part_amt", "acct_pay", "psn_cash_pay"] {
            if let amount = try fields.money(name, required: false) { members.append((name, .money(amount))) }
        }
        var quantities: [String: DecimalQuantity] = [:]
        var written: [JSONValue] = []
        for (index, line) in lines.enumerated() {
            let path = "seltdelts[\(index)]."
            let item = try RequestBody(line, allowed: Self.lineFields, path: path)
            let code = try item.text("med_list_codg")
            guard let count = item.values["drug_totlcnt"].flatMap({ $0.stringValue }).flatMap(DecimalQuantity.init), count.isPositive else {
                throw RxProblem(item.values["drug_totlcnt"] == nil ? .missingField : .invalidQuantity,
                                "\(path)drug_totlcnt must be a positive decimal", extras: [("field", .string(path + "drug_totlcnt"))])
            }
            quantities[code] = quantities[code].map { $0 + count } ?? count
            var out: [(String, JSONValue)] = [("med_list_codg", .string(code)), ("drug_totlcnt", .number(count.text)), ("bchno", .string(try item.text("bchno")))]
            for name in ["medins_drug_no", "drug_genname", "drug_spec", "aprvno", "manu_lot_num", "prdr_name"] {
                if let value = try item.optionalText(name) { out.append((name, .string(value))) }
            }
            out.append(("pric", .money(try item.money("pric", required: true)!)))
            out.append(("sumamt", .money(try item.money("sumamt", required: true)!)))
            written.append(.object(out))
        }
        members.append(("seltdelts", .array(written)))
        self.quantities = quantities
        self.json = .object(members)
    }

    /// The report as recorded, once its drugs and quantities are checked against the signed prescription.
    func checked(against prescription: JSONValue) throws(RxProblem) -> JSONValue {
        var prescribed: [String: DecimalQuantity] = [:]
        let lines = prescription["rxdrugdetail"]?.arrayValue ?? []
        for line in lines {
            guard let code = line["medListCodg"]?.stringValue, let count = line["drugCnt"]?.stringValue.flatMap(DecimalQuantity.init) else { continue }
            prescribed[code] = prescribed[code].map { $0 + count } ?? count
        }
        for (code, quantity) in quantities.sorted(by: { $0.key < $1.key }) {
            guard let allowed = prescribed[code] else {
                throw RxProblem(.drugNotPrescribed, "drug \(code) is not on the prescription", extras: [("code", .string(code))])
            }
            guard !(allowed < quantity) else {
                throw RxProblem(.quantityExceedsPrescription, "\(quantity.text) of drug \(code) dispensed, \(allowed.text) prescribed",
                                extras: [("code", .string(code)), ("prescribed", .number(allowed.text)), ("dispensed", .number(quantity.text))])
            }
        }
        return json
    }
}

/// A request body's fields, checked against the names it may have.
struct RequestBody {
    let values: [String: JSONValue]
    let path: String

    init(_ body: JSONValue, allowed: Set<String>, path: String = "") throws(RxProblem) {
        guard case .object(let members) = body else {
            throw RxProblem(path.isEmpty ? .invalidJSON : .invalidField, "\(path.isEmpty ? "the body" : String(path.dropLast())) must be a JSON object")
        }
        for (name, _) in members where !allowed.contains(name) {
            throw RxProblem(.invalidField, "unknown field \(path)\(name)", extras: [("field", .string(path + name))])
        }
        self.values = body.objectFields.filter { !$0.value.isNull }
        self.path = path
    }

    func text(_ name: String) throws(RxProblem) -> String {
        guard let value = try optionalText(name) else {
            throw RxProblem(.missingField, "\(path)\(name) is required", extras: [("field", .string(path + name))])
        }
        return value
    }

    func optionalText(_ name: String) throws(RxProblem) -> String? {
        guard let value = values[name] else { return nil }
        guard let text = value.stringValue else {
            throw RxProblem(.invalidField, "\(path)\(name) must be a string", extras: [("field", .string(path + name))])
        }
        let trimmed = RxText.trimmed(text)
        return trimmed.isEmpty ? nil : trimmed
    }

    /// An RFC 3339 time, written back in MedBus's form (UTC, milliseconds).
    func time(_ name: String, default now: Date) throws(RxProblem) -> String {
        guard let text = try optionalText(name) else { return RxText.timestamp(now) }
        guard let date = MessageEnvelope.parseTimestamp(text) else {
            throw RxProblem(.invalidField, "\(path)\(name) must be an RFC 3339 date-time", extras: [("field", .string(path + name))])
        }
        return RxText.timestamp(date)
    }

    /// An amount in yuan: decimal text or a JSON number, at most two fraction digits, not negative.
    func money(_ name: String, required: Bool) throws(RxProblem) -> Money? {
        guard let value = values[name] else {
            if required { throw RxProblem(.missingField, "\(path)\(name) is required", extras: [("field", .string(path + name))]) }
            return nil
        }
        guard let text = value.stringValue, let amount = Money(yuan: text), amount >= .zero else {
            throw RxProblem(.invalidAmount, "\(path)\(name) must be an amount in yuan with at most two decimals, not negative",
                            extras: [("field", .string(path + name))])
        }
        return amount
    }
}
