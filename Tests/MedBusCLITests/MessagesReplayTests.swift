import Foundation
import MedBusKafka
import MedBusTestSupport
import XCTest

/// `medbus messages replay` re-drives stored messages onto their raw topic: same ids and
/// payloads, marked as a replay, only the selected time window.
final class MessagesReplayTests: XCTestCase {
    func testReplayProducesStoredMessagesAgainWithTheirIds() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        let topic = "raw.his.H37010200001"
        try cluster.createTopic(topic, partitions: 3)
        let dir = temporaryDirectory()
        try "kind: hl7v2-mllp\nname: replay-his\nsender: H37010200001\nlisten: 127.0.0.1:0\n".write(toFile: dir + "/his.yaml", atomically: true, encoding: .utf8)
        let adapter = try MedBusProcess(["adapter", "run", dir + "/his.yaml", "--brokers", cluster.bootstrapServers, "--data-dir", dir])
        defer { adapter.signal(SIGKILL) }
        try adapter.waitForOutput { $0.contains(") listening on") }
        let port = try XCTUnwrap(adapter.stdout.split(separator: "\n").first { $0.hasPrefix("Adapter ") && $0.contains(") listening on") }?.split(separator: ":").last.flatMap { Int($0) })
        let acks = try await onThread { () -> [String] in
            let client = try MLLPTestClient(port: port)
            return (1...3).map { n in
                client.sendFrame(Array("MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045||ADT^A08^ADT_A01|R\(n)|P|2.5\rPID|1||P\(n)^^^H37010200001^MR||测试^\(n)\r".utf8))
                return client.readFrame().map { String(decoding: $0, as: UTF8.self) } ?? ""
            }
        }
        XCTAssertEqual(acks.filter { $0.contains("MSA|AA") || $0.contains("MSA|CA") }.count, 3, "\(acks)")
        adapter.signal(SIGTERM)
        XCTAssertEqual(adapter.wait(), 0)

        // A window that excludes everything replays nothing.
        let none = try medbus(["messages", "replay", "--topic", topic, "--from", "2000-01-01T00:00:00Z", "--to", "2000-01-02T00:00:00Z",
                               "--brokers", cluster.bootstrapServers, "--data-dir", dir])
        XCTAssertEqual(none.status, 0, none.stderr)
        XCTAssertTrue(none.stdout.contains("replayed 0 messages"), none.stdout)
        let replay = try medbus(["messages", "replay", "--topic", topic, "--from", "2000-01-01T00:00:00Z", "--to", "2100-01-01T00:00:00Z",
                                 "--brokers", cluster.bootstrapServers, "--data-dir", dir])
        XCTAssertEqual(replay.status, 0, replay.stderr)
        XCTAssertTrue(replay.stdout.contains("replayed 3 messages"), replay.stdout)

        let records = try await readCommitted(topic, bootstrap: cluster.bootstrapServers, expecting: 6, timeout: .seconds(60))
        XCTAssertEqual(records.count, 6)
        let originals = records.filter { $0.headers.string("medbus-replay") == nil }
        let replayed = records.filter { $0.headers.string("medbus-replay") == "true" }
        XCTAssertEqual(replayed.count, 3)
        XCTAssertEqual(Set(replayed.compactMap { $0.headers.string("medbus-message-id") }), Set(originals.compactMap { $0.headers.string("medbus-message-id") }))
        XCTAssertEqual(Set(replayed.compactMap(\.valueString)), Set(originals.compactMap(\.valueString)), "same payloads")
        for record in replayed {
            let original = try XCTUnwrap(originals.first { $0.headers.string("medbus-message-id") == record.headers.string("medbus-message-id") })
            XCTAssertEqual(record.partition, original.partition, "same partition, so per-patient order holds")
            XCTAssertEqual(record.headers.string("medbus-source"), "his.H37010200001")
        }
    }
}
