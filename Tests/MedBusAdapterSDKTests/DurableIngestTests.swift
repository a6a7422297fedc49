import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusKafka
import MedBusStore
import XCTest

final class DurableIngestTests: XCTestCase {
    private var cluster: EmbeddedKafkaCluster!
    private var store: MessageStore!
    private var producer: KafkaProducer!
    private var ingest: DurableIngest!
    private let topic = "raw.his.h370102"

    override func setUp() async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 4)
        store = try MessageStore.open(directory: NSTemporaryDirectory() + "ingest-\(UUID().uuidString.prefix(8))")
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["message.timeout.ms": "3000"]))
        ingest = DurableIngest(store: store, producer: producer)
    }

    override func tearDown() async throws {
        await producer.shutdown(timeout: .seconds(1))
        try store.close()
    }

    private func inbound(_ controlId: String, patient: String = "P001") -> DurableIngest.Inbound {
        DurableIngest.Inbound(
            envelope: MessageEnvelope(source: "his.h370102", sourceMessageId: "HIS01|\(controlId)", messageType: "ADT^A01", contentType: "x-application/hl7-v2+er7"),
            topic: topic, key: patient, payload: Array("MSH|^~\\&|HIS01|H370102|||20250115||ADT^A01|\(controlId)|P|2.5\r".utf8))
    }

    private func recordsOnTopic() async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [topic])
        defer { Task { await consumer.close() } }
        var seen: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(8)
        while ContinuousClock.now < deadline {
            let batch = try await consumer.nextBatch(maxCount: 100, within: .seconds(1))
            seen += batch
            if batch.isEmpty && !seen.isEmpty { break }
        }
        return seen
    }

    func testAcceptedMessageIsStoredPublishedAndRetransmissionAnsweredFromStore() async throws {
        guard case .accepted(let id, let report) = await ingest.ingest(inbound("CTL1")) else { return XCTFail("not accepted") }
        ingest.recordAcknowledgement(Data("ACK-CTL1".utf8), for: id)
        try await Task.sleep(for: .milliseconds(300))  // bookkeeping rides a later group commit
        let row = try XCTUnwrap(try store.message(id: id))
        XCTAssertEqual(row.status, .published)
        XCTAssertEqual(row.offset, report.offset)

        // The sender retransmits (new MedBus id, same sender message id): same ACK, no second record.
        guard case .duplicate(let dupId, let ack) = await ingest.ingest(inbound("CTL1")) else { return XCTFail("retransmission not recognised") }
        XCTAssertEqual(dupId, id)
        XCTAssertEqual(ack, Data("ACK-CTL1".utf8))

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1)
        let envelope = try MessageEnvelope(headers: records[0].headers)
        XCTAssertEqual(envelope.id, id)
        XCTAssertEqual(envelope.sourceMessageId, "HIS01|CTL1")
        XCTAssertEqual(records[0].keyString, "P001")
    }

    /// Kafka down: no positive outcome, the message stays stored; after recovery the sender's
    /// retransmission publishes the stored copy, exactly once.
    func testBrokerOutageGivesNoAcceptanceAndRetransmissionPublishesOnce() async throws {
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        guard case .notPublished(let id, _) = await ingest.ingest(inbound("CTL2")) else { return XCTFail("accepted while every broker was down") }
        XCTAssertEqual(try store.message(id: id)?.status, .received)

        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
        // Like a real sender, retransmit until accepted: the producer may need a moment (more on
        // a loaded machine) to reconnect; until then each retransmission is `.notPublished` again.
        var outcome = await ingest.ingest(inbound("CTL2"))
        for _ in 0..<20 {
            guard case .notPublished = outcome else { break }
            try await Task.sleep(for: .milliseconds(500))
            outcome = await ingest.ingest(inbound("CTL2"))
        }
        guard case .accepted(let retryId, _) = outcome else { return XCTFail("retransmission after recovery not accepted: \(outcome)") }
        XCTAssertEqual(retryId, id, "published under the original message id")
        try await Task.sleep(for: .milliseconds(300))
        XCTAssertEqual(try store.message(id: id)?.status, .published)

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.compactMap { $0.headers.string(MessageEnvelope.Header.id) }, [id])
    }

    func testRejectionIsKeptWithReason() async throws {
        let envelope = MessageEnvelope(source: "his.h370102", messageType: "unknown", contentType: "x-application/hl7-v2+er7")
        await ingest.recordRejection(envelope: envelope, payload: [0x00, 0xFF], reason: "no MSH segment")
        let row = try XCTUnwrap(try store.message(id: envelope.id))
        XCTAssertEqual(row.status, .rejected)
        XCTAssertEqual(row.error, "no MSH segment")
    }
}
