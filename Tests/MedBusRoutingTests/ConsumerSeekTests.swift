import MedBusKafka
import XCTest

/// `KafkaConsumer.seek(to:)`, added for the routing core's rewind after an abort.
final class ConsumerSeekTests: XCTestCase {
    /// Buffered records of the partition are dropped and reading resumes exactly at the position:
    /// no gap, no record of the old position afterwards.
    func testSeekRewindsAndDropsBufferedRecords() async throws {
        let cluster = try makeCluster()
        let config = testConfig(cluster)
        let topic = unique("seek")
        try cluster.createTopic(topic, partitions: 1)
        try await seed(config, rawRecords(topic: topic, range: 0..<300))

        let consumer = try KafkaConsumer(config: config, groupID: unique("g"), topics: [topic])
        var first: [KafkaConsumerMessage] = []
        while first.count < 50 { first += try await consumer.nextBatch(maxCount: 50 - first.count) }
        XCTAssertEqual(first.map(\.offset), Array(0..<50))
        XCTAssertEqual(consumer.assignmentChanges, 1, "one assignment so far")
        // Let the poll thread buffer the rest, then go back.
        try await Task.sleep(for: .milliseconds(300))
        try await consumer.seek(to: [TopicPartitionOffset(topic: topic, partition: 0, offset: 10)])
        let again = try await take(consumer, count: 290, timeout: .seconds(30))
        XCTAssertEqual(again.map(\.offset), Array(10..<300).map(Int64.init))

        // Back to the beginning with the logical offset, twice in a row.
        try await consumer.seek(to: [TopicPartitionOffset(topic: topic, partition: 0, offset: 250)])
        try await consumer.seek(to: [TopicPartitionOffset(topic: topic, partition: 0, offset: -2)])
        let fromStart = try await take(consumer, count: 300, timeout: .seconds(30))
        XCTAssertEqual(fromStart.map(\.offset), Array(0..<300).map(Int64.init))
        await consumer.close()

        do {
            try await consumer.seek(to: [TopicPartitionOffset(topic: topic, partition: 0, offset: 0)])
            XCTFail("seek on a closed consumer")
        } catch let error as KafkaError {
            XCTAssertEqual(error.code, .destroyed)
        }
    }
}
