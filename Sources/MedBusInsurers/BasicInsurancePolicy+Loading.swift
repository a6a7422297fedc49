import Foundation
import MedBusCore

extension BasicInsurancePolicy {
    /// - Throws: `InsurerConfigError` pointing at `file:line:column` of the first problem.
    public static func load(path: String) throws -> BasicInsurancePolicy {
        try parse(YAMLFields.load(path: path))
    }

    public static func parse(yaml: String, file: String = "<inline>") throws -> BasicInsurancePolicy {
        try parse(YAMLFields.parse(yaml, file: file))
    }

    static func parse(_ root: YAMLFields) throws -> BasicInsurancePolicy {
        try root.checkKeys(["name", "hospitals", "defaultHospitalLevel", "listCategories", "insutypes", "assistance"])
        var levels: [String: Int] = [:]
        if let hospitals = root.child("hospitals") {
            for (code, level) in try hospitals.entries() { levels[code] = try hospitalLevel(level) }
        }
        var insutypes: [String: InsutypeRules] = [:]
        for (code, rules) in try root.required("insutypes").entries() { insutypes[code] = try insutypeRules(rules) }
        guard !insutypes.isEmpty else { throw root.failure("'insutypes' needs at least one insurance type") }
        return BasicInsurancePolicy(
            name: try root.required("name").string(),
            hospitalLevels: levels,
            defaultHospitalLevel: try root.child("defaultHospitalLevel").map(hospitalLevel) ?? 2,
            listCategories: try listCategories(root.required("listCategories")),
            insutypes: insutypes,
            assistance: try root.child("assistance").map(assistanceRules)
        )
    }

    private static func hospitalLevel(_ field: YAMLFields) throws -> Int {
        let level = try field.int()
        guard (1...3).contains(level) else { throw field.failure("hospital level must be 1, 2 or 3") }
        return level
    }

    private static func category(_ field: YAMLFields) throws -> ListCategory {
        guard let category = field.scalarText.flatMap(ListCategory.init(rawValue:)) else { throw field.failure("category must be A, B or C") }
        return category
    }

    private static func listCategories(_ field: YAMLFields) throws -> ListCategoryTable {
        try field.checkKeys(["default", "preSelfPayRatio", "prefixes", "codes"])
        var prefixes: [(prefix: String, category: ListCategory)] = []
        for (prefix, value) in try field.child("prefixes")?.entries() ?? [] { prefixes.append((prefix, try category(value))) }
        var codes: [String: ListCategory] = [:]
        for (code, value) in try field.child("codes")?.entries() ?? [] { codes[code] = try category(value) }
        return ListCategoryTable(
            codes: codes, prefixes: prefixes,
            defaultCategory: try field.child("default").map(category) ?? .c,
            preSelfPayRatio: try field.required("preSelfPayRatio").ratio()
        )
    }

    /// Per-level tables: every level 1…3 must be present, so no hospital falls through a gap.
    private static func byLevel<T>(_ field: YAMLFields, _ read: (YAMLFields) throws -> T) throws -> [Int: T] {
        var table: [Int: T] = [:]
        for (key, value) in try field.entries() {
            guard let level = Int(key), (1...3).contains(level) else { throw field.failure("keys must be hospital levels 1, 2, 3") }
            table[level] = try read(value)
        }
        guard Set(table.keys) == [1, 2, 3] else { throw field.failure("needs levels 1, 2 and 3") }
        return table
    }

    private static func insutypeRules(_ field: YAMLFields) throws -> InsutypeRules {
        try field.checkKeys(["name", "poolingFund", "deductible", "poolingRatio", "annualPoolingCap", "seriousIllness", "inpatient"])
        return InsutypeRules(
            name: try field.required("name").string(),
            poolingFund: try field.required("poolingFund").string(),
            deductible: try byLevel(field.required("deductible")) { try $0.money() },
            poolingRatio: try byLevel(field.required("poolingRatio")) { try $0.ratio() },
            annualPoolingCap: try field.required("annualPoolingCap").money(),
            seriousIllness: try field.child("seriousIllness").map(seriousIllnessRules),
            inpatient: try field.child("inpatient").map(inpatientRules)
        )
    }

    private static func inpatientRules(_ field: YAMLFields) throws -> InpatientRules {
        try field.checkKeys(["deductiblePerAdmission", "poolingRatio"])
        return InpatientRules(
            deductiblePerAdmission: try byLevel(field.required("deductiblePerAdmission")) { try $0.money() },
            poolingRatio: try byLevel(field.required("poolingRatio")) { try $0.ratio() }
        )
    }

    private static func seriousIllnessRules(_ field: YAMLFields) throws -> SeriousIllnessRules {
        try field.checkKeys(["fund", "payField", "threshold", "segments", "annualCap"])
        let payField = try field.required("payField").string()
        guard ["hifmi_pay", "hifob_pay"].contains(payField) else { throw field.failure("payField must be hifmi_pay or hifob_pay") }
        let threshold = try field.required("threshold").money()
        var segments: [(upTo: Money?, ratio: Ratio)] = []
        var lower = threshold
        let items = try field.required("segments").items()
        for (index, item) in items.enumerated() {
            try item.checkKeys(["upTo", "ratio"])
            let upTo = try item.child("upTo")?.money()
            if let upTo, upTo <= lower { throw item.failure("upTo must be above the previous bound (\(lower.yuanText))") }
            if upTo == nil, index != items.count - 1 { throw item.failure("only the last segment may omit upTo") }
            segments.append((upTo, try item.required("ratio").ratio()))
            if let upTo { lower = upTo }
        }
        guard !segments.isEmpty else { throw field.failure("needs at least one segment") }
        return SeriousIllnessRules(fund: try field.required("fund").string(), payField: payField, threshold: threshold, segments: segments, annualCap: try field.required("annualCap").money())
    }

    private static func assistanceRules(_ field: YAMLFields) throws -> AssistanceRules {
        try field.checkKeys(["fund", "ratio", "annualCap", "eligiblePersons"])
        let eligible = try field.child("eligiblePersons")?.items().map { try $0.string() } ?? []
        return AssistanceRules(
            fund: try field.required("fund").string(), ratio: try field.required("ratio").ratio(),
            annualCap: try field.required("annualCap").money(), eligiblePersons: Set(eligible)
        )
    }
}
