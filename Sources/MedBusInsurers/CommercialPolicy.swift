import Foundation
import MedBusCore

/// A city-level inclusive commercial product (惠民保), as `medbus simulate commercial` applies it
/// (file format: `Adapters/insurers/README.md`). It pays a ratio of the in-scope self-pay left
/// after basic insurance (`inscp_scp_amt − fund_pay_sumamt`), less excluded items, above an
/// annual deductible, up to an annual cap — and never more than the patient still owes.
public struct CommercialPolicy: Sendable {
    public var name: String
    public var annualDeductible: Money
    public var ratio: Ratio
    public var annualCap: Money
    /// `med_list_codg` prefixes the product does not cover.
    public var exclusions: [String]
    /// Valid policy numbers; empty means any non-empty `policyNo` is valid.
    public var policies: Set<String>

    public init(name: String, annualDeductible: Money, ratio: Ratio, annualCap: Money, exclusions: [String] = [], policies: Set<String> = []) {
        self.name = name
        self.annualDeductible = annualDeductible
        self.ratio = ratio
        self.annualCap = annualCap
        self.exclusions = exclusions
        self.policies = policies
    }

    /// - Throws: `InsurerConfigError` at `file:line:column`.
    public static func load(path: String) throws -> CommercialPolicy { try parse(YAMLFields.load(path: path)) }

    public static func parse(yaml: String, file: String = "<inline>") throws -> CommercialPolicy { try parse(YAMLFields.parse(yaml, file: file)) }

    static func parse(_ root: YAMLFields) throws -> CommercialPolicy {
        try root.checkKeys(["name", "annualDeductible", "ratio", "annualCap", "exclusions", "policies"])
        return CommercialPolicy(
            name: try root.required("name").string(), annualDeductible: try root.required("annualDeductible").money(),
            ratio: try root.required("ratio").ratio(), annualCap: try root.required("annualCap").money(),
            exclusions: try root.child("exclusions")?.items().map { try $0.string() } ?? [],
            policies: Set(try root.child("policies")?.items().map { try $0.string() } ?? [])
        )
    }
}
