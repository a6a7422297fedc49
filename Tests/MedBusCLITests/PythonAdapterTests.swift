import Foundation
import MedBusKafka
import MedBusTestSupport
import XCTest

/// The adapter contract kept by a non-Swift adapter: `Adapters/python-example/medbus_adapter.py`
/// (confluent-kafka) produces HL7 v2 messages to the raw topic, a Swift producer the same
/// messages under other control ids, and `medbus route` with the shipped mapping routes both: the
/// canonical records are the same, and nothing is dead-lettered.
final class PythonAdapterTests: XCTestCase {
    static let count = 12
    static let rawTopic = "raw.his.H37010200001"

    static func message(_ n: Int, controlId: String) -> String {
        "MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045+0800||ADT^A08^ADT_A01|\(controlId)|P|2.5\rEVN|A08|20250115103045\rPID|1||P\(n)^^^H37010200001^MR||测试^\(n)||19900101|F\rPV1|1|I|0301^0312^02||||||||||||||||V\(n)^^^H37010200001^VN\r"
    }

    func testPythonAdapterRecordsAreRoutedLikeSwiftOnes() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        for (topic, partitions) in [(Self.rawTopic, 3), ("canonical.patient", 3), ("canonical.encounter", 3), ("dlq.routing", 1), ("medbus.mappings", 1)] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        }
        let bootstrap = cluster.bootstrapServers
        let data = temporaryDirectory()
        let publish = try medbus(["mapping", "publish", "Mappings/his/adt-patient-encounter.yaml", "--note", "python adapter test", "--brokers", bootstrap, "--data-dir", data])
        XCTAssertEqual(publish.status, 0, publish.stderr)

        // Swift side: records as the SDK writes them.
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap))
        let swiftRecords = (0..<Self.count).map { n in rawRecord(topic: Self.rawTopic, key: "P\(n)", id: "swift-\(n)", hl7: Self.message(n, controlId: "SW\(n)")) }
        for report in try await producer.sendBatch(swiftRecords) { XCTAssertNil(report.error) }
        await producer.shutdown()

        // Python side: one file per message, through the example adapter.
        let files = try (0..<Self.count).map { n -> String in
            let path = data + "/py\(n).hl7"
            try Self.message(n, controlId: "PY\(n)").write(toFile: path, atomically: true, encoding: .utf8)
            return path
        }
        let acks = try runTool("/usr/bin/python3", [packageRoot.appendingPathComponent("Adapters/python-example/medbus_adapter.py").path,
                                                    "--brokers", bootstrap, "--sender", "H37010200001"] + files)
        XCTAssertEqual(acks.split(separator: "\n").filter { $0.hasPrefix("ACK PY") }.count, Self.count, acks)

        let router = try MedBusProcess(["route", "--brokers", bootstrap, "--data-dir", data, "--instance", "python-test", "--kafka-option", "session.timeout.ms=6000"])
        defer { router.signal(SIGKILL) }

        // Which raw record each output came from: Swift or Python.
        let raw = try await KafkaTopicReader.read(config: KafkaConfig(bootstrapServers: bootstrap), topic: Self.rawTopic, since: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(raw.count, 2 * Self.count)
        var origin: [String: String] = [:]
        for record in raw { origin["\(record.partition)/\(record.offset)"] = record.headers.string("medbus-source-message-id") ?? record.headers.string("medbus-message-id") }

        for topic in ["canonical.patient", "canonical.encounter"] {
            let outputs = try await readCommitted(topic, bootstrap: bootstrap, expecting: 2 * Self.count, timeout: .seconds(90))
            XCTAssertEqual(outputs.count, 2 * Self.count, topic)
            var swift: [String] = []
            var python: [String] = []
            for output in outputs {
                let source = "\(output.headers.string("medbus-source-partition") ?? "")/\(output.headers.string("medbus-source-offset") ?? "")"
                let from = try XCTUnwrap(origin[source], "\(topic): output names a raw record")
                // The control id is the only difference between the two inputs.
                let body = (output.valueString ?? "").replacingOccurrences(of: "SW", with: "#").replacingOccurrences(of: "PY", with: "#")
                if from.contains("|PY") { python.append(body) } else { swift.append(body) }
            }
            XCTAssertEqual(python.count, Self.count, "\(topic): every Python record routed")
            XCTAssertEqual(python.sorted(), swift.sorted(), "\(topic): same canonical records from both adapters")
        }
        let dead = try await KafkaTopicReader.read(config: KafkaConfig(bootstrapServers: bootstrap), topic: "dlq.routing", since: Date(timeIntervalSince1970: 0))
        XCTAssertEqual(dead.count, 0, "nothing dead-lettered: \(dead.compactMap { $0.headers.string("medbus-error-reason") })")
    }
}
