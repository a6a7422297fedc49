import Foundation
import MedBusCore

/// One uploaded fee line (2204 `feedetail[]`), the part the policy needs.
public struct FeeLine: Sendable, Equatable {
    public var feedetlSn: String
    public var medListCode: String
    /// `det_item_fee_sumamt`: the line's amount, already cnt × pric on the HIS side.
    public var amount: Money

    public init(feedetlSn: String, medListCode: String, amount: Money) {
        self.feedetlSn = feedetlSn
        self.medListCode = medListCode
        self.amount = amount
    }
}

/// How one line splits (2204's per-line result): `amount = fulamtOwnpay + preselfpay + inscp`.
public struct LineResult: Sendable, Equatable {
    public var feedetlSn: String
    public var amount: Money
    public var category: ListCategory
    /// 0 for A, the pre-self-pay ratio for B, 1 for C.
    public var selfpayProp: Ratio
    public var fulamtOwnpay: Money
    public var preselfpay: Money
    public var inscp: Money
}

/// A person's running annual totals, which the deductible, caps and serious-illness segments
/// depend on. Settlements add to them; cancellations and reversals subtract the same delta.
public struct Accumulators: Sendable, Equatable {
    public var deductibleUsed = Money.zero
    public var poolingPaid = Money.zero
    /// In-scope self-pay after basic pooling, counted toward the serious-illness threshold.
    public var seriousBase = Money.zero
    public var seriousPaid = Money.zero
    public var assistancePaid = Money.zero

    public init() {}

    public static func + (a: Accumulators, b: Accumulators) -> Accumulators {
        var sum = a
        sum.deductibleUsed += b.deductibleUsed
        sum.poolingPaid += b.poolingPaid
        sum.seriousBase += b.seriousBase
        sum.seriousPaid += b.seriousPaid
        sum.assistancePaid += b.assistancePaid
        return sum
    }

    public static prefix func - (a: Accumulators) -> Accumulators {
        var negated = Accumulators()
        negated.deductibleUsed = -a.deductibleUsed
        negated.poolingPaid = -a.poolingPaid
        negated.seriousBase = -a.seriousBase
        negated.seriousPaid = -a.seriousPaid
        negated.assistancePaid = -a.assistancePaid
        return negated
    }
}

/// One fund's share, as in 2207's `setldetail[]`.
public struct FundShare: Sendable, Equatable {
    public var fundPayType: String
    public var amount: Money
}

/// The result of applying the policy to one visit's fee lines (2206 / 2207 `setlinfo`).
///
/// Invariants (checked in the tests): `medfeeSumamt = fulamtOwnpay + preselfpay + inscp`
/// (`overlmtSelfpay` is 0: no price caps in the demo policy) and
/// `medfeeSumamt = fundPaySumamt + psnPartAmt` with `fundPaySumamt = hifp + serious + maf`.
public struct SettlementComputation: Sendable, Equatable {
    public var lines: [LineResult]
    public var hospitalLevel: Int
    public var medfeeSumamt: Money
    public var fulamtOwnpay: Money
    public var overlmtSelfpay: Money
    public var preselfpay: Money
    public var inscp: Money
    /// `act_pay_dedc`: the part of in-scope cost that went to the deductible this time.
    public var deductiblePaid: Money
    /// The part of `deductiblePaid` charged to the admission's own deductible (inpatient rules),
    /// which the platform keeps per mdtrt_id instead of in the annual accumulators.
    public var admissionDeductiblePaid: Money
    public var hifpPay: Money
    /// `pool_prop_selfpay`: the patient's share of the poolable amount (incl. above the cap).
    public var poolPropSelfpay: Money
    public var seriousPay: Money
    /// `hifmi_pay` or `hifob_pay`, or nil when the insurance type has no serious-illness rules.
    public var seriousField: String?
    public var mafPay: Money
    public var fundPaySumamt: Money
    public var psnPartAmt: Money
    public var funds: [FundShare]
    /// What this settlement adds to the person's accumulators.
    public var delta: Accumulators
}

public struct PolicyError: Error, CustomStringConvertible {
    public var description: String
}

/// Applies a `BasicInsurancePolicy`. Pure: the same lines, person and accumulators always give the
/// same result, so 2206 (pre-settlement) and 2207 (settlement) agree, and a test can recompute
/// any settlement independently.
///
/// Rounding: B-category pre-self-pay is rounded half up to the fen per line; each fund's share is
/// rounded half up once per settlement (serious illness once per segment); the patient's share is
/// what remains, so the shares always add up exactly to the total.
public struct PolicyCalculator: Sendable {
    public let policy: BasicInsurancePolicy

    public init(policy: BasicInsurancePolicy) { self.policy = policy }

    /// 2204: splits each line by its list category.
    public func classify(_ lines: [FeeLine]) -> [LineResult] {
        lines.map { line in
            let category = policy.listCategories.category(of: line.medListCode)
            switch category {
            case .a:
                return LineResult(feedetlSn: line.feedetlSn, amount: line.amount, category: .a, selfpayProp: .zero, fulamtOwnpay: .zero, preselfpay: .zero, inscp: line.amount)
            case .b:
                let ratio = policy.listCategories.preSelfPayRatio
                let pre = ratio.share(of: line.amount)
                return LineResult(feedetlSn: line.feedetlSn, amount: line.amount, category: .b, selfpayProp: ratio, fulamtOwnpay: .zero, preselfpay: pre, inscp: line.amount - pre)
            case .c:
                return LineResult(feedetlSn: line.feedetlSn, amount: line.amount, category: .c, selfpayProp: .one, fulamtOwnpay: line.amount, preselfpay: .zero, inscp: .zero)
            }
        }
    }

    /// 2206 / 2207, 2303 / 2304: the whole settlement.
    /// - Parameters:
    ///   - visit: an inpatient settlement uses the insurance type's inpatient rules, if any.
    ///   - admissionDeductibleUsed: what earlier standing settlements of the same admission already
    ///     paid toward its per-admission deductible.
    /// - Throws: `PolicyError` when the insurance type is not in the policy.
    public func settle(lines: [FeeLine], insutype: String, fixmedinsCode: String, psnNo: String, assistanceEligible: Bool, accumulators: Accumulators,
                       visit: VisitKind = .outpatient, admissionDeductibleUsed: Money = .zero) throws -> SettlementComputation {
        guard let rules = policy.insutypes[insutype] else { throw PolicyError(description: "insutype \(insutype) is not covered by policy \(policy.name)") }
        let level = policy.hospitalLevel(of: fixmedinsCode)
        let results = classify(lines)
        let total = results.map(\.amount).sum()
        let fulamt = results.map(\.fulamtOwnpay).sum()
        let pre = results.map(\.preselfpay).sum()
        let inscp = results.map(\.inscp).sum()
        let inpatient = visit == .inpatient ? rules.inpatient : nil

        // Deductible first: the in-scope amount up to what is left of this year's deductible, or
        // of this admission's under inpatient rules.
        let deductibleLeft = inpatient.map { ($0.deductiblePerAdmission[level, default: .zero] - admissionDeductibleUsed).clampedAtZero }
            ?? (rules.deductible[level, default: .zero] - accumulators.deductibleUsed).clampedAtZero
        let deductible = min(inscp, deductibleLeft)
        let poolable = inscp - deductible
        // Pooling: the level's ratio, never past the annual cap.
        let poolingLeft = (rules.annualPoolingCap - accumulators.poolingPaid).clampedAtZero
        let ratio = (inpatient?.poolingRatio ?? rules.poolingRatio)[level, default: .zero]
        let hifp = min(ratio.share(of: poolable), poolingLeft)
        let afterBasic = inscp - hifp

        var delta = Accumulators()
        delta.deductibleUsed = inpatient == nil ? deductible : .zero
        delta.poolingPaid = hifp
        var funds = [FundShare(fundPayType: rules.poolingFund, amount: hifp)]

        // Serious illness: by segment, on the part of the annual after-basic self-pay above the threshold.
        var serious = Money.zero
        if let rules = rules.seriousIllness {
            serious = Self.seriousIllnessShare(rules, before: accumulators.seriousBase, adding: afterBasic)
            serious = min(serious, (rules.annualCap - accumulators.seriousPaid).clampedAtZero)
            delta.seriousBase = afterBasic
            delta.seriousPaid = serious
            funds.append(FundShare(fundPayType: rules.fund, amount: serious))
        }

        // Medical assistance: a ratio of what in-scope self-pay is left, for eligible persons.
        var maf = Money.zero
        if let assistance = policy.assistance, assistanceEligible || assistance.eligiblePersons.contains(psnNo) {
            maf = min(assistance.ratio.share(of: afterBasic - serious), (assistance.annualCap - accumulators.assistancePaid).clampedAtZero)
            delta.assistancePaid = maf
            funds.append(FundShare(fundPayType: assistance.fund, amount: maf))
        }

        let fundTotal = hifp + serious + maf
        return SettlementComputation(
            lines: results, hospitalLevel: level, medfeeSumamt: total, fulamtOwnpay: fulamt, overlmtSelfpay: .zero,
            preselfpay: pre, inscp: inscp, deductiblePaid: deductible, admissionDeductiblePaid: inpatient == nil ? .zero : deductible,
            hifpPay: hifp, poolPropSelfpay: poolable - hifp, seriousPay: serious, seriousField: rules.seriousIllness?.payField, mafPay: maf,
            fundPaySumamt: fundTotal, psnPartAmt: total - fundTotal, funds: funds, delta: delta
        )
    }

    /// Sum over segments of `ratio × (overlap of [before, before + adding) with the segment)`,
    /// each rounded half up to the fen. Ratios are at most 1, so the share never exceeds `adding`.
    static func seriousIllnessShare(_ rules: SeriousIllnessRules, before: Money, adding: Money) -> Money {
        let after = before + adding
        var lower = rules.threshold
        var share = Money.zero
        for segment in rules.segments {
            let upper = segment.upTo
            let from = max(before, lower)
            let to = upper.map { min(after, $0) } ?? after
            if from < to { share += segment.ratio.share(of: to - from) }
            guard let upper else { break }
            lower = upper
        }
        return share
    }
}
