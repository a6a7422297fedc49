import Foundation
import MedBusCore

/// The commercial insurer's book: claims paid, per-person annual totals, and the replies already
/// given by msgid (a repeated msgid gets the same reply and changes nothing).
public struct CommercialClaimBook: Sendable {
    public struct Claim: Sendable {
        public var claimId: String
        public var msgid: String
        /// Every msgid that claimed it (more than one: MedBus claimed the same visit twice).
        public var claimMsgids: [String]
        public var psnNo: String
        public var approved: Money
        public var deductibleUsed: Money
        public var reversed: Bool
    }

    public let policy: CommercialPolicy
    public private(set) var claims: [String: Claim] = [:]
    private var replies: [String: JSONValue] = [:]
    private var deductibleUsed: [String: Money] = [:]
    private var paid: [String: Money] = [:]

    public init(policy: CommercialPolicy) { self.policy = policy }

    public func paidThisYear(psnNo: String) -> Money { paid[psnNo] ?? .zero }

    /// The reply to one request (`insurer-claim-request`), stored by its msgid.
    public mutating func reply(to request: JSONValue) -> JSONValue {
        let msgid = request["msgid"]?.stringValue ?? ""
        if let stored = replies[msgid] { return stored }
        let reply = process(request)
        if !msgid.isEmpty { replies[msgid] = reply }
        return reply
    }

    /// A decline built without touching the book (injected fault): not stored.
    public static func declined(_ request: JSONValue, reason: String) -> JSONValue {
        reply(request, status: "declined", amount: .zero, reason: reason)
    }

    static func reply(_ request: JSONValue, status: String, amount: Money, reason: String?) -> JSONValue {
        .object([
            ("msgid", .string(request["msgid"]?.stringValue ?? "")),
            ("claimId", .string(request["claimId"]?.stringValue ?? "")),
            ("status", .string(status)),
            ("approvedAmount", .money(amount)),
            ("reason", reason.map(JSONValue.string) ?? .null),
        ])
    }

    private mutating func process(_ request: JSONValue) -> JSONValue {
        guard let claimId = request["claimId"]?.stringValue, !claimId.isEmpty, request["msgid"]?.stringValue?.isEmpty == false else {
            return Self.declined(request, reason: "msgid and claimId are required")
        }
        if request["type"]?.stringValue == "reversal" { return reverse(request, claimId: claimId) }
        guard request["type"]?.stringValue == "claim" else { return Self.declined(request, reason: "type must be claim or reversal") }
        if let existing = claims[claimId], !existing.reversed {
            // Same claim under a new msgid: answer what was approved, never pay twice.
            claims[claimId]?.claimMsgids.append(request["msgid"]!.stringValue!)
            return Self.reply(request, status: "approved", amount: existing.approved, reason: "claim already approved")
        }
        guard let policyNo = request["policyNo"]?.stringValue, !policyNo.isEmpty, policy.policies.isEmpty || policy.policies.contains(policyNo) else {
            return Self.declined(request, reason: "no valid \(policy.name) policy")
        }
        guard let psnNo = request["psn_no"]?.stringValue, !psnNo.isEmpty, let summary = request["summary"],
              let inscp = summary["inscp_scp_amt"]?.moneyValue, let funds = summary["fund_pay_sumamt"]?.moneyValue, let owed = summary["psn_part_amt"]?.moneyValue else {
            return Self.declined(request, reason: "psn_no and summary.inscp_scp_amt, fund_pay_sumamt, psn_part_amt are required")
        }
        let (approved, toDeductible) = assess(inscp: inscp, funds: funds, owed: owed, lines: request["feedetail"]?.arrayValue ?? [], psnNo: psnNo)
        claims[claimId] = Claim(claimId: claimId, msgid: request["msgid"]!.stringValue!, claimMsgids: [request["msgid"]!.stringValue!], psnNo: psnNo, approved: approved, deductibleUsed: toDeductible, reversed: false)
        deductibleUsed[psnNo, default: .zero] += toDeductible
        paid[psnNo, default: .zero] += approved
        return Self.reply(request, status: "approved", amount: approved, reason: approved == .zero ? "below the annual deductible or cap reached" : nil)
    }

    /// (approved amount, part of the base that went to the deductible).
    func assess(inscp: Money, funds: Money, owed: Money, lines: [JSONValue], psnNo: String) -> (Money, Money) {
        let excluded = lines.filter { line in
            guard let code = line["med_list_codg"]?.stringValue else { return false }
            return policy.exclusions.contains { code.hasPrefix($0) }
        }.compactMap { $0["inscp_scp_amt"]?.moneyValue ?? $0["det_item_fee_sumamt"]?.moneyValue }.sum()
        let base = (inscp - funds - excluded).clampedAtZero
        let toDeductible = min(base, (policy.annualDeductible - (deductibleUsed[psnNo] ?? .zero)).clampedAtZero)
        let capLeft = (policy.annualCap - (paid[psnNo] ?? .zero)).clampedAtZero
        let approved = min(policy.ratio.share(of: base - toDeductible), capLeft, owed.clampedAtZero)
        return (approved, toDeductible)
    }

    /// The book as `simulate commercial --ledger` writes it: amounts and ids, no names.
    public var ledgerJSON: JSONValue {
        .object([("claims", .array(claims.values.sorted { $0.claimId < $1.claimId }.map { claim in
            .object([
                ("claimId", .string(claim.claimId)), ("msgid", .string(claim.msgid)), ("claimMsgids", .array(claim.claimMsgids.map(JSONValue.string))),
                ("psn_no", .string(claim.psnNo)), ("approvedAmount", .money(claim.approved)), ("reversed", .bool(claim.reversed)),
            ])
        }))])
    }

    private mutating func reverse(_ request: JSONValue, claimId: String) -> JSONValue {
        guard var claim = claims[claimId], !claim.reversed else {
            return Self.reply(request, status: "reversed", amount: .zero, reason: "nothing to reverse")
        }
        claim.reversed = true
        claims[claimId] = claim
        deductibleUsed[claim.psnNo, default: .zero] -= claim.deductibleUsed
        paid[claim.psnNo, default: .zero] -= claim.approved
        // The claim's own msgid is answered afresh if it is ever retried.
        replies[claim.msgid] = nil
        return Self.reply(request, status: "reversed", amount: claim.approved, reason: nil)
    }
}
