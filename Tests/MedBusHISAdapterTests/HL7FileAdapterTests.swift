import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusHISAdapter
import MedBusKafka
import MedBusStore
import XCTest

/// Batch files dropped into a folder, against the embedded cluster and a real store.
final class HL7FileAdapterTests: XCTestCase {
    private let topic = "raw.his.H37010200001"

    private static func message(_ controlID: String, version: String = "2.5") -> String {
        "MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045||ADT^A04^ADT_A01|\(controlID)|P|\(version)\rEVN|A04|20250115103045\rPID|1||P\(controlID)^^^H37010200001^MR||测试^患者||19900101|M\rPV1|1|O\r"
    }

    private static func batch(_ messages: [String], declared: Int? = nil) -> Data {
        Data(("FHS|^~\\&|HIS|H37010200001\rBHS|^~\\&|HIS|H37010200001\r" + messages.joined() + "BTS|\(declared ?? messages.count)\rFTS|1\r").utf8)
    }

    func testBatchFilesArePublishedOnceAcknowledgedAndMovedAside() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 3)
        let folder = NSTemporaryDirectory() + "file-adapter-\(UUID().uuidString.prefix(8))"
        let store = try MessageStore.open(directory: folder + "/store")
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["message.timeout.ms": "2000", "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "200"]))
        let inbox = folder + "/inbox"
        let manifest = AdapterManifest(kind: HL7FileAdapter.kind, name: "files", sender: "H37010200001", host: "", port: 0, options: [
            "directory": inbox, "pollMilliseconds": "100", "settleMilliseconds": "1",
        ])
        let adapter = try HL7FileAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
        let running = Task { try await adapter.run() }
        defer { running.cancel() }
        try await waitUntil("inbox created") { FileManager.default.fileExists(atPath: inbox + "/processed") }

        // Two good messages and one with an unsupported version (refused with AR, kept as rejected).
        try Self.batch([Self.message("F1"), Self.message("F2"), Self.message("F3", version: "9.9")]).write(to: URL(fileURLWithPath: inbox + "/0001.hl7"))
        try await waitUntil("first file processed") { FileManager.default.fileExists(atPath: inbox + "/processed/0001.hl7") }
        let acks = String(decoding: try Data(contentsOf: URL(fileURLWithPath: inbox + "/processed/0001.hl7.ack")), as: UTF8.self)
        XCTAssertTrue(acks.contains("MSA|AA|F1") && acks.contains("MSA|AA|F2"), acks)
        XCTAssertTrue(acks.contains("MSA|AR|F3"), "the unsupported version is refused: \(acks)")
        XCTAssertEqual(try store.count(MessageQuery(status: .rejected)), 1)

        // Counts that do not match the messages: the whole file is refused, nothing published.
        try Self.batch([Self.message("G1")], declared: 5).write(to: URL(fileURLWithPath: inbox + "/0002.hl7"))
        try await waitUntil("broken file refused") { FileManager.default.fileExists(atPath: inbox + "/failed/0002.hl7") }
        let reason = try String(contentsOfFile: inbox + "/failed/0002.hl7.error", encoding: .utf8)
        XCTAssertTrue(reason.contains("BTS"), reason)

        // Kafka down: the file waits; once Kafka is back it is finished, each message once —
        // including F1, sent again in this file, which is recognised as a retransmission.
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        try Self.batch([Self.message("H1"), Self.message("H2"), Self.message("F1")]).write(to: URL(fileURLWithPath: inbox + "/0003.hl7"))
        try await Task.sleep(for: .seconds(3))
        XCTAssertTrue(FileManager.default.fileExists(atPath: inbox + "/0003.hl7"), "not finished while Kafka is down")
        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
        try await waitUntil("third file processed", timeout: .seconds(60)) { FileManager.default.fileExists(atPath: inbox + "/processed/0003.hl7") }
        let third = String(decoding: try Data(contentsOf: URL(fileURLWithPath: inbox + "/processed/0003.hl7.ack")), as: UTF8.self)
        XCTAssertEqual(third.components(separatedBy: "MSA|AA|").count - 1, 3, third)

        adapter.shutdown()
        try await running.value
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [topic])
        var ids: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let batch = try await consumer.nextBatch(maxCount: 100, within: .seconds(2))
            ids += batch.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
            if batch.isEmpty && ids.count >= 4 { break }
        }
        await consumer.close()
        XCTAssertEqual(ids.sorted(), ["H37010200001|F1", "H37010200001|F2", "H37010200001|H1", "H37010200001|H2"], "each good message exactly once")
        await producer.shutdown()
        try store.close()
    }

    private func waitUntil(_ what: String, timeout: Duration = .seconds(30), _ condition: () -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("timed out waiting: \(what)") }
            try await Task.sleep(for: .milliseconds(50))
        }
    }
}
