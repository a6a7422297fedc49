import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusRouting
import XCTest

/// A fresh embedded cluster per test, so tests never see each other's records.
func makeCluster() throws -> EmbeddedKafkaCluster {
    try EmbeddedKafkaCluster(brokers: 3)
}

/// A unique name, so group ids and topics never collide between tests.
func unique(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8).lowercased())"
}

/// Client settings for tests: the mock's group join takes ~3 s; a short session keeps
/// rebalances after a member leaves short too.
func testConfig(_ cluster: EmbeddedKafkaCluster) -> KafkaConfig {
    KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
}

/// Envelope headers as an adapter writes them.
func envelope(_ index: Int) -> [KafkaHeader] {
    MessageEnvelope(id: "msg-\(index)", source: "his.h1", messageType: "ADT^A01", contentType: "x-application/hl7-v2+er7",
                    correlationId: "corr-\(index)", traceParent: "00-\(String(repeating: "a", count: 32))-\(String(repeating: "b", count: 16))-01").headers
}

/// Produces records (and waits for their acknowledgement).
func seed(_ config: KafkaConfig, _ messages: [KafkaProducerMessage]) async throws {
    let producer = try KafkaProducer(config: config)
    let reports = try await producer.sendBatch(messages)
    await producer.shutdown()
    XCTAssertEqual(reports.compactMap(\.error).count, 0, "seeding failed")
}

/// `key-<i % keys>` / `value`: the records adapters would write to a raw topic.
func rawRecords(topic: String, range: Range<Int>, keys: Int = 16, value: (Int) -> String = { "record-\($0)" }) -> [KafkaProducerMessage] {
    range.map { KafkaProducerMessage(topic: topic, key: "key-\($0 % keys)", value: value($0), headers: envelope($0)) }
}

/// Reads every record of `topics` with a read_committed group consumer: `count` records, then
/// a quiet period, so duplicates beyond `count` are caught too.
func readAll(_ config: KafkaConfig, topics: [String], count: Int, timeout: Duration = .seconds(60), quiet: Duration = .seconds(2)) async throws -> [KafkaConsumerMessage] {
    let consumer = try KafkaConsumer(config: config, groupID: unique("verify"), topics: topics)
    defer { Task { await consumer.close() } }
    var records = try await take(consumer, count: count, timeout: timeout)
    records += try await take(consumer, count: Int.max, timeout: quiet)
    await consumer.close()
    return records
}

/// Takes records until `count` or `timeout`, never dropping one a cancelled wait already took.
func take(_ consumer: KafkaConsumer, count: Int, timeout: Duration) async throws -> [KafkaConsumerMessage] {
    let deadline = ContinuousClock.now + timeout
    var received: [KafkaConsumerMessage] = []
    while received.count < count, ContinuousClock.now < deadline {
        let remaining = deadline - .now
        received += try await consumer.nextBatch(maxCount: 5000, within: min(remaining, .seconds(1)))
    }
    return received
}

/// Waits until the core's statistics satisfy `condition`.
@discardableResult
func waitFor(_ core: RoutingCore, timeout: Duration = .seconds(60), _ what: String, _ condition: @Sendable (RoutingStatistics) -> Bool) async throws -> RoutingStatistics {
    let deadline = ContinuousClock.now + timeout
    while true {
        let stats = await core.statistics
        if condition(stats) { return stats }
        guard ContinuousClock.now < deadline else {
            XCTFail("timed out waiting for \(what); statistics: \(stats)")
            return stats
        }
        try await Task.sleep(for: .milliseconds(10))
    }
}

/// Stops the core and returns how `run()` ended.
func stop(_ core: RoutingCore, _ running: Task<Void, Error>) async -> Error? {
    await core.stop()
    do {
        try await running.value
        return nil
    } catch {
        return error
    }
}

/// Source position and index of an output, from the headers the core stamps.
func outputID(_ record: KafkaConsumerMessage) -> OutputID? {
    OutputID(headers: record.headers, topic: record.topic)
}

/// Copies each input to `target` (same key and value); `bad…` values are dead-lettered,
/// `skip…` values filtered, `two…` values give two outputs.
struct CopyRouter: MessageRouter {
    var version: String
    var target: String
    var targetTopics: Set<String> { [target] }

    func route(_ message: KafkaConsumerMessage) -> RouteDecision {
        let text = message.valueString ?? ""
        if text.hasPrefix("bad") {
            return .deadLetter(DeadLetter(reason: "missing-code", mapping: "adt-patient-encounter", rule: "PV1-3", message: "location code missing"))
        }
        if text.hasPrefix("skip") { return .skip }
        let output = RoutedRecord(topic: target, key: message.key, value: message.value ?? [])
        if text.hasPrefix("two") {
            return .route([output, RoutedRecord(topic: target, key: message.key, value: Array("second-\(text)".utf8), headers: [KafkaHeader(key: "medbus-message-type", string: "derived")])])
        }
        return .route([output])
    }
}
