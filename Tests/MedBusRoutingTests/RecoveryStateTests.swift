@testable import MedBusKafka
@testable import MedBusRouting
import XCTest

/// Where a rewind resumes and which outputs count as already written, without Kafka.
final class RecoveryStateTests: XCTestCase {
    func testResumePositionsPreferTheLaterOfLocalAndGroupAndDefaultToBeginning() {
        var positions = CommittedPositions()
        positions.committed([TopicPartitionOffset(topic: "raw.a", partition: 0, offset: 40), TopicPartitionOffset(topic: "raw.a", partition: 1, offset: 5)])
        let resumed = positions.resumePositions(group: [
            TopicPartitionOffset(topic: "raw.a", partition: 0, offset: -1001), // the embedded cluster never records transactional commits
            TopicPartitionOffset(topic: "raw.a", partition: 1, offset: 12),    // another instance went further meanwhile
            TopicPartitionOffset(topic: "raw.a", partition: 2, offset: -1001), // never committed by anyone
        ])
        XCTAssertEqual(resumed.map(\.offset), [40, 12, CommittedPositions.beginning])
    }

    func testNextPositionsPerPartitionInFirstSeenOrder() {
        let batch = [(1, 7), (0, 3), (1, 8), (0, 4), (1, 9)].map {
            KafkaConsumerMessage(topic: "raw.a", partition: Int32($0.0), offset: Int64($0.1), key: nil, value: [], headers: [], timestampMilliseconds: nil)
        }
        XCTAssertEqual(batch.nextPositions, [TopicPartitionOffset(topic: "raw.a", partition: 1, offset: 10), TopicPartitionOffset(topic: "raw.a", partition: 0, offset: 5)])
    }

    func testInDoubtOutputsAreTakenOnceAndForgottenWithTheirPartition() {
        let p0 = InputPartition(topic: "raw.a", partition: 0), p1 = InputPartition(topic: "raw.a", partition: 1)
        let a = OutputID(source: p0, sourceOffset: 3, topic: "out", index: 0)
        let b = OutputID(source: p0, sourceOffset: 3, topic: "out", index: 1)
        let c = OutputID(source: p1, sourceOffset: 9, topic: "dlq", index: 0)
        var inDoubt = InDoubtOutputs()
        inDoubt.record([a, c, OutputID(source: InputPartition(topic: "raw.b", partition: 0), sourceOffset: 1, topic: "out", index: 0)], scanned: [p0, p1])
        XCTAssertEqual(inDoubt.count, 2, "outputs of partitions outside the scan are ignored")
        XCTAssertEqual(inDoubt.scanned, [p0, p1])
        XCTAssertFalse(inDoubt.takeIfPresent(b))
        XCTAssertTrue(inDoubt.takeIfPresent(a))
        XCTAssertFalse(inDoubt.takeIfPresent(a), "taken once")
        inDoubt.forget([p1])
        XCTAssertFalse(inDoubt.takeIfPresent(c))
        XCTAssertEqual(inDoubt.scanned, [p0])
        inDoubt.invalidate()
        XCTAssertTrue(inDoubt.scanned.isEmpty)
    }
}
