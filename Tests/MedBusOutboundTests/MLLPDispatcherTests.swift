import Logging
import MedBusKafka
@testable import MedBusOutbound
import XCTest

/// The dispatcher end to end: embedded Kafka → lanes → MLLP over real sockets → scripted receiver.
final class MLLPDispatcherTests: XCTestCase {
    func testFaultyReceiverGetsEveryMessageOnceInKeyOrder() async throws {
        let fixture = try OutboundFixture(partitions: 4)
        let (records, expected) = adtRecords(topic: fixture.topic, count: 300, keys: 24)
        try await fixture.produce(records)
        // Per receipt: ~10 % AE, ~5 % no answer, ~5 % dropped connection; half of the silent and
        // dropped ones were processed anyway (lost ACK), so their resend must be deduplicated.
        let seed: UInt64 = 20_250_101
        let receiver = try TestMLLPReceiver { id, seen in
            let u = seededUnit(seed, id, seen)
            let coin = seededUnit(seed &+ 1, id, seen) < 0.5
            switch u {
            case ..<0.10: return .error
            case ..<0.15: return .silent(process: coin)
            case ..<0.20: return coin ? .dropAfterReading(process: true) : .dropBeforeReading
            default: return .accept
            }
        }
        defer { receiver.stop() }
        let transport = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: DeliveryPolicy.fastTest.attemptTimeout)
        let dispatcher = fixture.dispatcher(transport: transport)
        let running = RunningDispatcher(dispatcher)

        let done = await eventually(timeout: .seconds(120)) { dispatcher.statistics.delivered == 300 }
        try await running.stop()
        XCTAssertTrue(done, "delivered \(dispatcher.statistics.delivered) of 300; receiver accepted \(receiver.accepted.count)")

        XCTAssertEqual(receiver.accepted.count, 300, "every message accepted")
        XCTAssertEqual(Set(receiver.accepted).count, 300, "each exactly once")
        XCTAssertEqual(receiver.acceptedSequences, expected, "per key, accepted in topic order")
        let stats = dispatcher.statistics
        XCTAssertEqual(stats.deadLettered, 0)
        XCTAssertGreaterThan(stats.retried, 30, "faults were injected: \(receiver.actionCounts)")
        XCTAssertGreaterThan(receiver.duplicates, 0, "lost ACKs led to resends the receiver deduplicated")
        print("faults: \(receiver.actionCounts), retried \(stats.retried), duplicates \(receiver.duplicates), connections \(receiver.connections)")
    }

    func testRejectedAndExhaustedMessagesAreDeadLetteredAndTheStreamContinues() async throws {
        let fixture = try OutboundFixture(partitions: 2)
        let (records, expected) = adtRecords(topic: fixture.topic, count: 30, keys: 3)
        try await fixture.produce(records)
        let receiver = try TestMLLPReceiver { id, _ in
            switch id {
            case "M00007": .reject
            case "M00012": .error
            default: .accept
            }
        }
        defer { receiver.stop() }
        let logs = CapturingLogHandler.Store()
        var logger = Logger(label: "capture") { _ in CapturingLogHandler(store: logs) }
        logger.logLevel = .trace
        let policy = DeliveryPolicy(maxAttempts: 3, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(50), attemptTimeout: .seconds(2))
        let dispatcher = OutboundDispatcher(
            kafka: fixture.kafka, topic: fixture.topic, groupID: fixture.group,
            transport: MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: policy.attemptTimeout),
            policy: policy, destinationName: "ed-his-test", logger: logger)
        let running = RunningDispatcher(dispatcher)
        let done = await eventually { dispatcher.statistics.delivered == 28 && dispatcher.statistics.deadLettered == 2 }
        try await running.stop()
        XCTAssertTrue(done, "\(dispatcher.statistics)")

        // The stream went on past both: everything else accepted, in order per key.
        var expectedAccepted = expected
        expectedAccepted["P1"]?.removeAll { $0 == 2 }   // M00007 is P1's third message
        expectedAccepted["P0"]?.removeAll { $0 == 4 }   // M00012 is P0's fifth message
        XCTAssertEqual(receiver.acceptedSequences, expectedAccepted)
        XCTAssertEqual(dispatcher.statistics.retried, 2, "AE was retried up to maxAttempts, AR never")

        let letters = try await fixture.read(fixture.deadLetterTopic, count: 2)
        XCTAssertEqual(letters.count, 2)
        let byID = Dictionary(uniqueKeysWithValues: letters.map { ($0.header("medbus-message-id") ?? "", $0) })
        let rejected = try XCTUnwrap(byID["id-M00007"])
        XCTAssertEqual(rejected.header("medbus-error-reason"), "rejected:AR")
        XCTAssertEqual(rejected.header("medbus-attempts"), "1")
        XCTAssertEqual(rejected.header("medbus-destination"), "ed-his-test")
        XCTAssertEqual(rejected.header("medbus-original-topic"), fixture.topic)
        XCTAssertEqual(rejected.keyString, "P1", "dead letters keep the original key")
        XCTAssertEqual(rejected.valueString, adtMessage(controlID: "M00007", patient: "P1", sequence: 2), "and the original value")
        XCTAssertEqual(rejected.header("content-type"), "x-application/hl7-v2+er7; charset=utf-8", "and the original headers")
        XCTAssertTrue(rejected.header("medbus-error-message")?.contains("AR") ?? false)
        let exhausted = try XCTUnwrap(byID["id-M00012"])
        XCTAssertEqual(exhausted.header("medbus-error-reason"), "max-attempts:rejected:AE")
        XCTAssertEqual(exhausted.header("medbus-attempts"), "3")

        // Logs name partitions, offsets and reasons, never payload content.
        let lines = logs.all
        XCTAssertTrue(lines.contains { $0.contains("dead-lettered") && $0.contains("reason=rejected:AR") && $0.contains("offset=") }, "\(lines.suffix(5))")
        for line in lines {
            XCTAssertFalse(line.contains("ZHANG") || line.contains("19800101") || line.contains("PID|"), "payload in log: \(line)")
        }
    }

    func testReceiverDownAtStartGetsEverythingOnceItIsUp() async throws {
        let fixture = try OutboundFixture(partitions: 3)
        let (records, expected) = adtRecords(topic: fixture.topic, count: 60, keys: 6)
        try await fixture.produce(records)
        let port = try SocketServer.freePort()
        let policy = DeliveryPolicy(maxAttempts: 40, initialBackoff: .milliseconds(50), maxBackoff: .milliseconds(400), attemptTimeout: .seconds(1))
        let dispatcher = fixture.dispatcher(transport: MLLPDestination(host: "127.0.0.1", port: port, timeout: policy.attemptTimeout), policy: policy)
        let running = RunningDispatcher(dispatcher)
        // Down from the first attempt on (the group join takes a few seconds), then 3 s more.
        let failing = await eventually { dispatcher.statistics.retried > 0 }
        XCTAssertTrue(failing)
        try await Task.sleep(for: .seconds(3))
        XCTAssertEqual(dispatcher.statistics.delivered, 0)
        let receiver = try TestMLLPReceiver(port: port)
        defer { receiver.stop() }
        let done = await eventually { dispatcher.statistics.delivered == 60 }
        try await running.stop()
        XCTAssertTrue(done, "\(dispatcher.statistics)")
        XCTAssertEqual(receiver.acceptedSequences, expected)
        XCTAssertEqual(dispatcher.statistics.deadLettered, 0)
        XCTAssertGreaterThan(dispatcher.statistics.retried, 0, "attempts failed while the receiver was down")
    }

    func testRestartInTheSameGroupLosesNothingAndKeepsKeyOrder() async throws {
        let fixture = try OutboundFixture(partitions: 4)
        let (records, expected) = adtRecords(topic: fixture.topic, count: 200, keys: 16)
        try await fixture.produce(records)
        let receiver = try TestMLLPReceiver(latency: 0.004)
        defer { receiver.stop() }
        let transport = MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(2))

        let first = fixture.dispatcher(transport: transport)
        let running = RunningDispatcher(first)
        let midway = await eventually { receiver.accepted.count >= 60 }
        XCTAssertTrue(midway)
        try await running.stop()
        let afterFirst = receiver.accepted.count
        XCTAssertLessThan(afterFirst, 200, "stopped mid-stream")

        let second = fixture.dispatcher(transport: transport)
        let rerun = RunningDispatcher(second)
        let done = await eventually { receiver.accepted.count == 200 }
        try await rerun.stop()
        XCTAssertTrue(done, "accepted \(receiver.accepted.count)")
        XCTAssertEqual(Set(receiver.accepted).count, 200)
        XCTAssertEqual(receiver.acceptedSequences, expected, "per-key order across the restart")
        XCTAssertLessThanOrEqual(receiver.duplicates, 4, "at most the record in flight per partition is sent again")
        XCTAssertEqual(first.statistics.delivered + second.statistics.delivered - receiver.duplicates, 200)
        print("restart: first delivered \(first.statistics.delivered), second \(second.statistics.delivered), duplicates \(receiver.duplicates)")
    }

    func testTwoDispatchersInOneGroupShareTheTopicAndKeepKeyOrder() async throws {
        let fixture = try OutboundFixture(partitions: 4)
        let (records, expected) = adtRecords(topic: fixture.topic, count: 200, keys: 16)
        let receiver = try TestMLLPReceiver(latency: 0.002)
        defer { receiver.stop() }
        let first = fixture.dispatcher(transport: MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(2)))
        let second = fixture.dispatcher(transport: MLLPDestination(host: "127.0.0.1", port: receiver.port, timeout: .seconds(2)))
        let runningFirst = RunningDispatcher(first)
        try await fixture.produce(Array(records[..<100]))
        _ = await eventually { receiver.accepted.count >= 20 }
        // The second member joins mid-stream: the group rebalances partitions between them.
        let runningSecond = RunningDispatcher(second)
        try await fixture.produce(Array(records[100...]))
        let done = await eventually(timeout: .seconds(90)) { receiver.accepted.count == 200 }
        try await runningFirst.stop()
        try await runningSecond.stop()
        XCTAssertTrue(done, "accepted \(receiver.accepted.count)")
        XCTAssertEqual(receiver.acceptedSequences, expected, "per-key order across the rebalance")
        print("scale-out: first \(first.statistics.delivered), second \(second.statistics.delivered), duplicates \(receiver.duplicates)")
    }
}
