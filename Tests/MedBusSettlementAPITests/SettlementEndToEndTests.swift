import Foundation
import MedBusCore
import MedBusInsurers
import MedBusKafka
import MedBusSettlement
import XCTest

/// The settlement system end to end against both reference insurers (see `SettlementSystemFixture`).
final class SettlementEndToEndTests: XCTestCase {
    /// 1,000 varied settlements (`MEDBUS_E2E_SETTLEMENTS` to change) through the API and
    /// settlement.requests (~25 s in a debug build): every one completes, its shares add
    /// up exactly to the total, each fund and the commercial share equal the test's own
    /// recomputation from the policy files (inpatient visits by its inpatient rules), the
    /// platform's ledger holds exactly one standing settlement per visit — 2304 for the inpatient
    /// ones, 2207 for the others — and reconciliation (3201) agrees.
    func testVariedSettlementsAddUpAndMatchThePolicy() async throws {
        let count = Int(ProcessInfo.processInfo.environment["MEDBUS_E2E_SETTLEMENTS"] ?? "") ?? 1_000
        let system = try await SettlementSystemFixture()
        var generator = SystemRandomNumberGenerator()
        let runID = String(UUID().uuidString.prefix(6))
        let visits = (0..<count).map { Visit.make($0, runID: runID, generator: &generator) }

        // Half through HTTP, half on settlement.requests as the DFT^P03 mapping produces them.
        let producer = try KafkaProducer(config: system.kafka)
        let viaTopic = visits.enumerated().filter { $0.offset % 2 == 1 }.map { KafkaProducerMessage(topic: "settlement.requests", key: $0.element.request["chrg_bchno"]!.stringValue!, value: $0.element.request.jsonText) }
        let reports = try await producer.sendBatch(viaTopic)
        XCTAssertTrue(reports.allSatisfy { $0.error == nil })
        let started = ContinuousClock.now
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (index, visit) in visits.enumerated() where index % 2 == 0 {
                group.addTask {
                    let answer = try await system.submit(visit.request)
                    XCTAssertTrue([200, 202].contains(answer.status), "\(answer.json)")
                }
            }
            try await group.waitForAll()
        }
        // Every visit completes.
        var statuses: [SettlementStatus] = []
        let deadline = ContinuousClock.now + .seconds(120)
        while ContinuousClock.now < deadline {
            statuses = try await system.orchestrator.list(state: nil, limit: count * 2)
            if statuses.count == count && statuses.allSatisfy({ $0.state.isTerminal }) { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        let elapsed = ContinuousClock.now - started
        XCTAssertEqual(statuses.count, count)
        XCTAssertEqual(statuses.filter { $0.state == .completed }.count, count, "states: \(Dictionary(grouping: statuses, by: \.state).mapValues(\.count)); "
                       + "first failure: \(statuses.first { $0.state == .failed }?.result?.jsonValue.jsonText ?? "-")")
        guard statuses.filter({ $0.state == .completed }).count == count else { return await system.stop() }
        print("e2e: \(count) settlements in \(elapsed)")

        let byBatch = Dictionary(uniqueKeysWithValues: statuses.map { ($0.chrgBchno, $0) })
        var commercialPaid = 0
        for (index, visit) in visits.enumerated() {
            let batch = visit.request["chrg_bchno"]!.stringValue!
            guard let result = byBatch[batch]?.result else { XCTFail("no result for visit \(index)"); continue }
            let lines = (visit.request["feedetail"]?.arrayValue ?? []).map { ($0["med_list_codg"]!.stringValue!, $0["det_item_fee_sumamt"]!.moneyValue!.fen) }
            let last = visit.certno.last!
            let expected = ExpectedShares(lines: lines, hospitalLevel: SettlementSystemFixture.hospitals[visit.hospital]!,
                                          employee: Int(String(last))! % 2 == 0, assistance: last == "9", inpatient: visit.inpatient, hasPolicy: visit.commercial)
            // Shares add up exactly: funds + commercial + patient = total.
            let funds = result.amount("fund_pay_sumamt")
            let commercial = result.commercial?.approvedAmount ?? .zero
            XCTAssertEqual(result.amount("medfee_sumamt"), visit.total, "visit \(index)")
            XCTAssertEqual(funds + commercial + (result.patientPayable ?? Money(fen: -1)), visit.total, "visit \(index)")
            // Each fund as the policy says.
            var detail: [String: Int64] = [:]
            for fund in result.setldetail ?? [] { detail[fund["fund_pay_type"]!.stringValue!, default: 0] += fund["fund_payamt"]!.moneyValue!.fen }
            XCTAssertEqual(detail[expected.poolingFund] ?? 0, expected.hifp, "pooling, visit \(index)")
            XCTAssertEqual(detail[expected.seriousFund] ?? 0, expected.serious, "serious illness, visit \(index)")
            XCTAssertEqual(detail["610100"] ?? 0, expected.maf, "assistance, visit \(index)")
            XCTAssertEqual(funds.fen, expected.hifp + expected.serious + expected.maf, "fund_pay_sumamt, visit \(index)")
            XCTAssertEqual(commercial.fen, expected.commercial, "commercial, visit \(index)")
            XCTAssertEqual(result.commercial != nil, visit.commercial)
            if expected.commercial > 0 { commercialPaid += 1 }
        }
        XCTAssertGreaterThan(commercialPaid, count / 4, "the variety reaches commercial approvals")

        // The platform settled each visit exactly once.
        let ledger = try await system.ledger()
        XCTAssertEqual(ledger.filter { $0["status"]?.stringValue == "settled" }.count, count)
        // (2304 names no charge batch: an inpatient settlement is of its admission, the mdtrt_id.)
        XCTAssertEqual(Set(ledger.compactMap { $0["mdtrt_id"]?.stringValue }).count, count)
        XCTAssertTrue(ledger.allSatisfy { $0["status"]?.stringValue == "settled" })
        // Each visit settled with the code of its kind, as the platform recorded it.
        let infnoBySetlId = Dictionary(uniqueKeysWithValues: ledger.map { ($0["setl_id"]!.stringValue!, $0["infno"]?.stringValue ?? "") })
        var inpatients = 0
        for visit in visits {
            let setlId = byBatch[visit.request["chrg_bchno"]!.stringValue!]?.result?.setlinfo?["setl_id"]?.stringValue ?? ""
            XCTAssertEqual(infnoBySetlId[setlId], visit.inpatient ? "2304" : "2207", "visit \(visit.request["chrg_bchno"]!.stringValue!)")
            if visit.inpatient { inpatients += 1 }
        }
        XCTAssertGreaterThanOrEqual(inpatients, count / 5, "the variety reaches inpatient settlements")

        // One result per settlement on settlement.results.
        let results = try await system.read("settlement.results", count: count)
        XCTAssertEqual(Set(results.compactMap(\.keyString)).count, count)

        // Reconciliation: MedBus's ledger and the platform's totals agree for the day.
        let day = String(try XCTUnwrap(statuses[0].result?.setlinfo?["setl_time"]?.stringValue).prefix(10))
        let report = try await system.orchestrator.reconcile(date: day)
        XCTAssertTrue(report.agreed, "\(report.jsonValue.jsonText)")
        XCTAssertEqual(report.groups.map(\.medbus.count).reduce(0, +), count)
        await producer.shutdown()
        await system.stop()
    }
}
