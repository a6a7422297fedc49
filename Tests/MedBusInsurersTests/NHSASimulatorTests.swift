import MedBusCore
@testable import MedBusInsurers
import NIOHTTP1
import XCTest

/// The simulated platform over real HTTP on 127.0.0.1.
final class NHSASimulatorTests: XCTestCase {
    /// Resident with assistance (persons-demo.yaml), at a level-3 hospital.
    let certno = "370102000000000033"
    let psnNo = "37000000000000000033"

    func upload(_ sim: NHSASimulatorFixture, mdtrtId: String = "MDT1", batch: String = "CB1") async throws -> JSONValue {
        try await sim.call("2204", Inputs.feedetail(mdtrtId: mdtrtId, psnNo: psnNo, batch: batch, lines: [("1", "XA001", "1500.00"), ("2", "XB001", "356.55")]))
    }

    func testHappyPathThroughEveryTransaction() async throws {
        let sim = try await NHSASimulatorFixture()
        try await sim.signIn()
        XCTAssertTrue(sim.signNo.hasPrefix("SN"))

        let person = try await sim.call("1101", Inputs.data([("mdtrt_cert_type", .string("02")), ("mdtrt_cert_no", .string(certno)), ("psn_cert_type", .string("01")), ("certno", .string(certno))]))
        XCTAssertEqual(person["infcode"]?.intValue, 0)
        XCTAssertEqual(person["output"]?["baseinfo"]?["psn_no"]?.stringValue, psnNo)
        XCTAssertEqual(person["output"]?["insuinfo"]?.arrayValue?.first?["insutype"]?.stringValue, "390")
        XCTAssertEqual(person["output"]?["idetinfo"]?.arrayValue?.count, 1)

        let fees = try await upload(sim)
        let lines = try XCTUnwrap(fees["output"]?["result"]?.arrayValue)
        XCTAssertEqual(lines[1]["selfpay_prop"]?.stringValue, "0.1")
        XCTAssertEqual(lines[1]["preselfpay_amt"]?.moneyValue, Money(yuan: "35.66"))
        XCTAssertEqual(lines[1]["inscp_scp_amt"]?.moneyValue, Money(yuan: "320.89"))
        XCTAssertEqual(lines[1]["chrgitm_lv"]?.stringValue, "02")

        let settle = Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55")
        let pre = try await sim.call("2206", settle)
        XCTAssertEqual(pre["infcode"]?.intValue, 0)
        XCTAssertTrue(pre["output"]?["setlinfo"]?["setl_id"]?.isNull ?? false)
        let before = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(before["settlements"]?.arrayValue?.count, 0, "2206 records nothing")

        // Hand-computed (demo policy, resident, level 3, assistance): in scope 1820.89, deductible
        // 1000, 820.89 × 0.60 = 492.534 → 492.53 pooled; 1328.36 left × 0.70 = 929.852 → 929.85 assistance.
        let final = try await sim.call("2207", settle)
        let info = try XCTUnwrap(final["output"]?["setlinfo"])
        XCTAssertEqual(info["hifp_pay"]?.moneyValue, Money(yuan: "492.53"))
        XCTAssertEqual(info["maf_pay"]?.moneyValue, Money(yuan: "929.85"))
        XCTAssertEqual(info["fund_pay_sumamt"]?.moneyValue, Money(yuan: "1422.38"))
        XCTAssertEqual(info["psn_part_amt"]?.moneyValue, Money(yuan: "434.17"))
        XCTAssertEqual(pre["output"]?["setlinfo"]?["hifp_pay"], info["hifp_pay"], "pre-settlement computes the same")
        let setlId = try XCTUnwrap(info["setl_id"]?.stringValue)
        let details = try XCTUnwrap(final["output"]?["setldetail"]?.arrayValue)
        XCTAssertEqual(details.compactMap { $0["fund_payamt"]?.moneyValue }.sum(), Money(yuan: "1422.38"))

        let cancel = try await sim.call("2208", Inputs.data([("setl_id", .string(setlId)), ("mdtrt_id", .string("MDT1")), ("psn_no", .string(psnNo))]))
        XCTAssertEqual(cancel["infcode"]?.intValue, 0)
        XCTAssertEqual(cancel["output"]?["setlinfo"]?["medfee_sumamt"]?.moneyValue, Money(yuan: "-1856.55"))
        let accumulators = await sim.simulator.accumulators(psnNo: psnNo)
        XCTAssertEqual(accumulators, Accumulators(), "cancellation gives the year's totals back")
        let again = try await sim.call("2208", Inputs.data([("setl_id", .string(setlId))]))
        XCTAssertEqual(again["infcode"]?.intValue, -2)

        let cancelFees = try await sim.call("2205", Inputs.data([("mdtrt_id", .string("MDT1")), ("chrg_bchno", .string("CB1")), ("feedetl_sn", .string("0000"))]))
        XCTAssertEqual(cancelFees["output"]?["result"]?["cancelled_count"]?.intValue, 2)
        let nothingLeft = try await sim.call("2206", settle)
        XCTAssertEqual(nothingLeft["infcode"]?.intValue, -2)

        let reversal = try await sim.call("2601", Inputs.data([("psn_no", .string(psnNo)), ("omsgid", .string("H37010200001202501150000009999")), ("oinfno", .string("2207"))]))
        XCTAssertEqual(reversal["infcode"]?.intValue, 0, "an unknown msgid: success, nothing to reverse")
        XCTAssertEqual(reversal["output"]?["result"]?["reversed"], .bool(false))
        await sim.stop()
    }

    func testSameMsgidSettlesOnce() async throws {
        let sim = try await NHSASimulatorFixture()
        try await sim.signIn()
        _ = try await upload(sim)
        let request = sim.envelope("2207", input: Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55"))
        let first = try await sim.call(request)
        let second = try await sim.call(request)
        XCTAssertEqual(first, second, "the stored response, byte for byte")
        // A different msgid for the same batch finds nothing left to settle.
        let other = try await sim.call("2207", Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55"))
        XCTAssertEqual(other["infcode"]?.intValue, -2)
        let ledger = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(ledger["settlements"]?.arrayValue?.count, 1)
        await sim.stop()
    }

    func testReversalOfASettledMsgidThenRetrySettlesOnce() async throws {
        let sim = try await NHSASimulatorFixture(faults: [try SimulatorFault(parsing: "2207:error-after@1")])
        try await sim.signIn()
        _ = try await upload(sim)
        let request = sim.envelope("2207", input: Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55"))
        let msgid = request["msgid"]!.stringValue!
        let unknown = try await sim.call(request)
        XCTAssertEqual(unknown["infcode"]?.intValue, -1, "system error after recording: outcome unknown")
        let answer1 = try await sim.call(request)
        XCTAssertEqual(answer1["infcode"]?.intValue, -1, "same msgid: same stored answer, no second settlement")
        var ledger = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(ledger["settlements"]?.arrayValue?.map { $0["status"]?.stringValue }, ["settled"])

        let reversal = try await sim.call("2601", Inputs.data([("psn_no", .string(psnNo)), ("omsgid", .string(msgid)), ("oinfno", .string("2207"))]))
        XCTAssertEqual(reversal["output"]?["result"]?["reversed"], .bool(true))
        let accumulators = await sim.simulator.accumulators(psnNo: psnNo)
        XCTAssertEqual(accumulators, Accumulators())

        let retry = try await sim.call(request)
        XCTAssertEqual(retry["infcode"]?.intValue, 0, "after the reversal the same msgid is processed afresh")
        ledger = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(ledger["settlements"]?.arrayValue?.map { $0["status"]?.stringValue }, ["reversed", "settled"])
        await sim.stop()
    }

    func testFaults() async throws {
        let sim = try await NHSASimulatorFixture(dropHold: .seconds(2), clientTimeout: .milliseconds(500))
        try await sim.signIn()
        // Runtime fault plan through the admin endpoint.
        let set = try await sim.admin(.POST, "/_faults", .object([("faults", .array([.string("2206:decline=余额不足@1"), .string("1101:delay=300@1"), .string("2204:drop@1"), .string("2207:error@1")]))]))
        XCTAssertEqual(set["faults"]?.arrayValue?.count, 4)

        let start = ContinuousClock.now
        let delayed = try await sim.call("1101", Inputs.data([("certno", .string(certno))]))
        XCTAssertEqual(delayed["infcode"]?.intValue, 0)
        XCTAssertGreaterThanOrEqual(ContinuousClock.now - start, .milliseconds(300))

        do {
            _ = try await upload(sim)
            XCTFail("a dropped request gets no answer")
        } catch {
            XCTAssertTrue("\(error)".contains("no answer"), "\(error)")
        }
        _ = try await upload(sim)  // the fault was used up; nothing had been recorded

        let settle = Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55")
        let declined = try await sim.call("2206", settle)
        XCTAssertEqual(declined["infcode"]?.intValue, -2)
        XCTAssertEqual(declined["err_msg"]?.stringValue, "余额不足")

        let request = sim.envelope("2207", input: settle)
        let answer2 = try await sim.call(request)
        XCTAssertEqual(answer2["infcode"]?.intValue, -1)
        let ledgerAfterError = try await sim.admin(.GET, "/_ledger")
        XCTAssertEqual(ledgerAfterError["settlements"]?.arrayValue?.count, 0, "error before processing records nothing")
        let answer3 = try await sim.call(request)
        XCTAssertEqual(answer3["infcode"]?.intValue, 0, "not stored: the retry is processed")

        let cleared = try await sim.admin(.DELETE, "/_faults")
        XCTAssertEqual(cleared["faults"]?.arrayValue?.count, 0)
        await sim.stop()
    }

    func testDropAfterRecordingThenRetryGetsTheStoredAnswer() async throws {
        let sim = try await NHSASimulatorFixture(faults: [try SimulatorFault(parsing: "2207:drop-after@1")], dropHold: .seconds(1), clientTimeout: .milliseconds(300))
        try await sim.signIn()
        _ = try await upload(sim)
        let request = sim.envelope("2207", input: Inputs.settle(psnNo: psnNo, mdtrtId: "MDT1", batch: "CB1", total: "1856.55"))
        do {
            _ = try await sim.call(request)
            XCTFail("no answer expected")
        } catch {}
        let ledger = try await sim.admin(.GET, "/_ledger")
        let settled = try XCTUnwrap(ledger["settlements"]?.arrayValue?.first)
        XCTAssertEqual(settled["status"]?.stringValue, "settled", "recorded although unanswered")
        let retry = try await sim.call(request)
        XCTAssertEqual(retry["output"]?["setlinfo"]?["setl_id"], settled["setl_id"], "the retry gets the recorded settlement, not a second one")
        await sim.stop()
    }

    func testExpiredSignInIsRefusedUntilSigningInAgain() async throws {
        let sim = try await NHSASimulatorFixture()
        let unsigned = try await sim.call("1101", Inputs.data([("certno", .string(certno))]))
        XCTAssertEqual(unsigned["infcode"]?.intValue, -2)
        XCTAssertTrue(unsigned["err_msg"]?.stringValue?.contains("sign_no") ?? false)
        try await sim.signIn()
        let answer4 = try await sim.call("1101", Inputs.data([("certno", .string(certno))]))
        XCTAssertEqual(answer4["infcode"]?.intValue, 0)
        _ = try await sim.admin(.POST, "/_signins/expire")
        let answer5 = try await sim.call("1101", Inputs.data([("certno", .string(certno))]))
        XCTAssertEqual(answer5["infcode"]?.intValue, -2)
        await sim.stop()
    }

    func testFaultSyntax() throws {
        XCTAssertEqual(try SimulatorFault(parsing: "2207:error-after@2"), SimulatorFault(key: "2207", action: .systemErrorAfter, count: 2))
        XCTAssertEqual(try SimulatorFault(parsing: "delay=50"), SimulatorFault(action: .delay(milliseconds: 50)))
        XCTAssertEqual(try SimulatorFault(parsing: "claim:decline=not: covered").action, .decline(reason: "not: covered"))
        XCTAssertEqual(try SimulatorFault(parsing: "*:drop").key, nil)
        XCTAssertThrowsError(try SimulatorFault(parsing: "2207:explode"))
        let plan = FaultPlan([SimulatorFault(key: "2207", action: .drop, count: 1)])
        XCTAssertNil(plan.take(for: "2206"))
        XCTAssertEqual(plan.take(for: "2207"), .drop)
        XCTAssertNil(plan.take(for: "2207"))
    }
}
