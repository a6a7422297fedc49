import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusHISAdapter
import MedBusKafka
import MedBusStore
import MedBusTestSupport
import XCTest

/// The adapter in process, over real sockets, against the embedded cluster with injected faults.
final class HL7MLLPAdapterTests: XCTestCase {
    private let topic = "raw.his.H37010200001"

    private static func message(_ controlID: String) -> [UInt8] {
        Array("MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045||ADT^A04^ADT_A01|\(controlID)|P|2.5\rEVN|A04|20250115103045\rPID|1||P\(controlID)^^^H37010200001^MR||测试^患者||19900101|M\rPV1|1|O\r".utf8)
    }

    /// Every broker down during a stream: no AA for a message that is not on Kafka; after
    /// recovery the sender's retransmissions all arrive, each exactly once.
    func testBrokerOutageGivesNoPositiveAckAndNothingIsLost() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 6)
        let store = try MessageStore.open(directory: NSTemporaryDirectory() + "adapter-\(UUID().uuidString.prefix(8))")
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["message.timeout.ms": "2000", "reconnect.backoff.ms": "20", "reconnect.backoff.max.ms": "200"]))
        let manifest = AdapterManifest(kind: HL7MLLPAdapter.kind, name: "test", sender: "H37010200001", host: "127.0.0.1", port: 0)
        let adapter = try HL7MLLPAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
        let (ports, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let server = Task { try await adapter.run { portContinuation.yield($0) } }
        var portIterator = ports.makeAsyncIterator()
        let port = await portIterator.next()!

        let ids = (1...60).map { String(format: "CTL%04d", $0) }
        let (firstPass, final) = try await onThread { () -> ([String: String], [String: String]) in
            let client = try MLLPTestClient(port: port, receiveTimeout: 20)
            var codes: [String: String] = [:]
            for (n, id) in ids.enumerated() {
                if n == 20 { for b in 1...3 { cluster.setBrokerDown(Int32(b)) } }
                if n == 25 { for b in 1...3 { cluster.setBrokerUp(Int32(b)) } }
                client.sendFrame(Self.message(id))
                codes[id] = ackCode(client.readFrame())
            }
            let firstPass = codes
            // The sender retransmits whatever did not get AA.
            for id in ids where codes[id] != "AA" {
                client.sendFrame(Self.message(id))
                codes[id] = ackCode(client.readFrame())
            }
            return (firstPass, codes)
        }
        let refused = ids[20..<25].filter { firstPass[$0] != "AA" }
        XCTAssertFalse(refused.isEmpty, "messages sent while every broker was down got no AA")
        XCTAssertTrue(refused.allSatisfy { firstPass[$0] == "AE" }, "refused with AE: \(firstPass)")
        XCTAssertEqual(final.values.filter { $0 != "AA" }, [], "after recovery every message is acknowledged")

        // Which of them were refused during the outage, and that they are on Kafka once each.
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check", topics: [topic])
        var sourceIDs: [String] = []
        let deadline = ContinuousClock.now + .seconds(30)
        while sourceIDs.count < ids.count && ContinuousClock.now < deadline {
            sourceIDs += try await consumer.nextBatch(maxCount: 100).compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
        }
        try await Task.sleep(for: .seconds(1))
        await consumer.close()
        XCTAssertEqual(sourceIDs.sorted(), ids.map { "H37010200001|\($0)" }.sorted(), "each message exactly once")

        adapter.shutdown()
        try await server.value
        await producer.shutdown()
        try store.close()
    }
}

/// MSA-1 of an acknowledgement frame.
private func ackCode(_ frame: [UInt8]?) -> String {
    guard let frame else { return "none" }
    let text = String(decoding: frame, as: UTF8.self)
    guard let msa = text.split(separator: "\r").first(where: { $0.hasPrefix("MSA|") }) else { return "none" }
    return String(msa.split(separator: "|", omittingEmptySubsequences: false)[1])
}
