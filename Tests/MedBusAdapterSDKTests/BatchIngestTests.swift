import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusKafka
import MedBusStore
import XCTest

/// `DurableIngest` with many messages at once — a polled batch, or concurrent callers whose
/// messages share store transactions — against the embedded cluster and a real SQLite store.
final class BatchIngestTests: XCTestCase {
    private var cluster: EmbeddedKafkaCluster!
    private var store: MessageStore!
    private var producer: KafkaProducer!
    private var ingest: DurableIngest!
    private let source = "his.h370102"
    private let topic = "raw.his.h370102"

    override func setUp() async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 4)
        store = try MessageStore.open(directory: NSTemporaryDirectory() + "batch-ingest-\(UUID().uuidString.prefix(8))")
        producer = try KafkaProducer(config: DurableIngest.producerConfig(KafkaConfig(
            bootstrapServers: cluster.bootstrapServers,
            properties: ["message.timeout.ms": "3000", "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "200"])))
        ingest = DurableIngest(store: store, producer: producer)
    }

    override func tearDown() async throws {
        await producer.shutdown(timeout: .seconds(1))
        try store.close()
    }

    /// A new copy (new MedBus id) of the sender's message `controlId`.
    private func inbound(_ controlId: String, topic: String? = nil) -> DurableIngest.Inbound {
        DurableIngest.Inbound(
            envelope: MessageEnvelope(source: source, sourceMessageId: "HIS01|\(controlId)", messageType: "ADT^A01", contentType: "x-application/hl7-v2+er7"),
            topic: topic ?? self.topic, key: "P-\(controlId)", payload: Array("MSH|^~\\&|HIS01|H370102|||20250115||ADT^A01|\(controlId)|P|2.5\r".utf8))
    }

    /// Sender message ids of every record on `topic`, read until `expected` arrived (or 15 s).
    private func sourceIdsOnTopic(_ topic: String, expected: Int) async throws -> [String] {
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [topic])
        var seen: [String] = []
        let deadline = ContinuousClock.now + .seconds(15)
        while seen.count < expected, ContinuousClock.now < deadline {
            seen += try await consumer.nextBatch(maxCount: 500, within: .seconds(1)).compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
        }
        // Anything beyond `expected` (a duplicate) would arrive with the rest; give it a moment.
        seen += try await consumer.nextBatch(maxCount: 500, within: .milliseconds(500)).compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
        await consumer.close()
        return seen
    }

    /// One batch holding two copies of one message: the first is published, the second is its
    /// duplicate (same MedBus id), and Kafka gets it once.
    func testBatchWithAnInBatchDuplicatePublishesItOnce() async throws {
        let batch = [inbound("A1"), inbound("A2"), inbound("A1"), inbound("A3")]
        let outcomes = await ingest.ingest(batch)
        guard case .accepted(let first, _) = outcomes[0], case .accepted = outcomes[1], case .accepted = outcomes[3] else {
            return XCTFail("not accepted: \(outcomes)")
        }
        XCTAssertEqual(first, batch[0].envelope.id)
        guard case .duplicate(let copy, nil) = outcomes[2] else { return XCTFail("in-batch copy not a duplicate: \(outcomes[2])") }
        XCTAssertEqual(copy, first, "the copy is answered under the first copy's id")

        await ingest.flushBookkeeping()
        XCTAssertEqual(try store.message(id: first)?.status, .published)
        XCTAssertNil(try store.message(id: batch[2].envelope.id), "the copy is not stored a second time")
        let onKafka = try await sourceIdsOnTopic(topic, expected: 3)
        XCTAssertEqual(onKafka.sorted(), ["HIS01|A1", "HIS01|A2", "HIS01|A3"])
    }

    /// 200 concurrent callers, among them 20 copies of one message sent at the same moment (a sender
    /// retransmitting before its first copy was answered): every message is accepted once, the
    /// copies are duplicates of it, and Kafka holds each message once.
    func testConcurrentCallersShareCommitsAndConcurrentCopiesArePublishedOnce() async throws {
        let ingest = self.ingest!
        let messages = (0..<180).map { ("C\($0)", inbound("C\($0)")) } + (0..<20).map { _ in ("SAME", inbound("SAME")) }
        let outcomes = await withTaskGroup(of: (String, DurableIngest.Outcome).self) { group in
            for (controlId, message) in messages { group.addTask { (controlId, await ingest.ingest(message)) } }
            var all: [(String, DurableIngest.Outcome)] = []
            for await outcome in group { all.append(outcome) }
            return all
        }
        var accepted: [String: [String]] = [:]
        var duplicates: [String: [String]] = [:]
        for (controlId, outcome) in outcomes {
            switch outcome {
            case .accepted(let id, _): accepted[controlId, default: []].append(id)
            case .duplicate(let id, _): duplicates[controlId, default: []].append(id)
            default: XCTFail("\(controlId): \(outcome)")
            }
        }
        XCTAssertEqual(accepted.count, 181)
        XCTAssertTrue(accepted.values.allSatisfy { $0.count == 1 }, "each message accepted once")
        let sameId = try XCTUnwrap(accepted["SAME"]?.first)
        XCTAssertEqual(duplicates["SAME"], Array(repeating: sameId, count: 19), "the other copies are duplicates of the accepted one")

        let onKafka = try await sourceIdsOnTopic(topic, expected: 181)
        XCTAssertEqual(onKafka.count, 181, "no message twice")
        XCTAssertEqual(Set(onKafka), Set((0..<180).map { "HIS01|C\($0)" } + ["HIS01|SAME"]))
        await ingest.flushBookkeeping()
        XCTAssertEqual(try store.count(MessageQuery(source: source, status: .published)), 181)
    }

    /// Kafka fails for part of a batch (the leader of one topic is down): exactly those messages
    /// are not acknowledged and stay `received`; once the broker is back, `recoverInDoubt` finds
    /// none of them on Kafka, and the sender's retransmission publishes each of them once, under
    /// its original id, while the rest are answered from the store.
    func testKafkaFailingForPartOfABatchLeavesExactlyThoseUnacknowledgedAndTheyAreRecoveredOnce() async throws {
        let other = "raw.his.h370103"
        try cluster.createTopic(other, partitions: 1)
        for partition in 0..<4 { cluster.setPartitionLeader(topic: topic, partition: Int32(partition), broker: 1) }
        cluster.setPartitionLeader(topic: other, partition: 0, broker: 3)
        cluster.setBrokerDown(3)

        let batch = (0..<12).map { n in inbound("P\(n)", topic: n % 3 == 0 ? other : nil) }
        let failing = Set(stride(from: 0, to: 12, by: 3))
        let outcomes = await ingest.ingest(batch)
        for (n, outcome) in outcomes.enumerated() {
            switch outcome {
            case .accepted where !failing.contains(n): break
            case .notPublished(let id, _) where failing.contains(n): XCTAssertEqual(id, batch[n].envelope.id)
            default: XCTFail("message \(n) (\(failing.contains(n) ? "leader down" : "leader up")): \(outcome)")
            }
        }
        await ingest.flushBookkeeping()
        for n in 0..<12 {
            XCTAssertEqual(try store.message(id: batch[n].envelope.id)?.status, failing.contains(n) ? .received : .published, "message \(n)")
        }
        // The broker is back; recovery (as at a restart) finds none of them on Kafka.
        cluster.setBrokerUp(3)
        let settled = try await ingest.recoverInDoubt(source: source, topic: other, kafka: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        XCTAssertEqual(settled.published, 0)
        XCTAssertEqual(settled.missing, failing.count)

        // The sender retransmits the whole batch until every message is acknowledged.
        var retried = await ingest.ingest((0..<12).map { n in inbound("P\(n)", topic: n % 3 == 0 ? other : nil) })
        for _ in 0..<20 where retried.contains(where: { if case .notPublished = $0 { true } else { false } }) {
            try await Task.sleep(for: .milliseconds(500))
            retried = await ingest.ingest((0..<12).map { n in inbound("P\(n)", topic: n % 3 == 0 ? other : nil) })
        }
        for (n, outcome) in retried.enumerated() {
            switch outcome {
            case .accepted(let id, _) where failing.contains(n): XCTAssertEqual(id, batch[n].envelope.id, "published under its original id")
            case .duplicate(let id, _): XCTAssertEqual(id, batch[n].envelope.id)
            default: XCTFail("retransmission of message \(n): \(outcome)")
            }
        }
        let onOther = try await sourceIdsOnTopic(other, expected: 4)
        XCTAssertEqual(onOther.sorted(), failing.sorted().map { "HIS01|P\($0)" })
        let onTopic = try await sourceIdsOnTopic(topic, expected: 8)
        XCTAssertEqual(onTopic.sorted(), (0..<12).filter { !failing.contains($0) }.map { "HIS01|P\($0)" }.sorted())
    }
}
