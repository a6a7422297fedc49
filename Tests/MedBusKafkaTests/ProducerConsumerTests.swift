import Foundation
import MedBusKafka
import XCTest

final class ProducerConsumerTests: XCTestCase {
    /// 10,000 keyed records with headers: each consumed exactly once, per-key order kept,
    /// headers intact.
    func testRoundTripTenThousandKeyedMessages() async throws {
        let cluster = try makeCluster()
        let topic = unique("roundtrip")
        try cluster.createTopic(topic, partitions: 12)
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)

        let producer = try KafkaProducer(config: config)
        let messages = (0..<10_000).map { i in
            KafkaProducerMessage(
                topic: topic,
                key: "patient-\(i % 97)",
                value: "payload-\(i)",
                headers: [
                    KafkaHeader(key: "medbus-message-id", string: "m\(i)"),
                    KafkaHeader(key: "seq", string: "\(i)"),
                    KafkaHeader(key: "empty", value: nil),
                ]
            )
        }
        var reports: [KafkaDeliveryReport] = []
        for chunk in stride(from: 0, to: messages.count, by: 1000) {
            reports += try await producer.sendBatch(Array(messages[chunk..<chunk + 1000]))
        }
        XCTAssertEqual(reports.filter { $0.error != nil }.count, 0)
        XCTAssertTrue(reports.allSatisfy { $0.offset != nil })
        await producer.shutdown()

        let consumer = try KafkaConsumer(config: config, groupID: unique("g"), topics: [topic])
        let received = try await consume(consumer, count: 10_000)
        XCTAssertEqual(received.count, 10_000)
        XCTAssertEqual(Set(received.compactMap { $0.headers.string("medbus-message-id") }).count, 10_000, "each record exactly once")

        var lastSeqByKey: [String: Int] = [:]
        var partitionOfKey: [String: Int32] = [:]
        for message in received {
            let key = try XCTUnwrap(message.keyString)
            let seq = try XCTUnwrap(Int(message.headers.string("seq") ?? ""))
            XCTAssertEqual(message.valueString, "payload-\(seq)")
            XCTAssertEqual(message.headers.map(\.key), ["medbus-message-id", "seq", "empty"])
            XCTAssertNil(message.headers[2].value)
            XCTAssertGreaterThan(seq, lastSeqByKey[key] ?? -1, "order of key \(key)")
            lastSeqByKey[key] = seq
            XCTAssertEqual(partitionOfKey[key, default: message.partition], message.partition, "one partition per key")
            partitionOfKey[key] = message.partition
        }
        XCTAssertGreaterThan(Set(partitionOfKey.values).count, 6, "keys spread over partitions")

        let positions = Dictionary(grouping: received, by: \.partition).map { $0.value.max { $0.offset < $1.offset }!.nextPosition }
        try await consumer.commit(positions)
        let committed = try await consumer.committed(positions.map { TopicPartitionOffset(topic: topic, partition: $0.partition, offset: -1) })
        XCTAssertEqual(Set(committed), Set(positions))
        await consumer.close()
    }

    /// A consumer that stops without committing: the group re-reads from the last commit.
    func testConsumerStoppedWithoutCommitRereadsFromLastCommit() async throws {
        let cluster = try makeCluster()
        let topic = unique("reread")
        try cluster.createTopic(topic, partitions: 1)
        // The mock coordinator waits out a departed member's session before the next join.
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
        let producer = try KafkaProducer(config: config)
        _ = try await producer.sendBatch((0..<1000).map { KafkaProducerMessage(topic: topic, key: nil, value: "r\($0)") })
        await producer.shutdown()

        let group = unique("g")
        let first = try KafkaConsumer(config: config, groupID: group, topics: [topic])
        let firstRead = try await consume(first, count: 600)
        XCTAssertGreaterThanOrEqual(firstRead.count, 600)
        // Processed (and committed) only the first 400; the rest was read but never committed.
        try await first.commit(firstRead[399])
        await first.close()

        let second = try KafkaConsumer(config: config, groupID: group, topics: [topic])
        let secondRead = try await consume(second, count: 600)
        XCTAssertEqual(secondRead.first?.offset, 400, "restarts at the committed offset")
        XCTAssertEqual(secondRead.map(\.valueString), (400..<1000).map { "r\($0)" }, "nothing lost")
        await second.close()
    }

    /// Broker errors pushed on Produce, a broker going down and up: librdkafka retries and, with
    /// idempotence, every record ends up present exactly once.
    func testProducerRetriesThroughFaultsWithoutLossOrDuplicates() async throws {
        let cluster = try makeCluster()
        let topic = unique("faults")
        try cluster.createTopic(topic, partitions: 4)
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["retry.backoff.ms": "20"])
        let producer = try KafkaProducer(config: config)

        cluster.pushRequestErrors(.produce, [.notLeaderForPartition, .requestTimedOut, .notLeaderForPartition, .requestTimedOut, .notEnoughReplicas])
        var reports = try await producer.sendBatch((0..<2000).map { KafkaProducerMessage(topic: topic, key: "k\($0 % 50)", value: "f\($0)") })

        cluster.setBrokerDown(1)
        let whileDown = Task { try await producer.sendBatch((2000..<4000).map { KafkaProducerMessage(topic: topic, key: "k\($0 % 50)", value: "f\($0)") }) }
        try await Task.sleep(for: .milliseconds(500))
        cluster.pushRequestErrors(.produce, [.requestTimedOut, .requestTimedOut, .notLeaderForPartition])
        cluster.setBrokerUp(1)
        reports += try await whileDown.value
        await producer.shutdown()
        XCTAssertEqual(reports.compactMap(\.error).map(\.description), [])

        let consumer = try KafkaConsumer(config: config, groupID: unique("g"), topics: [topic])
        let received = try await consume(consumer, count: 4000, timeout: .seconds(60))
        // Let any duplicate arrive before counting.
        let extra = try await consume(consumer, count: 1, timeout: .seconds(2))
        await consumer.close()
        let values = (received + extra).compactMap(\.valueString)
        XCTAssertEqual(values.count, 4000, "no duplicates")
        XCTAssertEqual(Set(values), Set((0..<4000).map { "f\($0)" }), "none lost")
    }

    func testInvalidPropertyIsRejected() throws {
        XCTAssertThrowsError(try KafkaProducer(config: KafkaConfig(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"]))) { error in
            XCTAssertEqual((error as? KafkaError)?.code, .invalidArgument)
        }
        XCTAssertThrowsError(try KafkaConfig.parseProperties(["acks"]))
        XCTAssertEqual(try KafkaConfig.parseProperties(["sasl.password=a=b"]), ["sasl.password": "a=b"])
    }
}

final class RebalanceTests: XCTestCase {
    /// Two members share a topic's partitions; when one leaves, the other takes over its
    /// partitions from the committed offsets. Every record is processed, none lost.
    func testPartitionsMoveBetweenMembersWithoutLoss() async throws {
        let cluster = try makeCluster()
        let topic = unique("rebalance")
        try cluster.createTopic(topic, partitions: 6)
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500"])
        let producer = try KafkaProducer(config: config)
        func produce(_ range: Range<Int>) async throws {
            let reports = try await producer.sendBatch(range.map { KafkaProducerMessage(topic: topic, key: "k\($0)", value: "v\($0)") })
            XCTAssertEqual(reports.compactMap(\.error).count, 0)
        }
        let group = unique("g")
        let a = try KafkaConsumer(config: config, groupID: group, topics: [topic])
        let b = try KafkaConsumer(config: config, groupID: group, topics: [topic])

        // Wait until both members hold a share of the partitions.
        let deadline = ContinuousClock.now + .seconds(30)
        var assignedA: [TopicPartitionOffset] = []
        var assignedB: [TopicPartitionOffset] = []
        while ContinuousClock.now < deadline {
            assignedA = try a.assignment()
            assignedB = try b.assignment()
            if !assignedA.isEmpty && !assignedB.isEmpty && assignedA.count + assignedB.count == 6 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(Set(assignedA.map(\.partition)).intersection(assignedB.map(\.partition)), [], "no partition owned twice")
        XCTAssertEqual(assignedA.count + assignedB.count, 6)

        try await produce(0..<3000)
        var processed: [String] = []
        for consumer in [a, b] {
            let expected = consumer === a ? assignedA : assignedB
            let records = try await consume(consumer, count: 1, timeout: .seconds(10))
                + (try await consume(consumer, count: 3000, timeout: .seconds(3)))
            XCTAssertTrue(records.allSatisfy { r in expected.contains { $0.partition == r.partition } }, "records only from owned partitions")
            let positions = Dictionary(grouping: records, by: \.partition).map { $0.value.max { $0.offset < $1.offset }!.nextPosition }
            try await consumer.commit(positions)
            processed += records.compactMap(\.valueString)
        }
        XCTAssertEqual(Set(processed).count, 3000)

        // B leaves; A takes over all six partitions and reads what is produced next.
        await b.close()
        try await produce(3000..<4000)
        let rest = try await consume(a, count: 1000, timeout: .seconds(30))
        XCTAssertEqual(Set(rest.compactMap(\.valueString)), Set((3000..<4000).map { "v\($0)" }))
        XCTAssertEqual(Set(try a.assignment().map(\.partition)), Set(0..<6))
        await a.close()
        await producer.shutdown()
    }
}
