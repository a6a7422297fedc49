import Foundation
import MedBusKafka
import XCTest

/// An embedded one-broker cluster with an insurer's request and reply topics.
final class KafkaFixture: @unchecked Sendable {
    let cluster: EmbeddedKafkaCluster
    var kafka: KafkaConfig {
        KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"])
    }

    init(insurers: [String]) throws {
        cluster = try EmbeddedKafkaCluster(brokers: 1)
        for insurer in insurers {
            try cluster.createTopic("insurer.\(insurer).requests", partitions: 4, replicationFactor: 1)
            try cluster.createTopic("insurer.\(insurer).replies", partitions: 4, replicationFactor: 1)
        }
    }

    func produce(_ topic: String, key: String, value: [UInt8], msgid: String) async throws {
        let producer = try KafkaProducer(config: kafka)
        try await producer.send(KafkaProducerMessage(topic: topic, key: Array(key.utf8), value: value, headers: [KafkaHeader(key: "medbus-message-id", string: msgid)]))
        await producer.shutdown()
    }

    /// A reader that keeps its position between calls.
    func reader(_ topic: String) throws -> KafkaConsumer {
        try KafkaConsumer(config: kafka, groupID: "reader-\(UUID().uuidString.prefix(6))", topics: [topic])
    }

    /// Reads until `count` more records or the timeout.
    func read(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(20)) async throws -> [KafkaConsumerMessage] {
        let deadline = ContinuousClock.now + timeout
        var received: [KafkaConsumerMessage] = []
        while received.count < count, ContinuousClock.now < deadline {
            received += try await consumer.nextBatch(maxCount: 1000, within: .milliseconds(300))
        }
        return received
    }
}
