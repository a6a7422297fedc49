import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusSettlement
import XCTest

final class SagaRestartTests: XCTestCase {
    /// For each step in turn: the insurer does not answer it, the orchestrator is stopped while
    /// waiting, and a new orchestrator on the same saga log re-sends the same msgid and finishes.
    /// Each settlement completes once, with one settlement at the insurer.
    func testRestartAfterEachStepCompletesOnce() async throws {
        let cluster = try makeSettlementCluster()
        let directory = temporaryDirectory()
        let responder = try makeResponder(cluster)
        let configuration = testConfiguration(stepTimeout: .seconds(2), maxAttempts: 1000)
        let steps: [(String, SettlementState)] = [("1101", .personLookup), ("2204", .feeUpload), ("2206", .preSettled),
                                                  ("2207", .settled), ("claim", .commercialClaim)]
        var ids: [String] = []
        for (index, (step, state)) in steps.enumerated() {
            await responder.setScript { received, _, _ in received == step ? .drop : .answer }
            let (orchestrator, task) = try startOrchestrator(cluster, directory: directory, configuration: configuration)
            let id = try await orchestrator.submit(makeRequest("CB-RESTART-\(index)", commercial: true, seed: index + 10))
            ids.append(id)
            let stopped = try await waitFor(orchestrator, id, state)
            let pendingMsgid = try await orchestrator.history(id).last?.msgid
            XCTAssertNotNil(pendingMsgid)
            task.cancel()
            _ = await task.result
            XCTAssertEqual(stopped.state, state)

            await responder.setScript { _, _, _ in .answer }
            let (second, secondTask) = try startOrchestrator(cluster, directory: directory, configuration: configuration)
            try await waitFor(second, id, .completed)
            let history = try await second.history(id)
            XCTAssertEqual(history.filter { $0.to == .completed }.count, 1, "step \(step)")
            let resent = await responder.received.filter { $0.msgid == pendingMsgid }.count
            XCTAssertGreaterThanOrEqual(resent, 2, "step \(step): the same msgid was sent again")
            secondTask.cancel()
            _ = await secondTask.result
        }
        let settled = await responder.activeSettlements
        XCTAssertEqual(settled, steps.count, "one settlement per visit")
        let results = try await readTopic(cluster, "settlement.results", count: steps.count)
        let completed = results.compactMap { try? SettlementResult(json: JSONValue.parse($0.value!)) }.filter { $0.status == .settled }
        XCTAssertEqual(Set(completed.map(\.settlementId)), Set(ids))
        XCTAssertEqual(completed.count, ids.count, "each result published once")
        await responder.stop()
    }
}
