import Foundation
import GRDB
import Logging
import MedBusAdapterSDK
import MedBusCore
import MedBusKafka
import MedBusStore
import MedBusTableAdapter
import XCTest

/// The adapter in process against an SQLite intermediate table and the embedded Kafka cluster:
/// rows published once as JSON, the status written back, a row that cannot become a message kept
/// as rejected, updates ignored (`onUpdate: ignore`), and a restart that publishes only new rows.
final class SQLiteTableAdapterTests: XCTestCase {
    func testRowsArePublishedOnceWithWriteBackAndUpdatesIgnored() async throws {
        let dir = NSTemporaryDirectory() + "medbus-table-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let his = try DatabaseQueue(path: dir + "/his.sqlite")
        try await his.write { db in
            try db.execute(sql: """
                CREATE TABLE lab_result_out (seq INTEGER PRIMARY KEY, patient_no TEXT, kind TEXT, amount NUMERIC, note TEXT, sent TEXT, medbus_id TEXT);
                """)
        }
        func insert(_ range: Range<Int>, kind: @escaping @Sendable (Int) -> String? = { _ in "ORU^R01" }) async throws {
            try await his.write { db in
                for n in range {
                    try db.execute(sql: "INSERT INTO lab_result_out (seq, patient_no, kind, amount, note) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [n, "P\(n % 7)", kind(n), "12.50", "结果 \(n)"])
                }
            }
        }
        try await insert(1..<31, kind: { $0 == 17 ? nil : "ORU^R01" })

        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic("raw.his.H37010200009", partitions: 3, replicationFactor: 1)
        let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let store = try MessageStore.open(directory: dir + "/data")
        let producer = try KafkaProducer(config: kafka)
        let ingest = DurableIngest(store: store, producer: producer)
        let manifest = AdapterManifest(kind: "intermediate-table", name: "lab-out", sender: "H37010200009", host: "", port: 0, options: [
            "database": "sqlite:\(dir)/his.sqlite",
            "query": "SELECT seq, patient_no, kind, amount, note FROM lab_result_out WHERE seq > 0;",
            "idColumn": "seq", "keyColumn": "patient_no", "messageTypeColumn": "kind",
            "statusUpdate": "UPDATE lab_result_out SET sent = 'published', medbus_id = ?2 WHERE seq = ?1",
            "pollIntervalMilliseconds": "50", "settleMilliseconds": "200",
        ])
        func startAdapter() throws -> (IntermediateTableAdapter, Task<Void, any Error>) {
            let adapter = try IntermediateTableAdapter(manifest: manifest, ingest: ingest, stateDirectory: dir + "/data")
            return (adapter, Task { try await adapter.run() })
        }
        var (adapter, running) = try startAdapter()

        func published() async throws -> [KafkaConsumerMessage] {
            try await KafkaTopicReader.read(config: kafka, topic: "raw.his.H37010200009", since: Date(timeIntervalSince1970: 0))
        }
        func waitFor(_ count: Int) async throws -> [KafkaConsumerMessage] {
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline {
                if try await published().count >= count { break }
                try await Task.sleep(for: .milliseconds(100))
            }
            try await Task.sleep(for: .milliseconds(500))  // let duplicates, if any, arrive
            return try await published()
        }

        var records = try await waitFor(29)
        XCTAssertEqual(records.count, 29, "30 rows, one without a message type")
        let first = try XCTUnwrap(records.first { $0.headers.string(MessageEnvelope.Header.sourceMessageId) == "lab-out:1" })
        XCTAssertEqual(first.keyString, "P1")
        XCTAssertEqual(first.headers.string(MessageEnvelope.Header.messageType), "ORU^R01")
        XCTAssertEqual(first.headers.string(MessageEnvelope.Header.contentType), "application/json")
        XCTAssertEqual(first.headers.string(MessageEnvelope.Header.source), "his.H37010200009")
        // Columns in query order; NUMERIC stays exact; UTF-8 text intact.
        XCTAssertEqual(first.valueString, #"{"seq":1,"patient_no":"P1","kind":"ORU^R01","amount":12.5,"note":"结果 1"}"#)

        // Write-back: every published row carries the MedBus id it was published under.
        let sent = try await his.read { db in try Row.fetchAll(db, sql: "SELECT seq, sent, medbus_id FROM lab_result_out ORDER BY seq") }
        for row in sent {
            let seq: Int = row["seq"]
            if seq == 17 { XCTAssertNil(row["sent"] as String?); continue }
            XCTAssertEqual(row["sent"], "published")
            let record = try XCTUnwrap(records.first { $0.headers.string(MessageEnvelope.Header.sourceMessageId) == "lab-out:\(seq)" })
            XCTAssertEqual(record.headers.string(MessageEnvelope.Header.id), row["medbus_id"])
        }
        // The unreadable row is kept for operators with the reason.
        let rejected = try store.search(MessageQuery(source: "his.H37010200009", status: .rejected))
        XCTAssertEqual(rejected.count, 1)
        XCTAssertEqual(rejected.first?.type, "table.unreadable")
        XCTAssertTrue(rejected.first?.error?.contains("'kind' (the message type) is missing or null") == true, "\(rejected.first?.error ?? "")")

        // onUpdate: ignore — a changed row is not published again; new rows are.
        try await his.write { db in try db.execute(sql: "UPDATE lab_result_out SET note = 'changed' WHERE seq = 3") }
        try await insert(31..<41)
        records = try await waitFor(39)
        XCTAssertEqual(records.count, 39)

        // Restart on the same state: nothing is published again, the next rows are.
        adapter.shutdown()
        try await running.value
        try await insert(41..<46)
        (adapter, running) = try startAdapter()
        records = try await waitFor(44)
        adapter.shutdown()
        try await running.value
        let ids = records.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }
        XCTAssertEqual(ids.count, 44)
        XCTAssertEqual(Set(ids), Set((1..<46).filter { $0 != 17 }.map { "lab-out:\($0)" }))

        await producer.shutdown()
        try store.close()
    }

    func testManifestMistakesAreNamed() {
        func settings(_ options: [String: String]) -> String {
            let manifest = AdapterManifest(kind: "intermediate-table", name: "t", sender: "H1", host: "", port: 0, options: options, file: "t.yaml")
            do { _ = try TableAdapterSettings(manifest: manifest); return "ok" } catch { return "\(error)" }
        }
        let base = ["database": "sqlite:/x", "query": "SELECT 1", "idColumn": "id", "messageType": "ADT^A08"]
        XCTAssertEqual(settings(base), "ok")
        XCTAssertEqual(settings(base.filter { $0.key != "query" }), "t.yaml: options.query is required for kind intermediate-table")
        XCTAssertEqual(settings(base.merging(["messageTypeColumn": "t"]) { $1 }), "t.yaml: give exactly one of options.messageType and options.messageTypeColumn")
        XCTAssertEqual(settings(base.merging(["onUpdate": "republish"]) { $1 }), "t.yaml: options.onUpdate: republish needs options.versionColumn")
        XCTAssertEqual(settings(base.merging(["onUpdate": "merge"]) { $1 }), "t.yaml: options.onUpdate must be ignore or republish, not 'merge'")
        XCTAssertEqual(settings(base.merging(["pollInterval": "5"]) { $1 }), "t.yaml: unknown options [\"pollInterval\"] for kind intermediate-table")
    }
}
