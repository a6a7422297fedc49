import MedBusCore
@testable import MedBusInsurers
import XCTest

/// Hand-computed examples against a small policy with round numbers.
final class PolicyCalculatorTests: XCTestCase {
    static let policyYAML = """
    name: test-policy
    hospitals: { H1: 1, H3: 3 }
    defaultHospitalLevel: 2
    listCategories:
      default: C
      preSelfPayRatio: 0.10
      prefixes: { A: A, B: B }
      codes: { B-EXCLUDED: C }
    insutypes:
      "310":
        name: employee
        poolingFund: "310100"
        deductible: { 1: 200, 2: 500, 3: 800 }
        poolingRatio: { 1: 0.90, 2: 0.85, 3: 0.80 }
        annualPoolingCap: 10000
        seriousIllness: { fund: "330100", payField: hifob_pay, threshold: 2000, segments: [ { ratio: 0.80 } ], annualCap: 50000 }
      "390":
        name: resident
        poolingFund: "390100"
        deductible: { 1: 100, 2: 400, 3: 1000 }
        poolingRatio: { 1: 0.85, 2: 0.70, 3: 0.55 }
        annualPoolingCap: 8000
        seriousIllness:
          fund: "390200"
          payField: hifmi_pay
          threshold: 1500
          segments: [ { upTo: 3000, ratio: 0.60 }, { ratio: 0.70 } ]
          annualCap: 20000
    assistance: { fund: "610100", ratio: 0.50, annualCap: 300, eligiblePersons: [P-LISTED] }
    """

    var calculator: PolicyCalculator { PolicyCalculator(policy: try! BasicInsurancePolicy.parse(yaml: Self.policyYAML)) }

    func yuan(_ text: String) -> Money { Money(yuan: text)! }
    func line(_ code: String, _ amount: String, _ sn: String = UUID().uuidString) -> FeeLine { FeeLine(feedetlSn: sn, medListCode: code, amount: yuan(amount)) }

    func settle(_ lines: [FeeLine], _ insutype: String, at hospital: String, person: String = "P", assistance: Bool = false, acc: Accumulators = Accumulators()) throws -> SettlementComputation {
        let result = try calculator.settle(lines: lines, insutype: insutype, fixmedinsCode: hospital, psnNo: person, assistanceEligible: assistance, accumulators: acc)
        assertAddsUp(result)
        return result
    }

    func assertAddsUp(_ r: SettlementComputation, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(r.fulamtOwnpay + r.overlmtSelfpay + r.preselfpay + r.inscp, r.medfeeSumamt, "line split", file: file, line: line)
        XCTAssertEqual(r.hifpPay + r.seriousPay + r.mafPay, r.fundPaySumamt, "funds", file: file, line: line)
        XCTAssertEqual(r.fundPaySumamt + r.psnPartAmt, r.medfeeSumamt, "shares", file: file, line: line)
        XCTAssertEqual(r.funds.map(\.amount).sum(), r.fundPaySumamt, "setldetail", file: file, line: line)
        XCTAssertGreaterThanOrEqual(r.psnPartAmt, r.fulamtOwnpay + r.preselfpay, file: file, line: line)
    }

    func testEmployeeAtLevelThree() throws {
        // 1000 in scope: 800 deductible, 200 × 0.80 = 160 pooled; patient 840.
        let r = try settle([line("A1", "1000.00")], "310", at: "H3")
        XCTAssertEqual(r.hospitalLevel, 3)
        XCTAssertEqual(r.deductiblePaid, yuan("800"))
        XCTAssertEqual(r.hifpPay, yuan("160"))
        XCTAssertEqual(r.poolPropSelfpay, yuan("40"))
        XCTAssertEqual(r.psnPartAmt, yuan("840"))
        XCTAssertEqual(r.funds.map(\.fundPayType), ["310100", "330100"])
        XCTAssertEqual(r.seriousField, "hifob_pay")
    }

    func testResidentVersusEmployeeAndHospitalLevels() throws {
        let bill = [line("A1", "1000.00")]
        // Resident level 1: 100 deductible, 900 × 0.85 = 765.
        XCTAssertEqual(try settle(bill, "390", at: "H1").hifpPay, yuan("765"))
        // Resident level 2 (default for unknown hospitals): 400, 600 × 0.70 = 420.
        XCTAssertEqual(try settle(bill, "390", at: "UNKNOWN").hifpPay, yuan("420"))
        // Employee level 1: 200, 800 × 0.90 = 720.
        XCTAssertEqual(try settle(bill, "310", at: "H1").hifpPay, yuan("720"))
        XCTAssertThrowsError(try settle(bill, "999", at: "H1"))
    }

    func testDeductiblePartiallyUsed() throws {
        var acc = Accumulators()
        acc.deductibleUsed = yuan("700")
        // 100 of the 800 left; 900 × 0.80 = 720.
        let r = try settle([line("A1", "1000.00")], "310", at: "H3", acc: acc)
        XCTAssertEqual(r.deductiblePaid, yuan("100"))
        XCTAssertEqual(r.hifpPay, yuan("720"))
        XCTAssertEqual(r.delta.deductibleUsed, yuan("100"))
    }

    func testCategoriesBPreSelfPayAndC() throws {
        let lines = [line("A1", "100.00", "1"), line("B7", "356.55", "2"), line("ZZ9", "50.00", "3"), line("B-EXCLUDED", "10.00", "4")]
        let results = calculator.classify(lines)
        XCTAssertEqual(results.map(\.category), [.a, .b, .c, .c])
        XCTAssertEqual(results[1].preselfpay, yuan("35.66"))  // 35.655 rounds half up
        XCTAssertEqual(results[1].inscp, yuan("320.89"))
        XCTAssertEqual(results[1].selfpayProp.decimalText, "0.1")
        XCTAssertEqual(results[2].fulamtOwnpay, yuan("50"))
        XCTAssertEqual(results[3].category.chargeItemLevel, "03")
        // Employee level 1: in scope 420.89, deductible 200, 220.89 × 0.90 = 198.801 → 198.80.
        let r = try settle(lines, "310", at: "H1")
        XCTAssertEqual(r.medfeeSumamt, yuan("516.55"))
        XCTAssertEqual(r.inscp, yuan("420.89"))
        XCTAssertEqual(r.preselfpay, yuan("35.66"))
        XCTAssertEqual(r.fulamtOwnpay, yuan("60"))
        XCTAssertEqual(r.hifpPay, yuan("198.80"))
        XCTAssertEqual(r.psnPartAmt, yuan("317.75"))
    }

    func testAnnualPoolingCapReached() throws {
        var acc = Accumulators()
        acc.deductibleUsed = yuan("200")
        acc.poolingPaid = yuan("9950")
        // 1000 × 0.90 = 900 would be due, only 50 left under the 10000 cap.
        let r = try settle([line("A1", "1000.00")], "310", at: "H1", acc: acc)
        XCTAssertEqual(r.hifpPay, yuan("50"))
        XCTAssertEqual(r.poolPropSelfpay, yuan("950"))
    }

    func testSeriousIllnessSegmentsAboveThreshold() throws {
        var acc = Accumulators()
        acc.deductibleUsed = yuan("1000")
        acc.seriousBase = yuan("1000")
        // Resident level 3, 5000 in scope, deductible used: 5000 × 0.55 = 2750 pooled, 2250 after basic.
        // Base goes 1000 → 3250: [1500, 3000) 1500 × 0.60 = 900; [3000, 3250) 250 × 0.70 = 175; 1075.
        let r = try settle([line("A1", "5000.00")], "390", at: "H3", acc: acc)
        XCTAssertEqual(r.hifpPay, yuan("2750"))
        XCTAssertEqual(r.seriousPay, yuan("1075"))
        XCTAssertEqual(r.seriousField, "hifmi_pay")
        XCTAssertEqual(r.delta.seriousBase, yuan("2250"))
        XCTAssertEqual(r.psnPartAmt, yuan("1175"))
        XCTAssertEqual(r.funds.map(\.fundPayType), ["390100", "390200"])
    }

    func testMedicalAssistanceForEligiblePersonsWithCap() throws {
        // Resident level 1, 1000: deductible 100, 765 pooled, 235 after basic, below serious threshold.
        // Assistance 235 × 0.50 = 117.50.
        let eligible = try settle([line("A1", "1000.00")], "390", at: "H1", assistance: true)
        XCTAssertEqual(eligible.mafPay, yuan("117.50"))
        XCTAssertEqual(eligible.psnPartAmt, yuan("117.50"))
        XCTAssertEqual(eligible.funds.last?.fundPayType, "610100")
        // Listed in the policy by psn_no.
        XCTAssertEqual(try settle([line("A1", "1000.00")], "390", at: "H1", person: "P-LISTED").mafPay, yuan("117.50"))
        // Not eligible.
        XCTAssertEqual(try settle([line("A1", "1000.00")], "390", at: "H1").mafPay, .zero)
        // Cap 300, 250 already paid: 50.
        var acc = Accumulators()
        acc.assistancePaid = yuan("250")
        XCTAssertEqual(try settle([line("A1", "1000.00")], "390", at: "H1", assistance: true, acc: acc).mafPay, yuan("50"))
    }

    /// Many odd amounts, both insurance types, accumulating: every split adds up exactly.
    func testSharesAlwaysAddUpExactly() throws {
        var generator = SystemRandomNumberGenerator()
        var acc = Accumulators()
        for i in 0..<500 {
            let lines = (0..<Int.random(in: 1...6, using: &generator)).map { n in
                FeeLine(feedetlSn: "\(n)", medListCode: ["A1", "B2", "C3"].randomElement(using: &generator)!, amount: Money(fen: Int64.random(in: 1...900_000, using: &generator)))
            }
            let r = try settle(lines, i % 2 == 0 ? "310" : "390", at: ["H1", "H3", "X"][i % 3], assistance: i % 5 == 0, acc: acc)
            acc = acc + r.delta
        }
        XCTAssertLessThanOrEqual(acc.poolingPaid, yuan("18000"), "both caps together")
    }

    func testShippedDemoPolicyLoads() throws {
        let path = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("../../Adapters/insurers/policy-shandong-demo.yaml").standardized.path
        let policy = try BasicInsurancePolicy.load(path: path)
        XCTAssertEqual(policy.insutypes.keys.sorted(), ["310", "390"])
        XCTAssertEqual(policy.hospitalLevel(of: "H37010200001"), 3)
        let persons = try PersonDirectory.load(path: path.replacingOccurrences(of: "policy-shandong-demo", with: "persons-demo"))
        XCTAssertEqual(persons.person(certno: "370102000000000033")?.assistance, true)
        XCTAssertNil(persons.person(certno: "999"), "a persons file does not synthesize unless it says so")
        _ = try CommercialPolicy.load(path: path.replacingOccurrences(of: "policy-shandong-demo", with: "policy-huiminbao-demo"))
    }

    func testPolicyErrorsPointAtTheLine() {
        XCTAssertThrowsError(try BasicInsurancePolicy.parse(yaml: Self.policyYAML.replacingOccurrences(of: "ratio: 0.80 } ]", with: "ratio: 1.80 } ]"), file: "p.yaml")) { error in
            XCTAssertTrue("\(error)".hasPrefix("p.yaml:16:"), "\(error)")
        }
        XCTAssertThrowsError(try BasicInsurancePolicy.parse(yaml: Self.policyYAML + "\nextra: 1", file: "p.yaml"))
    }
}
