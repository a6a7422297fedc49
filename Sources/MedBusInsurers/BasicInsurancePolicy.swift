import Foundation
import MedBusCore

/// The rules the NHSA simulator settles with, loaded from a policy file such as
/// `Adapters/insurers/policy-shandong-demo.yaml` (its format is documented in
/// `Adapters/insurers/README.md`). Every amount is exact (`Money`), every ratio exact (`Ratio`).
public struct BasicInsurancePolicy: Sendable {
    public var name: String
    /// fixmedins_code → hospital level (1, 2 or 3); others get `defaultHospitalLevel`.
    public var hospitalLevels: [String: Int]
    public var defaultHospitalLevel: Int
    public var listCategories: ListCategoryTable
    /// Keyed by insutype, e.g. "310" (employee basic) and "390" (urban-rural resident basic).
    public var insutypes: [String: InsutypeRules]
    public var assistance: AssistanceRules?

    public func hospitalLevel(of fixmedinsCode: String) -> Int {
        hospitalLevels[fixmedinsCode] ?? defaultHospitalLevel
    }
}

/// List category of a catalogue item (甲/乙/丙类).
public enum ListCategory: String, Sendable {
    /// 甲类: fully in scope.
    case a = "A"
    /// 乙类: a pre-self-pay share first, the rest in scope.
    case b = "B"
    /// 丙类 / outside the catalogue: fully self-paid.
    case c = "C"

    /// 2204's `chrgitm_lv`: 01 甲, 02 乙, 03 丙.
    public var chargeItemLevel: String {
        switch self {
        case .a: "01"
        case .b: "02"
        case .c: "03"
        }
    }
}

/// Which category a `med_list_codg` falls in: an exact code table first, then the longest
/// matching prefix, then the default (C: unknown items are the patient's).
public struct ListCategoryTable: Sendable {
    public var codes: [String: ListCategory]
    /// Longest prefix first.
    public var prefixes: [(prefix: String, category: ListCategory)]
    public var defaultCategory: ListCategory
    /// B items: the share the patient pays before the item counts as in scope (先行自付).
    public var preSelfPayRatio: Ratio

    public init(codes: [String: ListCategory], prefixes: [(prefix: String, category: ListCategory)], defaultCategory: ListCategory, preSelfPayRatio: Ratio) {
        self.codes = codes
        self.prefixes = prefixes.sorted { $0.prefix.count > $1.prefix.count }
        self.defaultCategory = defaultCategory
        self.preSelfPayRatio = preSelfPayRatio
    }

    public func category(of code: String) -> ListCategory {
        if let exact = codes[code] { return exact }
        return prefixes.first { code.hasPrefix($0.prefix) }?.category ?? defaultCategory
    }
}

/// One insurance type's basic-insurance and serious-illness rules.
public struct InsutypeRules: Sendable {
    public var name: String
    /// fund_pay_type of the basic pooling fund: 310100 employee, 390100 resident.
    public var poolingFund: String
    /// Annual deductible (起付线) by hospital level.
    public var deductible: [Int: Money]
    /// Pooling-fund ratio by hospital level.
    public var poolingRatio: [Int: Ratio]
    /// The pooling fund pays at most this much per person per year.
    public var annualPoolingCap: Money
    public var seriousIllness: SeriousIllnessRules?
    /// Where inpatient settlement (2304) differs; nil: inpatients settle by the rules above.
    public var inpatient: InpatientRules?
}

/// Inpatient rules of one insurance type. Shandong cities charge the deductible per admission
/// (not per year) by hospital level, and pool inpatient costs at their own ratios; the annual
/// pooling cap, serious illness and assistance are shared with outpatient settlements.
public struct InpatientRules: Sendable {
    /// 住院起付线: charged again on each admission (mdtrt_id), not counted in the annual deductible.
    public var deductiblePerAdmission: [Int: Money]
    public var poolingRatio: [Int: Ratio]
}

/// Which transactions a visit settles with: outpatient 2204/2206/2207, inpatient 2301/2303/2304.
public enum VisitKind: String, Sendable {
    case outpatient, inpatient

    /// med_type 2x (inpatient: general, injury, referred out, emergency to inpatient) and 52
    /// (maternity inpatient) are admissions (DOMAIN.md §1).
    public init(medType: String) {
        self = medType.hasPrefix("2") || medType == "52" ? .inpatient : .outpatient
    }
}

/// Serious-illness insurance (residents: 大病保险, `hifmi_pay`; employees: large-amount subsidy,
/// `hifob_pay`): pays a ratio, by segment, of the person's annual in-scope self-pay after basic
/// pooling above `threshold`.
public struct SeriousIllnessRules: Sendable {
    /// fund_pay_type, e.g. 390200 (resident serious illness) or 330100 (large-amount subsidy).
    public var fund: String
    /// Which setlinfo field carries it: `hifmi_pay` or `hifob_pay`.
    public var payField: String
    public var threshold: Money
    /// Consecutive segments from `threshold`; the last has no upper bound.
    public var segments: [(upTo: Money?, ratio: Ratio)]
    public var annualCap: Money
}

/// Medical assistance (医疗救助, `maf_pay`) for eligible persons: a ratio of the in-scope self-pay
/// left after basic and serious-illness insurance, up to an annual cap.
public struct AssistanceRules: Sendable {
    public var fund: String
    public var ratio: Ratio
    public var annualCap: Money
    /// psn_no of eligible persons, besides those the persons file marks `assistance: true`.
    public var eligiblePersons: Set<String>
}
