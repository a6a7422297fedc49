import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusSettlement
import XCTest

final class SagaHappyPathTests: XCTestCase {
    /// Outpatient without and with a commercial policy: every step once, shares exact, results on
    /// settlement.results valid against the schema.
    func testOutpatientWithAndWithoutCommercial() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster)
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let plain = makeRequest("CB-PLAIN", lines: 7, seed: 3)
        let covered = makeRequest("CB-COMM", lines: 5, commercial: true, seed: 4)
        let plainID = try await orchestrator.submit(plain)
        let coveredID = try await orchestrator.submit(covered)

        let plainStatus = try await waitFor(orchestrator, plainID, .completed)
        let coveredStatus = try await waitFor(orchestrator, coveredID, .completed)

        let shares = InsurerResponder.shares(plain.total)
        let result = try XCTUnwrap(plainStatus.result)
        XCTAssertEqual(result.status, .settled)
        XCTAssertEqual(result.amount("hifp_pay"), shares.hifp)
        XCTAssertEqual(result.amount("hifmi_pay"), shares.hifmi)
        XCTAssertEqual(result.amount("maf_pay"), shares.maf)
        XCTAssertEqual(result.amount("fund_pay_sumamt") + (result.patientPayable ?? .zero), plain.total)
        XCTAssertEqual(result.setldetail?.count, 3)
        XCTAssertNil(result.commercial)

        let coveredResult = try XCTUnwrap(coveredStatus.result)
        let coveredShares = InsurerResponder.shares(covered.total)
        let approved = Money(fen: coveredShares.patient.fen / 2)
        XCTAssertEqual(coveredResult.commercial?.status, .partiallyApproved)
        XCTAssertEqual(coveredResult.commercial?.approvedAmount, approved)
        XCTAssertEqual(coveredResult.patientPayable, coveredShares.patient - approved)
        XCTAssertEqual(coveredResult.amount("fund_pay_sumamt") + approved + coveredResult.patientPayable!, covered.total)

        let steps = await responder.received.map(\.step)
        XCTAssertEqual(steps.filter { $0 == "2207" }.count, 2)
        XCTAssertEqual(steps.filter { $0 == "claim" }.count, 1)
        let results = try await readTopic(cluster, "settlement.results", count: 2)
        XCTAssertEqual(results.count, 2)
        XCTAssertTrue(results.allSatisfy { $0.valueString!.contains(#""patientPayable":"#) })
        try validate(results.map { $0.valueString! }, schema: "settlement-result.schema.json")
        // Money on the wire has two decimals.
        XCTAssertTrue(results.contains { $0.valueString!.range(of: #""medfee_sumamt":[0-9]+\.[0-9]{2}[,}]"#, options: .regularExpression) != nil })

        let history = try await orchestrator.history(plainID).map(\.to).reduce(into: [SettlementState]()) { if $0.last != $1 { $0.append($1) } }
        XCTAssertEqual(history, [.received, .personLookup, .feeUpload, .preSettled, .settled, .completed])
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// 100 concurrent submits of one request and the same request on settlement.requests: one
    /// saga, one 2207.
    func testConcurrentDuplicateSubmitsMakeOneSettlement() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster)
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let request = makeRequest("CB-DUP", lines: 4)
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<100 { group.addTask { try await orchestrator.submit(request) } }
            return try await group.reduce(into: Set<String>()) { $0.insert($1) }
        }
        XCTAssertEqual(ids.count, 1)
        let producer = try KafkaProducer(config: testConfig(cluster))
        let body = String(decoding: try JSONEncoder().encode(request), as: UTF8.self)
        for _ in 0..<5 { try await producer.send(KafkaProducerMessage(topic: "settlement.requests", key: "CB-DUP", value: body)) }
        await producer.shutdown()
        try await waitFor(orchestrator, ids.first!, .completed)
        try await Task.sleep(for: .seconds(2))
        let settled = await responder.count("2207")
        XCTAssertEqual(settled, 1)
        let all = try await orchestrator.list()
        XCTAssertEqual(all.count, 1)
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// A request that arrives only on settlement.requests is settled too.
    func testRequestFromTopic() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster)
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let producer = try KafkaProducer(config: testConfig(cluster))
        let body = String(decoding: try JSONEncoder().encode(makeRequest("CB-TOPIC")), as: UTF8.self)
        try await producer.send(KafkaProducerMessage(topic: "settlement.requests", key: "CB-TOPIC", value: body))
        try await producer.send(KafkaProducerMessage(topic: "settlement.requests", key: "x", value: "{not json"))
        await producer.shutdown()
        let deadline = ContinuousClock.now + .seconds(30)
        var completed: [SettlementStatus] = []
        while completed.isEmpty, ContinuousClock.now < deadline {
            completed = try await orchestrator.list(state: .completed)
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(completed.map(\.chrgBchno), ["CB-TOPIC"])
        task.cancel()
        _ = await task.result
        await responder.stop()
    }
}
