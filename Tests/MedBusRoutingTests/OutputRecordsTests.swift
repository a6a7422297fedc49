import MedBusCore
@testable import MedBusKafka
@testable import MedBusRouting
import XCTest

/// Headers of routed and dead-lettered records, without Kafka.
final class OutputRecordsTests: XCTestCase {
    let input = KafkaConsumerMessage(topic: "raw.his.h1", partition: 2, offset: 41, key: Array("p-1".utf8), value: Array("MSH|...".utf8),
                                     headers: envelope(7) + [KafkaHeader(key: "x-vendor", string: "v")], timestampMilliseconds: nil)

    func testRoutedRecordsInheritEnvelopeAndCarryVersionAndSource() {
        let own = RoutedRecord(topic: "canonical.patient", key: Array("p-1".utf8), value: Array("{}".utf8),
                               headers: [KafkaHeader(key: "medbus-message-type", string: "patient"), KafkaHeader(key: "medbus-source-offset", string: "forged")])
        let versioned = RoutedRecord(topic: "canonical.encounter", key: nil, value: [], headers: [KafkaHeader(key: "medbus-mapping-version", string: "own@9")])
        let outputs = OutputRecords.plan(for: input, decision: .route([own, versioned]), version: "adt@3", deadLetterTopic: "dlq.routing", now: "t")
        XCTAssertEqual(outputs.count, 2)
        let first = outputs[0].message.headers
        XCTAssertEqual(first.string("medbus-message-type"), "patient", "the router's header wins")
        XCTAssertEqual(first.filter { $0.key == "medbus-message-type" }.count, 1)
        for name in ["medbus-message-id", "medbus-source", "medbus-correlation-id", "traceparent", "medbus-received-at"] {
            XCTAssertEqual(first.string(name), input.headers.string(name), name)
        }
        XCTAssertNil(first.string("content-type"), "the payload's type changes with the mapping")
        XCTAssertNil(first.string("x-vendor"))
        XCTAssertEqual(first.string("medbus-mapping-version"), "adt@3")
        XCTAssertEqual(first.string("medbus-source-topic"), "raw.his.h1")
        XCTAssertEqual(first.string("medbus-source-partition"), "2")
        XCTAssertEqual(first.filter { $0.key == "medbus-source-offset" }.map(\.stringValue), ["41"], "positions are the core's own")
        XCTAssertEqual(first.string("medbus-output-index"), "0")
        XCTAssertEqual(outputs[1].message.headers.string("medbus-mapping-version"), "own@9")
        XCTAssertEqual(outputs[1].message.headers.string("medbus-output-index"), "1")
        XCTAssertEqual(outputs.map(\.id), [
            OutputID(source: InputPartition(topic: "raw.his.h1", partition: 2), sourceOffset: 41, topic: "canonical.patient", index: 0),
            OutputID(source: InputPartition(topic: "raw.his.h1", partition: 2), sourceOffset: 41, topic: "canonical.encounter", index: 1),
        ])
        XCTAssertEqual(outputs.compactMap { OutputID(headers: $0.message.headers, topic: $0.message.topic) }, outputs.map(\.id))
    }

    func testDeadLetterKeepsTheOriginalRecordAndAddsTheReason() {
        let letter = DeadLetter(reason: "missing-code", mapping: "adt-patient-encounter", rule: "PV1-3", message: "location code missing")
        let outputs = OutputRecords.plan(for: input, decision: .deadLetter(letter), version: "adt@3", deadLetterTopic: "dlq.routing", now: "2026-01-01T00:00:00.000Z")
        XCTAssertEqual(outputs.count, 1)
        let record = outputs[0].message
        XCTAssertEqual(record.topic, "dlq.routing")
        XCTAssertEqual(record.key, input.key)
        XCTAssertEqual(record.value, input.value)
        XCTAssertEqual(Array(record.headers.prefix(input.headers.count)), input.headers, "original headers first, unchanged")
        XCTAssertEqual(record.headers.string("medbus-error-reason"), "missing-code")
        XCTAssertEqual(record.headers.string("medbus-error-mapping"), "adt-patient-encounter")
        XCTAssertEqual(record.headers.string("medbus-error-mapping-version"), "adt@3")
        XCTAssertEqual(record.headers.string("medbus-error-rule"), "PV1-3")
        XCTAssertEqual(record.headers.string("medbus-error-message"), "location code missing")
        XCTAssertEqual(record.headers.string("medbus-source-offset"), "41")
        XCTAssertEqual(record.headers.string("medbus-dead-lettered-at"), "2026-01-01T00:00:00.000Z")
        XCTAssertEqual(outputs[0].kind, .deadLetter)
    }

    func testSkipProducesNothingAndTombstonesAreDeadLettered() {
        XCTAssertTrue(OutputRecords.plan(for: input, decision: .skip, version: "v", deadLetterTopic: "dlq", now: "t").isEmpty)
        var tombstone = input
        tombstone.value = nil
        let router = CopyRouter(version: "v", target: "out")
        guard case .deadLetter(let letter) = ParallelRouting.decide(tombstone, router) else { return XCTFail("tombstone routed") }
        XCTAssertEqual(letter.reason, "empty-record")
    }
}

/// Parallel routing returns decisions in input order, whatever task routed which record.
final class ParallelRoutingTests: XCTestCase {
    struct IndexRouter: MessageRouter {
        let version = "v"
        var targetTopics: Set<String> { ["out"] }
        func route(_ message: KafkaConsumerMessage) -> RouteDecision {
            .route([RoutedRecord(topic: "out", key: nil, value: Array(String(message.offset).utf8))])
        }
    }

    func testDecisionsKeepInputOrder() async {
        for count in [0, 1, 63, 64, 129, 1000, 1001] {
            let batch = (0..<count).map { KafkaConsumerMessage(topic: "in", partition: Int32($0 % 3), offset: Int64($0), key: nil, value: [1], headers: [], timestampMilliseconds: nil) }
            let decisions = await ParallelRouting.route(batch, with: IndexRouter(), parallelism: 4)
            let offsets = decisions.map { decision -> Int in
                guard case .route(let records) = decision else { return -1 }
                return Int(String(decoding: records[0].value, as: UTF8.self))!
            }
            XCTAssertEqual(offsets, Array(0..<count), "batch of \(count)")
        }
    }
}
