import MedBusCore

/// The test's own reading of `SettlementSystemFixture.policyYAML` and `.commercialYAML`: what
/// each fund must pay for a person's first visit of the year, in integer fen with half-up
/// rounding. Written from the policy text, without the simulator's policy engine.
struct ExpectedShares: Equatable {
    var hifp: Int64
    var serious: Int64
    var maf: Int64
    var commercial: Int64
    var poolingFund: String
    var seriousFund: String

    /// `amount × percent / 100`, half up (amounts are never negative here).
    static func share(_ fen: Int64, percent: Int64) -> Int64 { (fen * percent + 50) / 100 }

    /// - Parameters: lines as (med_list_codg, fen); `inpatient` for a first settlement of an
    /// admission (2304: the policy's inpatient deductible per admission and ratio); `hasPolicy`
    /// when the patient holds a commercial policy.
    init(lines: [(code: String, fen: Int64)], hospitalLevel: Int, employee: Bool, assistance: Bool, inpatient: Bool = false, hasPolicy: Bool) {
        // Categories: XA… A (all in scope), XB… B (15 % pre-self-pay), anything else C (own pay).
        var inscp: Int64 = 0
        for line in lines {
            if line.code.hasPrefix("XA") { inscp += line.fen }
            else if line.code.hasPrefix("XB") { inscp += line.fen - Self.share(line.fen, percent: 15) }
        }
        let total = lines.map(\.fen).reduce(0, +)
        let deductible: Int64
        let ratio: Int64
        switch (employee, inpatient) {
        case (true, false): (deductible, ratio) = ([1: 10_000, 2: 30_000, 3: 70_000][hospitalLevel]!, [1: 90, 2: 85, 3: 80][hospitalLevel]!)
        case (false, false): (deductible, ratio) = ([1: 15_000, 2: 40_000, 3: 90_000][hospitalLevel]!, [1: 80, 2: 70, 3: 55][hospitalLevel]!)
        case (true, true): (deductible, ratio) = ([1: 20_000, 2: 50_000, 3: 90_000][hospitalLevel]!, [1: 95, 2: 90, 3: 85][hospitalLevel]!)
        case (false, true): (deductible, ratio) = ([1: 10_000, 2: 30_000, 3: 60_000][hospitalLevel]!, [1: 90, 2: 80, 3: 65][hospitalLevel]!)
        }
        let poolingCap: Int64 = employee ? 25_000_000 : 15_000_000
        hifp = min(Self.share(inscp - min(inscp, deductible), percent: ratio), poolingCap)
        let afterBasic = inscp - hifp
        // Serious illness on the after-basic self-pay above the threshold, by segment.
        if employee {
            serious = Self.share(max(0, afterBasic - 1_200_000), percent: 75)
            poolingFund = "310100"
            seriousFund = "330100"
        } else {
            let first = max(0, min(afterBasic, 5_000_000) - 1_000_000)
            let second = max(0, afterBasic - 5_000_000)
            serious = Self.share(first, percent: 60) + Self.share(second, percent: 70)
            poolingFund = "390100"
            seriousFund = "390200"
        }
        serious = min(serious, employee ? 30_000_000 : 35_000_000)
        maf = assistance ? min(Self.share(afterBasic - serious, percent: 65), 2_000_000) : 0
        let funds = hifp + serious + maf
        let owed = total - funds
        // Commercial: in-scope self-pay after basic insurance, above a 500-yuan deductible, × 70 %.
        if hasPolicy {
            let base = max(0, inscp - funds)
            commercial = min(Self.share(base - min(base, 50_000), percent: 70), 10_000_000, owed)
        } else {
            commercial = 0
        }
    }
}
