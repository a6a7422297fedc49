import Foundation
import MedBusCore
import MedBusInsurers
import MedBusSettlement
import XCTest

/// Inpatient visits settle with the platform's inpatient codes (2301 / 2302 / 2303 / 2304 / 2305),
/// outpatient ones as before, as the simulated platform's own transaction log records them.
final class InpatientSettlementTests: XCTestCase {
    /// The infnos the platform processed for `mdtrtId`, in order.
    private func codes(_ system: SettlementSystemFixture, mdtrtId: String) async throws -> [String] {
        try await system.transactions().filter { $0["mdtrt_id"]?.stringValue == mdtrtId }.compactMap { $0["infno"]?.stringValue }
    }

    private func settle(_ system: SettlementSystemFixture, _ request: JSONValue) async throws -> (id: String, status: SettlementStatus) {
        let answer = try await system.submit(request, wait: "30s")
        let id = try XCTUnwrap(answer.json["settlementId"]?.stringValue, "\(answer.json)")
        return (id, try await system.orchestrator.status(id, waitingUpTo: .seconds(30)))
    }

    func testInpatientUses23xxAndOutpatientIsUnchanged() async throws {
        let system = try await SettlementSystemFixture()
        var generator = SystemRandomNumberGenerator()
        // Visit 3: inpatient (med_type 21), mdtrt_id from the HIS, commercial policy; visit 7 the
        // same without mdtrt_id, so the saga admits (2401); 1 and 0: outpatient, with and without.
        let admitted = Visit.make(3, runID: "ipt", generator: &generator)
        var unregistered = Visit.make(7, runID: "ipt", generator: &generator)
        if case .object(var fields) = unregistered.request { fields.removeAll { $0.0 == "mdtrt_id" }; unregistered.request = .object(fields) }
        let outpatient = Visit.make(1, runID: "ipt", generator: &generator)
        let registeredOutpatient = Visit.make(0, runID: "ipt", generator: &generator)

        let (inpatientID, inpatient) = try await settle(system, admitted.request)
        XCTAssertEqual(inpatient.state, .completed, "\(inpatient.result?.jsonValue.jsonText ?? "")")
        let mdtrtId = try XCTUnwrap(admitted.request["mdtrt_id"]?.stringValue)
        let inpatientCodes = try await codes(system, mdtrtId: mdtrtId)
        XCTAssertEqual(inpatientCodes, ["2301", "2303", "2304"])
        // The shares are the policy's inpatient ones (deductible per admission, inpatient ratio).
        let lines = (admitted.request["feedetail"]?.arrayValue ?? []).map { ($0["med_list_codg"]!.stringValue!, $0["det_item_fee_sumamt"]!.moneyValue!.fen) }
        let last = admitted.certno.last!
        let expected = ExpectedShares(lines: lines, hospitalLevel: SettlementSystemFixture.hospitals[admitted.hospital]!, employee: Int(String(last))! % 2 == 0,
                                      assistance: last == "9", inpatient: true, hasPolicy: true)
        XCTAssertEqual(inpatient.result?.setlinfo?["hifp_pay"]?.moneyValue?.fen, expected.hifp)

        let (_, registered) = try await settle(system, unregistered.request)
        XCTAssertEqual(registered.state, .completed, "\(registered.result?.jsonValue.jsonText ?? "")")
        let admission = try XCTUnwrap(registered.result?.setlinfo?["mdtrt_id"]?.stringValue)
        let admittedCodes = try await codes(system, mdtrtId: admission)
        XCTAssertEqual(admittedCodes, ["2401", "2301", "2303", "2304"])

        for (visit, registers) in [(outpatient, false), (registeredOutpatient, true)] {
            let (_, status) = try await settle(system, visit.request)
            XCTAssertEqual(status.state, .completed)
            let visitID = try XCTUnwrap(status.result?.setlinfo?["mdtrt_id"]?.stringValue)
            let outpatientCodes = try await codes(system, mdtrtId: visitID)
            XCTAssertEqual(outpatientCodes, (registers ? ["2201"] : []) + ["2204", "2206", "2207"])
        }

        // Cancel after completion: 2305 on the platform, and the commercial share reversed.
        XCTAssertGreaterThan(inpatient.result?.commercial?.approvedAmount ?? .zero, .zero, "visit 3 has a commercial share to reverse")
        let cancel = try await system.http("POST", "/v1/settlements/\(inpatientID)/cancel")
        XCTAssertTrue([200, 202].contains(cancel.status), "\(cancel.json)")
        let cancelled = try await system.orchestrator.status(inpatientID, waitingUpTo: .seconds(30))
        XCTAssertEqual(cancelled.state, .cancelled)
        let afterCancel = try await codes(system, mdtrtId: mdtrtId)
        XCTAssertEqual(afterCancel, ["2301", "2303", "2304", "2305"])
        let ledger = try await system.ledger()
        XCTAssertEqual(ledger.first { $0["mdtrt_id"]?.stringValue == mdtrtId }?["status"]?.stringValue, "cancelled")
        let claim = await system.commercial.claims["\(inpatientID)-claim"]
        XCTAssertEqual(claim?.reversed, true, "the commercial insurer's book shows the reversal")
        await system.stop()
    }

    func testRejectedInpatientPreSettlementCancelsEveryUploadedLine() async throws {
        let system = try await SettlementSystemFixture()
        system.nhsa.faults.replace(with: [try SimulatorFault(parsing: "2303:decline=超过住院限额@1")])
        var generator = SystemRandomNumberGenerator()
        let visit = Visit.make(11, runID: "ipt-reject", generator: &generator)
        let (id, status) = try await settle(system, visit.request)
        XCTAssertEqual(status.state, .failed)
        XCTAssertEqual(status.failureReason, "rejected-2303")
        XCTAssertEqual(status.result?.errMsg, "超过住院限额")

        // What the orchestrator sent, from the requests topic: 2302 with feedetl_sn "0000".
        let requests = try await system.read("insurer.nhsa.requests", count: 4).filter { $0.keyString == id }
        let bodies = try requests.map { try JSONValue.parse($0.value ?? []) }
        XCTAssertEqual(bodies.compactMap { $0["infno"]?.stringValue }, ["1101", "2301", "2303", "2302"])
        let cancel = try XCTUnwrap(bodies.last?["input"]?["data"])
        XCTAssertEqual(cancel["feedetl_sn"]?.stringValue, "0000")
        XCTAssertNil(cancel["chrg_bchno"], "2302 removes the admission's unsettled lines, not a batch's")
        // The platform processed the upload and its cancellation (the declined 2303 never ran).
        let mdtrtId = try XCTUnwrap(visit.request["mdtrt_id"]?.stringValue)
        let log = try await system.transactions().filter { $0["mdtrt_id"]?.stringValue == mdtrtId }
        XCTAssertEqual(log.compactMap { $0["infno"]?.stringValue }, ["2301", "2302"])
        XCTAssertTrue(log.allSatisfy { $0["infcode"]?.intValue == 0 })
        let ledger = try await system.ledger()
        XCTAssertTrue(ledger.isEmpty)
        await system.stop()
    }
}
