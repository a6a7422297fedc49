import Foundation
import MedBusCore

/// `reconcile(date:insurer:)`: MedBus's ledger of one day against the national platform's, in
/// the style of 3201 (对总账): for each hospital and insurance type MedBus settled that day, its
/// totals go to the platform in a 3201 request; the platform answers whether its own totals agree
/// (`stmt_rslt` 0) and, where it says (the reference simulator does), what they are.
public struct ReconciliationReport: Sendable {
    /// Settlements counted in a total: standing basic settlements (not cancelled or reversed).
    public struct Totals: Sendable, Equatable {
        public var count: Int
        public var medfeeSumamt: Money
        public var fundPaySumamt: Money
        public var acctPay: Money

        public init(count: Int = 0, medfeeSumamt: Money = .zero, fundPaySumamt: Money = .zero, acctPay: Money = .zero) {
            self.count = count
            self.medfeeSumamt = medfeeSumamt
            self.fundPaySumamt = fundPaySumamt
            self.acctPay = acctPay
        }

        var json: JSONValue {
            .object(["fixmedins_setl_cnt": .int(count), "medfee_sumamt": .money(medfeeSumamt),
                     "fund_pay_sumamt": .money(fundPaySumamt), "acct_pay": .money(acctPay)])
        }

        init?(_ json: JSONValue?) {
            guard let json, let count = json["fixmedins_setl_cnt"]?.intValue, let medfee = json["medfee_sumamt"]?.moneyValue,
                  let funds = json["fund_pay_sumamt"]?.moneyValue else { return nil }
            self.init(count: count, medfeeSumamt: medfee, fundPaySumamt: funds, acctPay: json["acct_pay"]?.moneyValue ?? .zero)
        }
    }

    public struct Group: Sendable {
        public var fixmedinsCode: String
        public var insutype: String
        public var medbus: Totals
        /// The platform's totals, when its answer states them.
        public var insurer: Totals?
        /// `stmt_rslt`: true when the platform says the totals agree.
        public var agreed: Bool
        /// The platform's `stmt_rslt_dscr` or error.
        public var insurerDescription: String?
        /// One line per field that differs (`fixmedins_setl_cnt: medbus 10, insurer 11`).
        public var differences: [String]
        /// MedBus settlement ids counted in `medbus`.
        public var settlementIds: [String]
    }

    public var date: String
    public var insurer: String
    public var groups: [Group]
    public var agreed: Bool { groups.allSatisfy(\.agreed) }

    public var jsonValue: JSONValue {
        .object([
            "date": .string(date), "insurer": .string(insurer), "agreed": .bool(agreed),
            "groups": .array(groups.map { group in
                var fields: [String: JSONValue] = [
                    "fixmedins_code": .string(group.fixmedinsCode), "insutype": .string(group.insutype),
                    "medbus": group.medbus.json, "agreed": .bool(group.agreed),
                    "differences": .array(group.differences.map(JSONValue.string)),
                    "settlementIds": .array(group.settlementIds.map(JSONValue.string)),
                ]
                fields["insurer"] = group.insurer?.json
                fields["stmt_rslt_dscr"] = group.insurerDescription.map(JSONValue.string)
                return .object(fields)
            }),
        ])
    }
}

extension SettlementOrchestrator {
    /// Reconciles `date` (`yyyy-MM-dd`, the platform's `setl_time` day) with `insurer` — only
    /// the national platform (`nhsa`) answers 3201. `extraGroups` asks about hospital/insurance
    /// type pairs MedBus may have no settlement for (the platform may).
    /// - Throws: `SettlementError.invalidRequest` for a bad date or an insurer without 3201,
    ///   `.insurer` when the platform does not answer within `timeout`.
    public func reconcile(date: String, insurer: String = "nhsa", extraGroups: [(fixmedinsCode: String, insutype: String)] = [],
                          timeout: Duration = .seconds(15)) async throws -> ReconciliationReport {
        guard insurer == "nhsa" else {
            throw SettlementError.invalidRequest("reconciliation (3201) is answered by the national platform only (insurer nhsa), not \(insurer)")
        }
        guard let day = Self.startOfDay(date) else { throw SettlementError.invalidRequest("date must be yyyy-MM-dd") }
        // Settled that day by the platform's clock; created at most a day before (long sagas).
        let candidates = try await store.records(state: .completed, createdFrom: day - 86_400 * 2, to: day + 86_400 * 2)
        var ledger: [String: (totals: ReconciliationReport.Totals, ids: [String], area: String)] = [:]
        for saga in candidates {
            guard let setlinfo = saga.settlement?["setlinfo"], setlinfo["setl_time"]?.stringValue?.hasPrefix(date) == true else { continue }
            let insutype = setlinfo["insutype"]?.stringValue ?? saga.person?.insutype ?? saga.request.insutype ?? ""
            let key = saga.request.fixmedinsCode + "/" + insutype
            var entry = ledger[key] ?? (.init(), [], setlinfo["clr_optins"]?.stringValue ?? "")
            entry.totals.count += 1
            entry.totals.medfeeSumamt += setlinfo["medfee_sumamt"]?.moneyValue ?? .zero
            entry.totals.fundPaySumamt += setlinfo["fund_pay_sumamt"]?.moneyValue ?? .zero
            entry.totals.acctPay += setlinfo["acct_pay"]?.moneyValue ?? .zero
            entry.ids.append(saga.id)
            ledger[key] = entry
        }
        for extra in extraGroups where ledger[extra.fixmedinsCode + "/" + extra.insutype] == nil {
            ledger[extra.fixmedinsCode + "/" + extra.insutype] = (.init(), [], "")
        }
        var groups: [ReconciliationReport.Group] = []
        for key in ledger.keys.sorted() {
            let parts = key.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            let entry = ledger[key]!
            let input = JSONValue.object(["data": .object([
                "insutype": .string(parts[1]), "clr_type": .string(""), "setl_optins": .string(entry.area),
                "stmt_begndate": .string(date), "stmt_enddate": .string(date),
                "medfee_sumamt": .money(entry.totals.medfeeSumamt), "fund_pay_sumamt": .money(entry.totals.fundPaySumamt),
                "acct_pay": .money(entry.totals.acctPay), "fixmedins_setl_cnt": .int(entry.totals.count),
            ])])
            let reply = try await query(infno: "3201", fixmedinsCode: parts[0], input: input, timeout: timeout)
            let info = reply.output["stmtinfo"] ?? reply.output
            let theirs = ReconciliationReport.Totals(info)
            var differences: [String] = []
            if let theirs {
                let pairs: [(String, String, String)] = [
                    ("fixmedins_setl_cnt", "\(entry.totals.count)", "\(theirs.count)"),
                    ("medfee_sumamt", entry.totals.medfeeSumamt.yuanText, theirs.medfeeSumamt.yuanText),
                    ("fund_pay_sumamt", entry.totals.fundPaySumamt.yuanText, theirs.fundPaySumamt.yuanText),
                    ("acct_pay", entry.totals.acctPay.yuanText, theirs.acctPay.yuanText),
                ]
                differences = pairs.filter { $0.1 != $0.2 }.map { "\($0.0): medbus \($0.1), insurer \($0.2)" }
            }
            let agreed = reply.infcode == 0 && info["stmt_rslt"]?.stringValue == "0"
            if !agreed && differences.isEmpty {
                differences.append(reply.infcode == 0 ? "the platform reports a difference" : "3201 refused: \(reply.errMsg ?? "infcode \(reply.infcode)")")
            }
            groups.append(.init(fixmedinsCode: parts[0], insutype: parts[1], medbus: entry.totals, insurer: theirs, agreed: agreed,
                                insurerDescription: info["stmt_rslt_dscr"]?.stringValue ?? reply.errMsg, differences: differences,
                                settlementIds: entry.ids))
        }
        return ReconciliationReport(date: date, insurer: insurer, groups: groups)
    }

    /// Midnight of `yyyy-MM-dd` in China time.
    static func startOfDay(_ text: String) -> Date? {
        let parts = text.split(separator: "-").compactMap { Int($0) }
        guard text.count == 10, parts.count == 3 else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let components = DateComponents(year: parts[0], month: parts[1], day: parts[2])
        guard components.isValidDate(in: calendar) else { return nil }
        return calendar.date(from: components)
    }
}
