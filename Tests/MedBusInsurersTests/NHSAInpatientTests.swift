import MedBusCore
@testable import MedBusInsurers
import NIOHTTP1
import XCTest

/// Inpatient transactions (2301–2305) of the simulated platform over real HTTP, with the demo
/// policy's inpatient rules, and its refusal of the other series' codes.
final class NHSAInpatientTests: XCTestCase {
    /// Resident with assistance (persons-demo.yaml); the fixture's hospital H37010200001 is level 3.
    let psnNo = "37000000000000000033"

    private func admit(_ sim: NHSASimulatorFixture) async throws -> String {
        let admitted = try await sim.call("2401", .object([("mdtrtinfo", .object([
            ("psn_no", .string(psnNo)), ("insutype", .string("390")), ("med_type", .string("21")), ("ipt_no", .string("ZY1")),
        ])), ("diseinfo", .array([]))]))
        return try XCTUnwrap(admitted["output"]?["result"]?["mdtrt_id"]?.stringValue, "\(admitted)")
    }

    /// 2301 lines: as 2204's, with med_type and without chrg_bchno.
    private func upload(_ sim: NHSASimulatorFixture, _ infno: String = "2301", mdtrtId: String, lines: [(sn: String, amount: String)], medType: String = "21") async throws -> JSONValue {
        try await sim.call(infno, .object([("feedetail", .array(lines.map { line in
            .object([
                ("feedetl_sn", .string(line.sn)), ("mdtrt_id", .string(mdtrtId)), ("psn_no", .string(psnNo)), ("med_type", .string(medType)),
                ("fee_ocur_time", .string("2025-01-15 10:00:00")), ("med_list_codg", .string("XA001")), ("medins_list_codg", .string("XA001")),
                ("det_item_fee_sumamt", .number(line.amount)), ("cnt", .number("1")), ("pric", .number(line.amount)),
            ])
        }))]))
    }

    private func settle(_ sim: NHSASimulatorFixture, _ infno: String, mdtrtId: String, total: String, medType: String = "21") async throws -> JSONValue {
        try await sim.call(infno, Inputs.data([
            ("psn_no", .string(psnNo)), ("mdtrt_cert_type", .string("02")), ("mdtrt_cert_no", .string("x")), ("med_type", .string(medType)),
            ("medfee_sumamt", .number(total)), ("psn_setlway", .string("01")), ("mdtrt_id", .string(mdtrtId)),
            ("insutype", .string("390")), ("mid_setl_flag", .string("0")), ("acct_used_flag", .string("0")),
        ]))
    }

    func testInpatientSettlementChargesTheDeductiblePerAdmission() async throws {
        let sim = try await NHSASimulatorFixture()
        try await sim.signIn()
        let first = try await admit(sim)
        let uploaded = try await upload(sim, mdtrtId: first, lines: [("1", "3000.00")])
        XCTAssertEqual(uploaded["infcode"]?.intValue, 0, "\(uploaded)")
        let pre = try await settle(sim, "2303", mdtrtId: first, total: "3000.00")
        XCTAssertEqual(pre["infcode"]?.intValue, 0, "\(pre)")
        XCTAssertTrue(pre["output"]?["setlinfo"]?["setl_id"]?.isNull ?? false)
        // Demo policy, resident inpatient at level 3: deductible 1000 per admission, 2000 × 0.65 =
        // 1300 pooled; assistance 1700 × 0.70 = 1190; the patient 510.
        let settled = try await settle(sim, "2304", mdtrtId: first, total: "3000.00")
        let info = try XCTUnwrap(settled["output"]?["setlinfo"], "\(settled)")
        XCTAssertEqual(info["act_pay_dedc"]?.moneyValue, Money(yuan: "1000.00"))
        XCTAssertEqual(info["hifp_pay"]?.moneyValue, Money(yuan: "1300.00"))
        XCTAssertEqual(info["maf_pay"]?.moneyValue, Money(yuan: "1190.00"))
        XCTAssertEqual(info["psn_part_amt"]?.moneyValue, Money(yuan: "510.00"))
        XCTAssertEqual(pre["output"]?["setlinfo"]?["hifp_pay"], info["hifp_pay"], "2303 computes what 2304 settles")
        let annual = await sim.simulator.accumulators(psnNo: psnNo)
        XCTAssertEqual(annual.deductibleUsed, .zero, "an admission's deductible is not the annual one")

        // A mid-way second settlement of the same admission pays no deductible again: 800 × 0.65.
        _ = try await upload(sim, mdtrtId: first, lines: [("2", "800.00")])
        let second = try await settle(sim, "2304", mdtrtId: first, total: "800.00")
        XCTAssertEqual(second["output"]?["setlinfo"]?["act_pay_dedc"]?.moneyValue, .zero, "\(second)")
        XCTAssertEqual(second["output"]?["setlinfo"]?["hifp_pay"]?.moneyValue, Money(yuan: "520.00"))

        // A new admission charges its own deductible; cancelling (2305) gives it back.
        let next = try await admit(sim)
        _ = try await upload(sim, mdtrtId: next, lines: [("1", "500.00")])
        let other = try await settle(sim, "2304", mdtrtId: next, total: "500.00")
        XCTAssertEqual(other["output"]?["setlinfo"]?["act_pay_dedc"]?.moneyValue, Money(yuan: "500.00"))
        let setlId = try XCTUnwrap(other["output"]?["setlinfo"]?["setl_id"]?.stringValue)
        let cancel = try await sim.call("2305", Inputs.data([("setl_id", .string(setlId)), ("mdtrt_id", .string(next)), ("psn_no", .string(psnNo))]))
        XCTAssertEqual(cancel["infcode"]?.intValue, 0, "\(cancel)")
        let again = try await settle(sim, "2303", mdtrtId: next, total: "500.00")
        XCTAssertEqual(again["output"]?["setlinfo"]?["act_pay_dedc"]?.moneyValue, Money(yuan: "500.00"), "the cancelled settlement's deductible is free again")

        // The ledger and the transaction log, as GET /_ledger shows them.
        let ledger = try await sim.admin(.GET, "/_ledger")
        let entries = try XCTUnwrap(ledger["settlements"]?.arrayValue)
        XCTAssertEqual(entries.map { $0["infno"]?.stringValue }, ["2304", "2304", "2304"])
        XCTAssertEqual(entries.map { $0["status"]?.stringValue }, ["settled", "settled", "cancelled"])
        let log = try XCTUnwrap(ledger["transactions"]?.arrayValue).filter { $0["mdtrt_id"]?.stringValue == first }
        XCTAssertEqual(log.compactMap { $0["infno"]?.stringValue }, ["2401", "2301", "2303", "2304", "2301", "2304"])
        await sim.stop()
    }

    func testTheOtherSeriesCodesAreRefused() async throws {
        let sim = try await NHSASimulatorFixture()
        try await sim.signIn()
        let refused = { (answer: JSONValue, mentioning: String, line: UInt) in
            XCTAssertEqual(answer["infcode"]?.intValue, -2, "\(answer)", line: line)
            XCTAssertTrue(answer["err_msg"]?.stringValue?.contains(mentioning) ?? false, "\(answer)", line: line)
        }
        // An admission (2401) takes no outpatient code.
        let admission = try await admit(sim)
        refused(try await upload(sim, "2204", mdtrtId: admission, lines: [("1", "100.00")], medType: "11"), "inpatient", #line)
        _ = try await upload(sim, mdtrtId: admission, lines: [("1", "100.00")])
        refused(try await settle(sim, "2206", mdtrtId: admission, total: "100.00", medType: "11"), "inpatient", #line)
        refused(try await settle(sim, "2207", mdtrtId: admission, total: "100.00", medType: "11"), "inpatient", #line)
        refused(try await sim.call("2205", Inputs.data([("mdtrt_id", .string(admission)), ("feedetl_sn", .string("0000"))])), "inpatient", #line)
        refused(try await settle(sim, "2303", mdtrtId: admission, total: "100.00", medType: "11"), "med_type 11", #line)

        // 2302 with feedetl_sn "0000" removes every unsettled line of the admission.
        let removed = try await sim.call("2302", Inputs.data([("mdtrt_id", .string(admission)), ("psn_no", .string(psnNo)), ("feedetl_sn", .string("0000"))]))
        XCTAssertEqual(removed["output"]?["result"]?["cancelled_count"]?.intValue, 1, "\(removed)")
        refused(try await settle(sim, "2303", mdtrtId: admission, total: "100.00"), "没有待结算", #line)

        // A visit the HIS registered is outpatient from its first 2204 on.
        _ = try await upload(sim, "2204", mdtrtId: "HIS-MDT-1", lines: [("1", "100.00")], medType: "11")
        refused(try await upload(sim, mdtrtId: "HIS-MDT-1", lines: [("2", "100.00")]), "outpatient", #line)
        refused(try await settle(sim, "2304", mdtrtId: "HIS-MDT-1", total: "100.00"), "outpatient", #line)
        refused(try await settle(sim, "2207", mdtrtId: "HIS-MDT-1", total: "100.00", medType: "21"), "med_type 21", #line)
        let settled = try await settle(sim, "2207", mdtrtId: "HIS-MDT-1", total: "100.00", medType: "11")
        let setlId = try XCTUnwrap(settled["output"]?["setlinfo"]?["setl_id"]?.stringValue, "\(settled)")
        refused(try await sim.call("2305", Inputs.data([("setl_id", .string(setlId))])), "outpatient", #line)
        let cancelled = try await sim.call("2208", Inputs.data([("setl_id", .string(setlId))]))
        XCTAssertEqual(cancelled["infcode"]?.intValue, 0, "\(cancelled)")
        let ledger = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(ledger["settlements"]?.arrayValue?.map { $0["infno"]?.stringValue }, ["2207"])
        await sim.stop()
    }

    func testInpatientRulesNeedEveryLevel() throws {
        let yaml = """
            name: p
            listCategories: { preSelfPayRatio: 0.1 }
            insutypes:
              "390":
                name: resident
                poolingFund: "390100"
                deductible: { 1: 1, 2: 2, 3: 3 }
                poolingRatio: { 1: 0.5, 2: 0.5, 3: 0.5 }
                annualPoolingCap: 100
                inpatient: { deductiblePerAdmission: { 1: 1, 3: 3 }, poolingRatio: { 1: 0.5, 2: 0.5, 3: 0.5 } }

            """
        XCTAssertThrowsError(try BasicInsurancePolicy.parse(yaml: yaml, file: "p.yaml")) { error in
            XCTAssertTrue("\(error)".contains("p.yaml:10:"), "\(error)")
            XCTAssertTrue("\(error)".contains("levels 1, 2 and 3"), "\(error)")
        }
    }
}
