import Foundation
import Logging
import MedBusKafka
@testable import MedBusOutbound
import XCTest

/// An embedded cluster with the source topic and the dead-letter topic, and helpers to fill the
/// one and read the other.
final class OutboundFixture: @unchecked Sendable {
    let cluster: EmbeddedKafkaCluster
    let topic: String
    let deadLetterTopic = "dlq.outbound"
    let group: String
    /// The mock coordinator waits out a departed member's session before the next join: keep
    /// sessions short so a restarted dispatcher rejoins in seconds.
    var kafka: KafkaConfig {
        KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"])
    }

    init(partitions: Int = 4) throws {
        cluster = try EmbeddedKafkaCluster(brokers: 1)
        topic = "dispatch.prearrival.t\(UUID().uuidString.prefix(6).lowercased())"
        group = "medbus-out.test-\(UUID().uuidString.prefix(6))"
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        try cluster.createTopic(deadLetterTopic, partitions: 2, replicationFactor: 1)
    }

    func produce(_ messages: [KafkaProducerMessage]) async throws {
        let producer = try KafkaProducer(config: kafka)
        let reports = try await producer.sendBatch(messages)
        await producer.shutdown()
        for report in reports { if let error = report.error { throw error } }
    }

    /// Reads `topic` from the beginning with a fresh group until `count` records or the timeout.
    func read(_ topic: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: kafka, groupID: "reader-\(UUID().uuidString.prefix(6))", topics: [topic])
        defer { Task { await consumer.close() } }
        let deadline = ContinuousClock.now + timeout
        var received: [KafkaConsumerMessage] = []
        while received.count < count, ContinuousClock.now < deadline {
            received += try await consumer.nextBatch(maxCount: 1000, within: .milliseconds(500))
        }
        await consumer.close()
        return received
    }

    func dispatcher(transport: any OutboundTransport, policy: DeliveryPolicy = .fastTest, group: String? = nil, logLevel: Logger.Level = .error) -> OutboundDispatcher {
        var logger = Logger(label: "test.outbound")
        logger.logLevel = logLevel
        return OutboundDispatcher(kafka: kafka, topic: topic, groupID: group ?? self.group, transport: transport, policy: policy, deadLetterTopic: deadLetterTopic, logger: logger)
    }
}

extension DeliveryPolicy {
    /// Short waits so fault-injection tests finish in seconds.
    static let fastTest = DeliveryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(10), maxBackoff: .milliseconds(200), attemptTimeout: .milliseconds(400))
}

/// An ADT^A01 whose PID-3 is the key and ZSQ-1 the per-key sequence; MSH-10 is `controlID`.
func adtMessage(controlID: String, patient: String, sequence: Int) -> String {
    [
        "MSH|^~\\&|MEDBUS|MEDBUS|EDHIS|H37010200001|20250101120000||ADT^A01^ADT_A01|\(controlID)|P|2.5",
        "EVN|A01|20250101120000",
        "PID|1||\(patient)^^^H37010200001^MR||ZHANG^SAN||19800101|M",
        "PV1|1|E",
        "ZSQ|\(sequence)",
    ].joined(separator: "\r") + "\r"
}

/// `count` ADT records spread over `keys` patients: control ids `M0000…`, sequences per key.
func adtRecords(topic: String, count: Int, keys: Int) -> (records: [KafkaProducerMessage], expected: [String: [Int]]) {
    var records: [KafkaProducerMessage] = []
    var expected: [String: [Int]] = [:]
    for index in 0..<count {
        let patient = "P\(index % keys)"
        let sequence = expected[patient, default: []].count
        expected[patient, default: []].append(sequence)
        let controlID = String(format: "M%05d", index)
        records.append(KafkaProducerMessage(
            topic: topic, key: patient, value: adtMessage(controlID: controlID, patient: patient, sequence: sequence),
            headers: [KafkaHeader(key: "content-type", string: "x-application/hl7-v2+er7; charset=utf-8"),
                      KafkaHeader(key: "medbus-message-id", string: "id-\(controlID)")]))
    }
    return (records, expected)
}

/// Polls `condition` until it holds or the timeout passes.
func eventually(timeout: Duration = .seconds(60), _ condition: @Sendable () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(50))
    }
    return await condition()
}

/// Runs the dispatcher in a task; `stop()` cancels it and waits until `run()` returned.
final class RunningDispatcher: Sendable {
    let dispatcher: OutboundDispatcher
    let task: Task<Void, Error>

    init(_ dispatcher: OutboundDispatcher) {
        self.dispatcher = dispatcher
        task = Task { try await dispatcher.run() }
    }

    func stop() async throws {
        task.cancel()
        try await task.value
    }
}

extension KafkaConsumerMessage {
    func header(_ key: String) -> String? { headers.string(key) }
}
