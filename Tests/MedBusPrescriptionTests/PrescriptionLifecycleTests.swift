import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusPrescription
import XCTest

/// The lifecycle over real HTTP, a real SQLite file and the embedded Kafka cluster: claims, reviews,
/// dispenses, refusals, expiry, revocation, repeats, Kafka commands and a restart between claim and dispense.
final class PrescriptionLifecycleTests: XCTestCase {
    /// 200 pharmacies claim one prescription at once: exactly one wins, 199 get 409 naming the winner.
    func testConcurrentClaimsHaveExactlyOneWinner() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-RACE"))
        let answers = try await withThrowingTaskGroup(of: (String, RxFixture.HTTPAnswer).self) { group in
            for index in 0..<200 {
                let pharmacy = String(format: "P%04d", index)
                group.addTask { (pharmacy, try await fixture.operation(id, "claim", .object(["pharmacyCode": .string(pharmacy)]))) }
            }
            var all: [(String, RxFixture.HTTPAnswer)] = []
            for try await answer in group { all.append(answer) }
            return all
        }
        let winners = answers.filter { $0.1.status == 200 }
        XCTAssertEqual(winners.count, 1)
        let winner = try XCTUnwrap(winners.first?.0)
        XCTAssertEqual(winners.first?.1.body["holder"]?.stringValue, winner)
        let losers = answers.filter { $0.1.status != 200 }
        XCTAssertEqual(losers.count, 199)
        for (_, answer) in losers {
            XCTAssertEqual(answer.status, 409)
            XCTAssertEqual(answer.contentType, "application/problem+json")
            XCTAssertEqual(answer.body["type"]?.stringValue, RxProblem.typeBase + "claimed-by-other")
            XCTAssertEqual(answer.body["holder"]?.stringValue, winner)
        }
        let events = try await fixture.events(id)
        XCTAssertEqual(events.map { $0["event"]?.stringValue }, ["issued", "claimed"])
        XCTAssertEqual(events[1]["pharmacyCode"]?.stringValue, winner)
    }

    /// Claim → review → dispense closes the prescription; a second dispense, a revoke after it, and a claim of
    /// it are refused; only the holder may act, and only after an approving review.
    func testDispenseClosesAndRefusalsAreSpecific() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-FLOW"))
        let claim = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P1")]))
        XCTAssertEqual(claim.body["status"]?.stringValue, "claimed")
        XCTAssertNotNil(claim.body["signature"]?["value"], "every answer carries the signature")

        let early = try await fixture.operation(id, "dispense", dispenseReport("P1"))
        XCTAssertEqual(early.body["type"]?.stringValue, RxProblem.typeBase + "review-required")
        let intruder = try await fixture.operation(id, "review", approval("P2"))
        XCTAssertEqual(intruder.body["type"]?.stringValue, RxProblem.typeBase + "not-claim-holder")
        XCTAssertEqual(intruder.body["holder"]?.stringValue, "P1")
        let review = try await fixture.operation(id, "review", approval("P1"))
        XCTAssertEqual(review.status, 200)
        var report = dispenseReport("P1")
        report = report.setting("fund_pay_sumamt", .string("60.005"))
        let subFen = try await fixture.operation(id, "dispense", report).body["type"]?.stringValue
        XCTAssertEqual(subFen, RxProblem.typeBase + "invalid-amount")
        let tooMuch = try await fixture.operation(id, "dispense", dispenseReport("P1", count: "7")).body["type"]?.stringValue
        XCTAssertEqual(tooMuch,
                       RxProblem.typeBase + "quantity-exceeds-prescription")

        let dispensed = try await fixture.operation(id, "dispense", dispenseReport("P1"))
        XCTAssertEqual(dispensed.status, 200, dispensed.body.jsonText)
        XCTAssertEqual(dispensed.body["status"]?.stringValue, "dispensed")
        XCTAssertEqual(dispensed.body["dispenses"]?.arrayValue?.first?["seltdelts"]?.arrayValue?.first?["sumamt"], .number("75.50"))
        XCTAssertNil(dispensed.body["holder"])

        let twice = try await fixture.operation(id, "dispense", dispenseReport("P1"))
        XCTAssertEqual(twice.status, 409)
        XCTAssertEqual(twice.body["type"]?.stringValue, RxProblem.typeBase + "already-dispensed")
        let revoke = try await fixture.operation(id, "revoke", .object(["reason": .string("doctor changed the order")]))
        XCTAssertEqual(revoke.body["type"]?.stringValue, RxProblem.typeBase + "already-dispensed")
        let reclaim = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P2")]))
        XCTAssertEqual(reclaim.body["type"]?.stringValue, RxProblem.typeBase + "already-dispensed")

        let events = try await fixture.events(id)
        XCTAssertEqual(events.map { $0["event"]?.stringValue }, ["issued", "claimed", "reviewed", "dispensed"])
        XCTAssertEqual(events.map { $0["eventId"]?.stringValue }, (1...4).map { "\(id)-\($0)" })
        XCTAssertEqual(events[3]["dispense"]?["seltdelts"]?.arrayValue?.first?["bchno"]?.stringValue, "B2401")
        let history = try await fixture.service.ledger.history(id: id)
        XCTAssertEqual(history.map(\.to), [.valid, .claimed, .reviewed, .dispensed])
    }

    /// After the validity ends a dispense is refused as expired (and the expiry is committed and published);
    /// after a revoke it is refused as revoked.
    func testDispenseAfterExpiryOrRevokeIsRefused() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let expiring = try await fixture.issue(prescriptionBody("CF-EXP", valiDays: 1))
        _ = try await fixture.operation(expiring, "claim", .object(["pharmacyCode": .string("P1")]))
        _ = try await fixture.operation(expiring, "review", approval("P1"))
        fixture.clock.advance(by: 86_400 + 1)
        let late = try await fixture.operation(expiring, "dispense", dispenseReport("P1"))
        XCTAssertEqual(late.status, 410)
        XCTAssertEqual(late.body["type"]?.stringValue, RxProblem.typeBase + "expired")
        let expiredStatus = try await fixture.service.ledger.record(.id(expiring))?.status
        XCTAssertEqual(expiredStatus, .expired)
        let lastEvent = try await fixture.events(expiring).last?["event"]?.stringValue
        XCTAssertEqual(lastEvent, "expired")

        let revoked = try await fixture.issue(prescriptionBody("CF-REV"))
        _ = try await fixture.operation(revoked, "claim", .object(["pharmacyCode": .string("P1")]))
        let revoke = try await fixture.operation(revoked, "revoke", .object(["reason": .string("wrong patient")]))
        XCTAssertEqual(revoke.body["status"]?.stringValue, "revoked")
        XCTAssertEqual(revoke.body["rxStasCodg"]?.stringValue, "3")
        let afterRevoke = try await fixture.operation(revoked, "dispense", dispenseReport("P1"))
        XCTAssertEqual(afterRevoke.status, 410)
        XCTAssertEqual(afterRevoke.body["type"]?.stringValue, RxProblem.typeBase + "revoked")
        let revokeReason = try await fixture.events(revoked).last?["reason"]?.stringValue
        XCTAssertEqual(revokeReason, "wrong patient")
    }

    /// The background sweeper expires a prescription when the (test) clock passes its validity end, lapses a
    /// claim whose lease ran out, and publishes both events.
    func testSweeperExpiresOnTimeAndLapsesClaims() async throws {
        let fixture = try await RxFixture(sweepIntervalMilliseconds: 50, claimLeaseMinutes: 10)
        defer { Task { await fixture.shutdown() } }
        let running = Task { try await fixture.service.run() }
        defer { running.cancel() }
        let expiring = try await fixture.issue(prescriptionBody("CF-SWEEP", valiDays: 1))
        let held = try await fixture.issue(prescriptionBody("CF-LEASE", valiDays: 2))
        _ = try await fixture.operation(held, "claim", .object(["pharmacyCode": .string("P1")]))

        fixture.clock.advance(by: 86_400 - 60)
        try await Task.sleep(for: .milliseconds(300))
        let beforeEnd = try await fixture.service.ledger.record(.id(expiring))?.status
        XCTAssertEqual(beforeEnd, .valid, "not before its end")
        fixture.clock.advance(by: 61)
        try await waitUntil("the expiry") { try await fixture.service.ledger.record(.id(expiring))?.status == .expired }
        try await waitUntil("the expired event on rx.events") {
            try await KafkaTopicReader.read(config: fixture.kafka, topic: RxTopics.events, since: fixture.startedAt.addingTimeInterval(-60))
                .contains { $0.keyString == expiring && $0.headers.string(MessageEnvelope.Header.messageType) == "rx.event.expired" }
        }
        let lapsedStatus = try await fixture.service.ledger.record(.id(held))?.status
        XCTAssertEqual(lapsedStatus, .valid, "the 10-minute lease lapsed long ago")
        let heldEvents = try await fixture.events(held).map { $0["event"]?.stringValue }
        XCTAssertEqual(heldEvents, ["issued", "claimed", "claim-lapsed"])
        let other = try await fixture.operation(held, "claim", .object(["pharmacyCode": .string("P2")]))
        XCTAssertEqual(other.body["holder"]?.stringValue, "P2")
    }

    /// A repeat prescription returns to valid after each dispense until its maximum count.
    func testRepeatPrescriptionDispensesUpToItsMaximum() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-REPEAT", repeats: 2))
        let first = try await fixture.claimReviewDispense(id, pharmacy: "P1")
        XCTAssertEqual(first.body["status"]?.stringValue, "valid")
        XCTAssertEqual(first.body["usedCount"], .int(1))
        let second = try await fixture.claimReviewDispense(id, pharmacy: "P2")
        XCTAssertEqual(second.body["status"]?.stringValue, "dispensed")
        XCTAssertEqual(second.body["usedCount"], .int(2))
        let third = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P3")]))
        XCTAssertEqual(third.body["type"]?.stringValue, RxProblem.typeBase + "already-dispensed")
    }

    /// The same operations as Kafka commands: results on rx.command-results keyed by command id; a command
    /// delivered twice gets the same result and changes nothing twice.
    func testKafkaCommandsAreIdempotentByCommandID() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let processor = RxCommandProcessor(service: fixture.service, kafka: fixture.kafka)
        let running = Task { try await processor.run() }
        defer { running.cancel() }
        let id = try await fixture.issue(prescriptionBody("CF-KAFKA"))
        let trace = try await fixture.service.ledger.record(.id(id))!.traceCode

        func send(_ command: JSONValue) async throws {
            _ = try await fixture.producer.send(KafkaProducerMessage(topic: RxTopics.commands, key: id, value: command.jsonText))
        }
        try await send(.object(["commandId": .string("c1"), "action": .string("claim"), "rxTraceCode": .string(trace), "pharmacyCode": .string("P1")]))
        try await send(.object(["commandId": .string("c1"), "action": .string("claim"), "rxTraceCode": .string(trace), "pharmacyCode": .string("P1")]))
        try await send(.object(["commandId": .string("c2"), "action": .string("claim"), "rxId": .string(id), "pharmacyCode": .string("P2")]))
        try await send(.object(["commandId": .string("c3"), "action": .string("lookup"), "rxId": .string(id)]))
        try await send(.object(["commandId": .string("c4"), "action": .string("dispense"), "rxId": .string(id), "pharmacyCode": .string("P1")]))
        var results: [String: [JSONValue]] = [:]
        try await waitUntil("five results") {
            results = [:]
            for record in try await fixture.records(RxTopics.commandResults) {
                results[record.keyString ?? "", default: []].append(try JSONValue.parse(record.value ?? []))
            }
            return results.values.reduce(0) { $0 + $1.count } >= 5
        }
        XCTAssertEqual(results["c1"]?.count, 2)
        XCTAssertEqual(results["c1"]?[0], results["c1"]?[1], "the same result again")
        XCTAssertEqual(results["c1"]?[0]["status"], .int(200))
        XCTAssertEqual(results["c1"]?[0]["result"]?["holder"]?.stringValue, "P1")
        XCTAssertEqual(results["c2"]?[0]["status"], .int(409))
        XCTAssertEqual(results["c2"]?[0]["problem"]?["holder"]?.stringValue, "P1")
        XCTAssertEqual(results["c3"]?[0]["result"]?["status"]?.stringValue, "claimed")
        XCTAssertEqual(results["c4"]?[0]["problem"]?["type"]?.stringValue, RxProblem.typeBase + "missing-field")
        let kafkaEvents = try await fixture.events(id).map { $0["event"]?.stringValue }
        XCTAssertEqual(kafkaEvents, ["issued", "claimed"])
    }

    /// The store closed between claim and dispense without publishing (what a crash leaves): after reopening,
    /// the state is the committed one, the claim's event is published, and the holder finishes.
    func testReopenBetweenClaimAndDispenseKeepsCommittedState() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-CRASH"))
        try await fixture.service.publishPending()
        _ = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P1")]))
        _ = try await fixture.operation(id, "review", approval("P1"))
        try await fixture.reopen()

        let restored = try await fixture.service.ledger.record(.id(id))
        let record = try XCTUnwrap(restored)
        XCTAssertEqual(record.status, .reviewed)
        XCTAssertEqual(record.holder, "P1")
        XCTAssertEqual(record.version, 3)
        let other = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P2")]))
        XCTAssertEqual(other.body["holder"]?.stringValue, "P1")
        let dispensed = try await fixture.operation(id, "dispense", dispenseReport("P1"))
        XCTAssertEqual(dispensed.body["status"]?.stringValue, "dispensed")
        let allEvents = try await fixture.events(id).map { $0["event"]?.stringValue }
        XCTAssertEqual(allEvents, ["issued", "claimed", "reviewed", "dispensed"])
    }

    /// An HTTP retry with the same Idempotency-Key gets the first answer, not a refusal of the second attempt.
    func testIdempotencyKeyReplaysTheFirstAnswer() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-IDEM"))
        _ = try await fixture.operation(id, "claim", .object(["pharmacyCode": .string("P1")]))
        _ = try await fixture.operation(id, "review", approval("P1"))
        let first = try await fixture.operation(id, "dispense", dispenseReport("P1"), headers: ["Idempotency-Key": "sale-1"])
        let retry = try await fixture.operation(id, "dispense", dispenseReport("P1"), headers: ["Idempotency-Key": "sale-1"])
        XCTAssertEqual(first.status, 200)
        XCTAssertEqual(retry.status, 200)
        XCTAssertEqual(retry.body, first.body)
        let fresh = try await fixture.operation(id, "dispense", dispenseReport("P1"), headers: ["Idempotency-Key": "sale-2"])
        XCTAssertEqual(fresh.body["type"]?.stringValue, RxProblem.typeBase + "already-dispensed")
    }
}
