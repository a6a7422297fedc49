import Foundation
import MedBusKafka
import XCTest

/// The routing core's exactly-once promise, end to end: `medbus route` is killed with SIGKILL 20
/// times at random points while 20,000 raw HL7 messages stream in; a read_committed consumer
/// of each target topic then sees every message exactly once and, per key, in input order.
final class RouterCrashTests: XCTestCase {
    static let total = 20_000
    static let kills = 20
    static let rawTopic = "raw.his.H37010200001"

    /// ADT^A08 for one of 400 patients; the control id carries the sequence number.
    static func message(_ n: Int) -> String {
        "MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045+0800||ADT^A08^ADT_A01|K\(n)|P|2.5\rEVN|A08|20250115103045\rPID|1||P\(n % 400)^^^H37010200001^MR||测试^\(n)||19900101|F\rPV1|1|I|0301^0312^02||||||||||||||||V\(n % 400)^^^H37010200001^VN\r"
    }

    func testKillDashNineTwentyTimesDuringStreamKeepsExactlyOnceAndOrder() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        for (topic, partitions) in [(Self.rawTopic, 6), ("canonical.patient", 6), ("canonical.encounter", 6), ("dlq.routing", 3), ("medbus.mappings", 1)] {
            try cluster.createTopic(topic, partitions: partitions)
        }
        let bootstrap = cluster.bootstrapServers
        let data = temporaryDirectory()
        let publish = try medbus(["mapping", "publish", "Mappings/his/adt-patient-encounter.yaml", "--note", "crash test", "--brokers", bootstrap, "--data-dir", data])
        XCTAssertEqual(publish.status, 0, publish.stderr)

        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap))
        func produce(_ range: Range<Int>) async throws {
            let records = range.map { n in rawRecord(topic: Self.rawTopic, key: "P\(n % 400)", id: "m-\(n)", hl7: Self.message(n)) }
            for report in try await producer.sendBatch(records) { XCTAssertNil(report.error) }
        }

        func startRouter() throws -> MedBusProcess {
            try MedBusProcess(["route", "--brokers", bootstrap, "--data-dir", data, "--instance", "crash-test",
                               "--kafka-option", "session.timeout.ms=6000"])
        }

        // Every other router is killed only after it has committed routed work of its own, so
        // the kills land mid-stream however slow the machine; the others die early, during the
        // in-doubt scan or the first transaction.
        let progress = try CommittedProgress(topic: "canonical.patient", bootstrap: bootstrap)
        var rng = SystemRandomNumberGenerator()
        let chunk = Self.total / Self.kills
        for round in 0..<Self.kills {
            try await produce(round * chunk ..< (round + 1) * chunk)
            let router = try startRouter()
            try router.waitForOutput(timeout: 90, errors: true) { $0.contains("partitions assigned") }
            if round.isMultiple(of: 2) {
                let committed = await progress.count
                let progressed = try await progress.wait(beyond: committed, timeout: .seconds(120))
                XCTAssertTrue(progressed, "round \(round): the router committed nothing in 120 s: \(router.stderr.suffix(800))")
            }
            try await Task.sleep(for: .milliseconds(Int.random(in: 0...1_500, using: &rng)))
            router.signal(SIGKILL)
            XCTAssertEqual(router.wait(), SIGKILL, "round \(round): killed, not exited: \(router.stderr.suffix(800))")
        }
        await progress.close()
        let final = try startRouter()
        defer { final.signal(SIGKILL) }

        for topic in ["canonical.patient", "canonical.encounter"] {
            let outputs = try await readCommitted(topic, bootstrap: bootstrap, expecting: Self.total)
            let sources = outputs.compactMap { record -> String? in
                guard let partition = record.headers.string("medbus-source-partition"), let offset = record.headers.string("medbus-source-offset") else { return nil }
                return "\(partition)/\(offset)"
            }
            XCTAssertEqual(sources.count, outputs.count, "\(topic): every output names its source")
            let distinct = Set(sources)
            XCTAssertEqual(outputs.count, Self.total, "\(topic): \(outputs.count - distinct.count) duplicates")
            XCTAssertEqual(distinct.count, Self.total, "\(topic): every message routed")
            // Per key, outputs appear in the order their inputs were consumed.
            var lastSeen: [String: Int64] = [:]
            var outOfOrder = 0
            for output in outputs.sorted(by: { ($0.partition, $0.offset) < ($1.partition, $1.offset) }) {
                guard let key = output.keyString, let offset = output.headers.string("medbus-source-offset").flatMap({ Int64($0) }) else { continue }
                if let previous = lastSeen[key], previous >= offset { outOfOrder += 1 }
                lastSeen[key] = offset
            }
            XCTAssertEqual(outOfOrder, 0, "\(topic): per-key order")
        }
        await producer.shutdown()
    }
}
