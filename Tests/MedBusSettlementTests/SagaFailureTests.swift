import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusSettlement
import XCTest

final class SagaFailureTests: XCTestCase {
    /// 2206 rejected (infcode -2): 2205 cancels the fee upload, the settlement fails with the
    /// platform's reason, and no 2207 is ever sent.
    func testPreSettlementRejectedCancelsFeeUpload() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster) { step, _, _ in step == "2206" ? .reply(infcode: -2, errMsg: "目录不符") : .answer }
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let id = try await orchestrator.submit(makeRequest("CB-REJ"))
        let status = try await waitFor(orchestrator, id, .failed)
        XCTAssertEqual(status.failureReason, "rejected-2206")
        XCTAssertEqual(status.result?.errMsg, "目录不符")
        XCTAssertEqual(status.result?.status, .failed)
        XCTAssertNil(status.result?.setlinfo)
        let steps = await responder.received.map(\.step)
        XCTAssertEqual(steps.filter { $0 == "2205" }.count, 1)
        XCTAssertEqual(steps.filter { $0 == "2207" }.count, 0)
        let history = try await orchestrator.history(id).map(\.to)
        XCTAssertEqual(Array(history.suffix(2)), [.feeUploadCancel, .failed])
        let results = try await readTopic(cluster, "settlement.results", count: 1)
        try validate(results.map { $0.valueString! }, schema: "settlement-result.schema.json")
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// The first 2207 is processed but never answered: 2601 reverses it (naming its msgid), then a
    /// new 2207 settles. The responder holds exactly one settlement.
    func testSettlementTimeoutReversesThenRetries() async throws {
        try await unknownOutcome(first: .processSilently, reason: "timeout-2207")
    }

    /// infcode -1 on the first 2207: the same path.
    func testSystemErrorOnSettlementReversesThenRetries() async throws {
        try await unknownOutcome(first: .reply(infcode: -1, errMsg: "系统异常"), reason: "infcode-1-2207")
    }

    private func unknownOutcome(first: InsurerResponder.Action, reason: String) async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster) { step, _, round in step == "2207" && round == 1 ? first : .answer }
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory(), configuration: testConfiguration(stepTimeout: .seconds(1), maxAttempts: 10))
        let request = makeRequest("CB-UNK")
        let id = try await orchestrator.submit(request)
        let status = try await waitFor(orchestrator, id, .completed)
        XCTAssertEqual(status.result?.amount("fund_pay_sumamt"), InsurerResponder.shares(request.total).funds)
        let received = await responder.received
        let settlements = received.filter { $0.step == "2207" }.map(\.msgid)
        XCTAssertEqual(Set(settlements).count, 2, "a new msgid after the reversal")
        XCTAssertEqual(received.filter { $0.step == "2601" }.count, 1)
        let active = await responder.activeSettlements
        XCTAssertEqual(active, 1, "exactly one settlement in force")
        let history = try await orchestrator.history(id)
        XCTAssertTrue(history.contains { $0.to == .reversal && $0.reason == reason })
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// Every reply comes twice, and a stale 1101 reply is replayed late: the saga goes through each
    /// step once.
    func testDuplicateAndOutOfOrderRepliesAreIgnored() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster) { _, _, _ in .answerTwice }
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let id = try await orchestrator.submit(makeRequest("CB-DUPREPLY", commercial: true))
        try await waitFor(orchestrator, id, .completed)
        // Replay the 1101 reply after completion (out of order).
        let seen = await responder.received
        let lookup = try XCTUnwrap(seen.first { $0.step == "1101" })
        let producer = try KafkaProducer(config: testConfig(cluster))
        try await producer.send(KafkaProducerMessage(topic: "insurer.nhsa.replies", key: id, value: #"{"infcode":0,"output":{}}"#,
                                                     headers: [KafkaHeader(key: "medbus-correlation-id", string: lookup.msgid)]))
        await producer.shutdown()
        try await Task.sleep(for: .seconds(2))
        let status = try await orchestrator.status(id)
        XCTAssertEqual(status.state, .completed)
        let steps = await responder.received.map(\.step)
        XCTAssertEqual(steps.filter { $0 == "2207" }.count, 1)
        XCTAssertEqual(steps.filter { $0 == "claim" }.count, 1)
        let history = try await orchestrator.history(id).map(\.to)
        XCTAssertEqual(history.filter { $0 == .completed }.count, 1)
        let results = try await readTopic(cluster, "settlement.results", count: 1)
        XCTAssertEqual(results.count, 1)
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// The commercial insurer declines: the visit completes, the patient pays the share, and a
    /// claim valid against settlement-claim.schema.json is queued. Then the insurer is down
    /// (timeout): the same with reason `timeout`.
    func testCommercialDeclinedOrDownQueuesClaim() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster) { step, _, _ in step == "claim" ? .declineClaim("not covered") : .answer }
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory(),
                                                          configuration: testConfiguration(stepTimeout: .seconds(1), maxAttempts: 5))
        let request = makeRequest("CB-DECL", commercial: true)
        let id = try await orchestrator.submit(request)
        let status = try await waitFor(orchestrator, id, .completed)
        let shares = InsurerResponder.shares(request.total)
        XCTAssertEqual(status.result?.commercial?.status, .rejected)
        XCTAssertEqual(status.result?.commercial?.claimQueued, true)
        XCTAssertEqual(status.result?.patientPayable, shares.patient)

        await responder.setScript { step, _, _ in step == "claim" ? .drop : .answer }
        let downID = try await orchestrator.submit(makeRequest("CB-DOWN", commercial: true, seed: 9))
        let down = try await waitFor(orchestrator, downID, .completed)
        XCTAssertEqual(down.result?.commercial?.status, .pending)

        let claims = try await readTopic(cluster, "settlement.claims.\(insurer)", count: 2)
        XCTAssertEqual(claims.count, 2)
        try validate(claims.map { $0.valueString! }, schema: "settlement-claim.schema.json")
        let reasons = try claims.map { try JSONValue.parse($0.value!)["reason"]?.stringValue }
        XCTAssertEqual(Set(reasons.compactMap { $0 }), ["declined", "timeout"])
        XCTAssertEqual(try JSONValue.parse(claims[0].value!)["claimedAmount"]?.moneyValue != nil, true)
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// Claim requests and replies as sent are valid against their schemas.
    func testClaimRequestMatchesSchema() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster)
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let id = try await orchestrator.submit(makeRequest("CB-SCHEMA", commercial: true))
        try await waitFor(orchestrator, id, .completed)
        let requests = try await readTopic(cluster, "insurer.\(insurer).requests", count: 1)
        try validate(requests.map { $0.valueString! }, schema: "insurer-claim-request.schema.json")
        let replies = try await readTopic(cluster, "insurer.\(insurer).replies", count: 1)
        try validate(replies.map { $0.valueString! }, schema: "insurer-claim-reply.schema.json")
        task.cancel()
        _ = await task.result
        await responder.stop()
    }

    /// Cancel after completion: 2208 and the commercial reversal, then `cancelled`.
    func testCancelAfterCompletion() async throws {
        let cluster = try makeSettlementCluster()
        let responder = try makeResponder(cluster)
        let (orchestrator, task) = try startOrchestrator(cluster, directory: temporaryDirectory())
        let id = try await orchestrator.submit(makeRequest("CB-CANCEL", commercial: true))
        try await waitFor(orchestrator, id, .completed)
        do {
            let other = try await orchestrator.submit(makeRequest("CB-NOTYET"))
            _ = try? await orchestrator.cancel(other)
        }
        try await orchestrator.cancel(id)
        let status = try await waitFor(orchestrator, id, .cancelled)
        XCTAssertEqual(status.result?.status, .cancelled)
        XCTAssertEqual(status.result?.commercial?.status, .cancelled)
        let steps = await responder.received.map(\.step)
        XCTAssertEqual(steps.filter { $0 == "2208" }.count, 1)
        XCTAssertEqual(steps.filter { $0 == "reversal" }.count, 1)
        let claims = await responder.claims
        XCTAssertTrue(claims.isEmpty, "commercial claim reversed")
        let history = try await orchestrator.history(id).map(\.to)
        XCTAssertEqual(Array(history.suffix(3)), [.settlementCancel, .commercialReversal, .cancelled])
        // Cancelling again just reports the state.
        let again = try await orchestrator.cancel(id)
        XCTAssertEqual(again.state, .cancelled)
        task.cancel()
        _ = await task.result
        await responder.stop()
    }
}
