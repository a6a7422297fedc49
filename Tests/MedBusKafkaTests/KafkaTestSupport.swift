import Foundation
import MedBusKafka
import XCTest

/// A fresh embedded cluster per test, so tests never see each other's records.
func makeCluster(brokers: Int = 3) throws -> EmbeddedKafkaCluster {
    try EmbeddedKafkaCluster(brokers: brokers)
}

/// A unique name, so group ids and topics never collide between tests.
func unique(_ prefix: String) -> String {
    "\(prefix)-\(UUID().uuidString.prefix(8))"
}

/// Reads from `consumer` until `count` records arrived or `timeout` passed.
func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaConsumerMessage] {
    let deadline = ContinuousClock.now + timeout
    var received: [KafkaConsumerMessage] = []
    while received.count < count {
        guard ContinuousClock.now < deadline else { break }
        received += try await consumer.nextBatch(maxCount: 1000, within: .seconds(1))
    }
    return received
}
