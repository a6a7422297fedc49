import Foundation
import MedBusAdapterSDK
import MedBusAdmin
import MedBusCore
import MedBusKafka
import MedBusRouting
import MedBusStore
import XCTest

/// After real traffic — adapters' durable ingest, the routing core's transactions, a lagging
/// consumer, a dead-letter listing — `/metrics` shows non-zero counters, histogram buckets and lag,
/// in valid Prometheus text exposition with MedBus naming conventions.
final class AdminMetricsTests: XCTestCase {
    func testMetricsAfterTraffic() async throws {
        let fixture = try await AdminFixture()  // its server bootstraps the metrics backend
        try fixture.cluster.createTopic("canonical.admintest", partitions: 2, replicationFactor: 1)

        // Ingest: 20 published, 1 retransmission, 1 rejected.
        let producer = try KafkaProducer(config: fixture.kafka)
        let ingest = DurableIngest(store: fixture.store, producer: producer)
        for i in 0..<20 {
            let outcome = await ingest.ingest(inbound(i))
            guard case .accepted = outcome else { return XCTFail("message \(i): \(outcome)") }
        }
        guard case .duplicate = await ingest.ingest(inbound(3)) else { return XCTFail("retransmission not recognised") }
        await ingest.recordRejection(envelope: inbound(99).envelope, payload: Array("garbage".utf8), reason: "not HL7")

        // Routing: every 5th record dead-lettered, the others to canonical.admintest.
        let core = RoutingCore(configuration: RoutingConfiguration(kafka: fixture.kafka, groupID: "router-metrics", inputTopics: [AdminFixture.rawTopic],
                                                                   transactionalID: "router-metrics-\(UUID().uuidString.prefix(6))", parallelism: 2),
                               router: FifthDeadRouter())
        let routing = Task { try await core.run() }
        let deadline = ContinuousClock.now + .seconds(60)
        while await core.statistics.consumed < 20, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(50)) }
        let stats = await core.statistics
        XCTAssertEqual(stats.consumed, 20)
        await core.stop()
        _ = try? await routing.value

        // A consumer that takes one record and stops: the rest is its lag.
        let lagging = try KafkaConsumer(config: fixture.kafka, groupID: "lag-probe", topics: ["canonical.admintest"], bufferCapacity: 1)
        _ = try await lagging.nextBatch(maxCount: 1, within: .seconds(30))
        try await Task.sleep(for: .milliseconds(300))

        // The registry is per process: other tests' requests count too, so compare before and after.
        let route = ["route": "/v1/dlq", "method": "GET", "status": "200"]
        let before = try parseExposition(try await fixture.client(.viewer).send("GET", "metrics").text)
            .first { $0.name == "medbus_admin_requests_total" && $0.labels == route }?.value ?? 0
        let letters = try await fixture.client(.viewer).send("GET", "v1/dlq")
        XCTAssertEqual(letters.status, 200, letters.text)

        let reply = try await fixture.client(.viewer).send("GET", "metrics")
        await lagging.close()
        await producer.shutdown()
        XCTAssertEqual(reply.status, 200)
        XCTAssertEqual(reply.contentType, "text/plain; version=0.0.4; charset=utf-8")
        let samples = try parseExposition(reply.text)

        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
            samples.first { sample in sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value } }?.value
        }
        let source = "his.admintest"
        XCTAssertEqual(value("medbus_ingest_messages_total", ["source": source, "outcome": "published", "topic": AdminFixture.rawTopic]), 20)
        XCTAssertEqual(value("medbus_ingest_messages_total", ["source": source, "outcome": "duplicate"]), 1)
        XCTAssertEqual(value("medbus_ingest_messages_total", ["source": source, "outcome": "rejected"]), 1)
        XCTAssertEqual(value("medbus_ingest_ack_seconds_count", ["source": source]), 21)
        XCTAssertEqual(value("medbus_ingest_ack_seconds_bucket", ["source": source, "le": "+Inf"]), 21)
        XCTAssertGreaterThan(value("medbus_ingest_ack_seconds_sum", ["source": source]) ?? 0, 0)
        let buckets = samples.filter { $0.name == "medbus_ingest_ack_seconds_bucket" && $0.labels["source"] == source }
        XCTAssertGreaterThanOrEqual(buckets.count, 10, "latency buckets")
        XCTAssertEqual(buckets.map(\.value), buckets.map(\.value).sorted(), "buckets are cumulative")

        XCTAssertGreaterThanOrEqual(value("medbus_kafka_produced_messages_total", ["topic": AdminFixture.rawTopic]) ?? 0, 20)
        XCTAssertEqual(value("medbus_routing_records_consumed_total", ["topic": AdminFixture.rawTopic]), 20)
        XCTAssertEqual(value("medbus_routing_records_routed_total", ["mapping": "adt", "topic": "canonical.admintest"]), 16)
        XCTAssertEqual(value("medbus_routing_dead_letters_total", ["mapping": "adt", "reason": "every-fifth"]), 4)
        XCTAssertGreaterThan(value("medbus_routing_batch_seconds_count") ?? 0, 0)
        XCTAssertGreaterThan(value("medbus_routing_transactions_total", ["outcome": "committed"]) ?? 0, 0)

        let lag = samples.filter { $0.name == "medbus_kafka_consumer_lag" && $0.labels["group"] == "lag-probe" }
        XCTAssertFalse(lag.isEmpty, "lag of the probe group")
        XCTAssertGreaterThan(lag.map(\.value).reduce(0, +), 0, "the probe read one record of 16: it lags")
        XCTAssertNotNil(value("medbus_kafka_consumer_lag", ["group": "router-metrics", "topic": AdminFixture.rawTopic]), "the router's lag")

        XCTAssertEqual(value("medbus_dlq_depth", ["topic": "dlq.routing"]), 4)
        XCTAssertEqual(value("medbus_admin_requests_total", route), before + 1)
        await fixture.shutdown()
    }

    private func inbound(_ i: Int) -> DurableIngest.Inbound {
        DurableIngest.Inbound(
            envelope: MessageEnvelope(id: "metrics-\(i)", source: "his.admintest", sourceMessageId: "CTRL\(i)", messageType: "ADT^A01", contentType: "x-application/hl7-v2+er7"),
            topic: AdminFixture.rawTopic, key: "patient-\(i % 4)", payload: Array("MSH|^~\\&|\(i)".utf8))
    }
}

/// Routes to canonical.admintest as mapping `adt`, every fifth message id to the dead-letter topic.
struct FifthDeadRouter: MessageRouter {
    var version: String { "adt@1" }
    var targetTopics: Set<String> { ["canonical.admintest"] }
    func route(_ message: KafkaConsumerMessage) -> RouteDecision {
        let id = message.headers.string(MessageEnvelope.Header.id) ?? ""
        if let n = Int(id.split(separator: "-").last ?? ""), n % 5 == 0 {
            return .deadLetter(DeadLetter(reason: "every-fifth", mapping: "adt", version: "1", message: "test"))
        }
        return .route([RoutedRecord(topic: "canonical.admintest", key: message.key, value: message.value ?? [],
                                    headers: [KafkaHeader(key: RoutingHeader.mappingVersion, string: "adt@1")])])
    }
}

struct Sample {
    var name: String
    var labels: [String: String]
    var value: Double
}

/// Parses Prometheus text exposition 0.0.4 strictly: every line a `# HELP`/`# TYPE` comment or a
/// sample with a valid name, valid label names, quoted values and a number; MedBus conventions on top.
func parseExposition(_ text: String, file: StaticString = #filePath, line: UInt = #line) throws -> [Sample] {
    let metricName = try Regex("^[a-zA-Z_:][a-zA-Z0-9_:]*$")
    let sampleLine = try Regex(#"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*")*\})? (-?[0-9.eE+-]+|NaN|\+Inf|-Inf)$"#)
    let labelPair = try Regex(#"([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\.)*)""#)
    var types: [String: String] = [:]
    var samples: [Sample] = []
    for raw in text.split(separator: "\n") {
        let text = String(raw)
        if text.hasPrefix("# TYPE ") {
            let parts = text.split(separator: " ")
            XCTAssertEqual(parts.count, 4, text, file: file, line: line)
            XCTAssertNotNil(try metricName.wholeMatch(in: String(parts[2])), text, file: file, line: line)
            XCTAssertTrue(["counter", "gauge", "histogram", "summary", "untyped"].contains(String(parts[3])), text, file: file, line: line)
            types[String(parts[2])] = String(parts[3])
            continue
        }
        if text.hasPrefix("#") { continue }
        guard let match = try sampleLine.wholeMatch(in: text) else {
            XCTFail("not a valid exposition line: \(text)", file: file, line: line)
            continue
        }
        let name = String(match.output[1].substring!)
        var labels: [String: String] = [:]
        if let block = match.output[2].substring {
            for pair in block.matches(of: labelPair) { labels[String(pair.output[1].substring!)] = String(pair.output[2].substring!) }
        }
        samples.append(Sample(name: name, labels: labels, value: Double(String(match.output[match.output.count - 1].substring!)) ?? .nan))
    }
    for (name, type) in types {
        XCTAssertTrue(name.hasPrefix("medbus_"), "\(name): MedBus metrics start with medbus_", file: file, line: line)
        XCTAssertEqual(name, name.lowercased(), "\(name): snake_case", file: file, line: line)
        if type == "counter" { XCTAssertTrue(name.hasSuffix("_total"), "\(name): counters end in _total", file: file, line: line) }
        if type == "histogram" { XCTAssertTrue(name.hasSuffix("_seconds"), "\(name): latency histograms in seconds", file: file, line: line) }
    }
    XCTAssertFalse(samples.isEmpty, file: file, line: line)
    return samples
}
