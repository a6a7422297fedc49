import Foundation
import MedBusKafka
import MedBusTestSupport
import XCTest

final class TransactionTests: XCTestCase {
    /// Consume-transform-produce: an aborted transaction's records stay invisible to a
    /// read_committed consumer; a committed one's appear together with the input offsets.
    ///
    /// librdkafka 2.0.2's mock cluster runs the whole transactional protocol (InitProducerId,
    /// AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit, EndTxn all succeed) but neither hides
    /// aborted records from read_committed fetches nor applies TxnOffsetCommit to the group's
    /// offsets. So the visibility and offset assertions run against a real cluster
    /// (`MEDBUS_TEST_KAFKA_BROKERS=host:port`); on the embedded cluster the test checks the
    /// protocol flow and that committed records are delivered, and prints what the mock did.
    func testAbortedInvisibleCommittedVisibleWithOffsets() async throws {
        let external = ProcessInfo.processInfo.environment["MEDBUS_TEST_KAFKA_BROKERS"]
        let cluster = external == nil ? try makeCluster() : nil
        let config = KafkaConfig(bootstrapServers: external ?? cluster!.bootstrapServers)
        let input = unique("txn-in")
        let output = unique("txn-out")
        if let cluster {
            try cluster.createTopic(input, partitions: 1)
            try cluster.createTopic(output, partitions: 3)
        } else {
            let admin = try KafkaAdmin(config: config)
            let results = try await admin.createTopics([NewTopic(name: input, partitions: 1, replicationFactor: 1), NewTopic(name: output, partitions: 3, replicationFactor: 1)])
            XCTAssertTrue(results.values.allSatisfy { $0 == nil }, "\(results)")
        }

        let seed = try KafkaProducer(config: config)
        _ = try await seed.sendBatch((0..<50).map { KafkaProducerMessage(topic: input, key: "k\($0)", value: "in-\($0)") })
        await seed.shutdown()

        let group = unique("router")
        let source = try KafkaConsumer(config: config, groupID: group, topics: [input])
        let inputRecords = try await consume(source, count: 50)
        XCTAssertEqual(inputRecords.count, 50)

        let txn = try await KafkaTransactionalProducer(config: config, transactionalID: unique("tx"))
        // First attempt: produced, then aborted.
        try txn.beginTransaction()
        let abortedReports = try await txn.sendBatch(inputRecords.map { KafkaProducerMessage(topic: output, key: $0.key, value: Array("aborted-\($0.valueString!)".utf8)) })
        XCTAssertEqual(abortedReports.compactMap(\.error).count, 0)
        try await txn.abortTransaction()
        // Second attempt: produced with the input offsets, committed.
        try txn.beginTransaction()
        _ = try await txn.sendBatch(inputRecords.map { KafkaProducerMessage(topic: output, key: $0.key, value: Array("out-\($0.valueString!)".utf8)) })
        let position = inputRecords.last!.nextPosition
        try await txn.sendOffsetsToTransaction([position], consumer: source)
        try await txn.commitTransaction()
        // Committing with no transaction open is refused with a state error, not ignored.
        do {
            try await txn.commitTransaction()
            XCTFail("committed without an open transaction")
        } catch let error as KafkaError {
            XCTAssertEqual(error.code, .state, "\(error)")
        }
        await txn.shutdown()

        let committed = try await source.committed([TopicPartitionOffset(topic: input, partition: 0, offset: -1)])
        await source.close()

        let reader = try KafkaConsumer(config: config, groupID: unique("reader"), topics: [output])
        var seen = try await consume(reader, count: external == nil ? 100 : 50)
        seen += try await consume(reader, count: 1, timeout: .seconds(3))
        await reader.close()
        let values = seen.compactMap(\.valueString)
        let committedValues = values.filter { $0.hasPrefix("out-") }
        XCTAssertEqual(Set(committedValues), Set((0..<50).map { "out-in-\($0)" }), "committed records are delivered")
        XCTAssertEqual(committedValues.count, 50, "exactly once")

        if external != nil {
            XCTAssertEqual(values.filter { $0.hasPrefix("aborted-") }, [], "aborted records are invisible")
            XCTAssertEqual(committed, [position], "input offsets committed with the transaction")
        } else {
            print("embedded cluster: \(values.filter { $0.hasPrefix("aborted-") }.count) aborted records visible to read_committed; group offset after TxnOffsetCommit: \(committed)")
        }
    }
}

final class AdminTests: XCTestCase {
    func testListAndDescribeTopics() async throws {
        let cluster = try makeCluster()
        try cluster.createTopic("medbus.mappings", partitions: 1)
        try cluster.createTopic("raw.his.h1", partitions: 6)
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))

        let brokers = try await admin.brokers()
        XCTAssertEqual(brokers.sorted(), [1, 2, 3])
        let names = try await admin.listTopics().map(\.name)
        XCTAssertTrue(names.contains("raw.his.h1") && names.contains("medbus.mappings"), "\(names)")
        let raw = try await admin.describeTopic("raw.his.h1")
        XCTAssertEqual(raw.partitions.map(\.id), Array(0..<6))
        XCTAssertEqual(raw.replicationFactor, 3)

        do {
            _ = try await admin.describeTopic("no.such.topic")
            XCTFail("described a topic that does not exist")
        } catch let error as KafkaError {
            XCTAssertEqual(error.code, .unknownTopicOrPartition)
        }
    }

    /// The embedded (mock) cluster has no CreateTopics API: the admin call must fail with the
    /// broker's specific error instead of hanging, and creating through the cluster works.
    func testCreateTopicsAgainstEmbeddedClusterReportsUnsupported() async throws {
        let cluster = try makeCluster()
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        let started = ContinuousClock.now
        do {
            let results = try await admin.createTopics([NewTopic(name: "t1", partitions: 3, replicationFactor: 3, configs: ["cleanup.policy": "compact"])], timeout: .seconds(5))
            let error = try XCTUnwrap(results["t1"] ?? nil, "mock accepted CreateTopics: \(results)")
            print("CreateTopics on the embedded cluster: \(error)")
        } catch let error as KafkaError {
            print("CreateTopics on the embedded cluster: \(error)")
        }
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(15))
    }

    func testUnreachableBrokerFailsWithinTimeout() async throws {
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: "127.0.0.1:1"))
        do {
            _ = try await admin.brokers(timeout: .seconds(2))
            XCTFail("reached a broker on port 1")
        } catch let error as KafkaError {
            XCTAssertTrue([.transport, .timedOut, .allBrokersDown].contains(error.code), "\(error)")
        }
    }
}

/// Independent clients read what MedBus wrote, over the embedded cluster's real sockets.
final class InteroperabilityTests: XCTestCase {
    func testKcatAndConfluentKafkaReadMedBusRecords() async throws {
        let cluster = try makeCluster()
        let topic = unique("interop")
        try cluster.createTopic(topic, partitions: 3)
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        let sent = (0..<200).map { i in
            KafkaProducerMessage(topic: topic, key: "key-\(i % 7)", value: "值-\(i)", headers: [KafkaHeader(key: "medbus-message-id", string: "id-\(i)")])
        }
        let reports = try await producer.sendBatch(sent)
        await producer.shutdown()

        // kcat: key, value, partition, offset and headers of every record.
        let kcat = try runTool("/usr/bin/kcat", ["-C", "-b", cluster.bootstrapServers, "-t", topic, "-e", "-q", "-f", "%k\t%s\t%p\t%o\t%h\n"])
        let kcatRows = Set(kcat.split(separator: "\n").map(String.init))
        let expected = Set(zip(sent, reports).map { m, r in
            "\(String(decoding: m.key!, as: UTF8.self))\t\(String(decoding: m.value!, as: UTF8.self))\t\(r.partition)\t\(r.offset!)\tmedbus-message-id=\(m.headers[0].stringValue!)"
        })
        XCTAssertEqual(kcatRows, expected)

        // Python confluent-kafka (Debian's python3-confluent-kafka) in a consumer group.
        let script = """
        import sys
        from confluent_kafka import Consumer
        c = Consumer({"bootstrap.servers": sys.argv[1], "group.id": "py-interop", "auto.offset.reset": "earliest"})
        c.subscribe([sys.argv[2]])
        n, idle = 0, 0
        while n < 200 and idle < 30:
            m = c.poll(1.0)
            if m is None:
                idle += 1
                continue
            if m.error():
                raise SystemExit(str(m.error()))
            print(m.key().decode(), m.value().decode("utf-8"), dict(m.headers() or [])["medbus-message-id"].decode())
            n += 1
        c.close()
        """
        let python = try runTool("/usr/bin/python3", ["-c", script, cluster.bootstrapServers, topic])
        let pythonRows = Set(python.split(separator: "\n").map(String.init))
        XCTAssertEqual(pythonRows, Set(sent.map { "\(String(decoding: $0.key!, as: UTF8.self)) \(String(decoding: $0.value!, as: UTF8.self)) \($0.headers[0].stringValue!)" }))
    }
}
