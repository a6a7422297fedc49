import Foundation
import MedBusKafka
import XCTest

/// Operator workflows against a running `medbus route`: publishing and rolling back a mapping
/// while records stream, and fixing a dead letter's cause then replaying it.
final class RouterLifecycleTests: XCTestCase {
    static let rawTopic = "raw.his.H37010200001"

    static func adt(_ n: Int, sex: String = "F") -> String {
        "MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045+0800||ADT^A08^ADT_A01|K\(n)|P|2.5\rPID|1||P\(n % 50)^^^H37010200001^MR||测试^\(n)||19900101|\(sex)\r"
    }

    /// A mapping of its own, so the test can change it: `rev` tells which version produced a record.
    static func mapping(rev: String) -> String {
        """
        name: reload-test
        source:
          format: hl7v2
          messageTypes: ["ADT^*"]
        codeTables:
          sex: { file: codes/sex.csv, onMissing: error }
        targets:
          - name: out
            format: json
            topic: test.out
            key: { path: "PID-3.1" }
            body:
              seq: { path: MSH-10, required: true }
              gender: { path: PID-8, code: sex }
              rev: { const: \(rev) }

        """
    }

    /// An embedded cluster, the test's mapping published as v1, and `medbus route` running it.
    private final class Routing {
        let cluster: EmbeddedKafkaCluster
        let work = temporaryDirectory()
        var bootstrap: String { cluster.bootstrapServers }
        var data: String { work + "/data" }
        private(set) var router: MedBusProcess?

        init(partitions: Int) throws {
            cluster = try EmbeddedKafkaCluster(brokers: 3)
            for (topic, count) in [(rawTopic, partitions), ("test.out", partitions), ("dlq.routing", 1), ("medbus.mappings", 1)] {
                try cluster.createTopic(topic, partitions: count)
            }
            try FileManager.default.createDirectory(atPath: work + "/codes", withIntermediateDirectories: true)
            try "code,target,display\nF,female,\nM,male,\n".write(toFile: work + "/codes/sex.csv", atomically: true, encoding: .utf8)
            try RouterLifecycleTests.mapping(rev: "one").write(toFile: work + "/reload.yaml", atomically: true, encoding: .utf8)
            _ = try cli(["mapping", "publish", work + "/reload.yaml", "--note", "v1"])
            let router = try MedBusProcess(["route", "--brokers", bootstrap, "--data-dir", data, "--instance", "lifecycle", "--kafka-option", "session.timeout.ms=6000"])
            self.router = router
            try router.waitForOutput(timeout: 60) { $0.contains("routing with") }
        }

        deinit { router?.signal(SIGKILL) }

        /// Runs a medbus command against this cluster and data directory; it must succeed.
        func cli(_ arguments: [String]) throws -> String {
            let result = try medbus(arguments + ["--brokers", bootstrap, "--data-dir", data])
            XCTAssertEqual(result.status, 0, "\(arguments.joined(separator: " ")): \(result.stderr)")
            return result.stdout
        }

        func waitForRouter(_ text: String) throws { try router?.waitForOutput(timeout: 30) { $0.contains(text) } }
    }

    /// Publish v2 and roll back to v1 while 3,000 records stream: every record routed exactly
    /// once, each output's body matches the version in its header, and each partition switches
    /// 1 → 2 → 1 once.
    func testPublishAndRollbackWhileStreamingSwitchVersionsWithoutLossOrDuplicates() async throws {
        let routing = try Routing(partitions: 3)
        defer { withExtendedLifetime(routing) {} }
        let bootstrap = routing.bootstrap, work = routing.work

        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap))
        let total = 3_000
        let stream = Task { [producer] in try await RouterLifecycleTests.stream(producer, ticks: 100, perTick: 30) }
        try await Task.sleep(for: .seconds(3))
        try Self.mapping(rev: "two").write(toFile: work + "/reload.yaml", atomically: true, encoding: .utf8)
        XCTAssertTrue(try routing.cli(["mapping", "publish", work + "/reload.yaml", "--note", "v2"]).contains("reload-test@2"))
        try routing.waitForRouter("reload-test@2")
        try await Task.sleep(for: .seconds(3))
        XCTAssertTrue(try routing.cli(["mapping", "rollback", "reload-test", "--to", "1"]).contains("version 1"))
        let failedSends = try await stream.value
        XCTAssertEqual(failedSends, 0, "every raw record produced")
        await producer.shutdown()

        let outputs = try await readCommitted("test.out", bootstrap: bootstrap, expecting: total, timeout: .seconds(120))
        let seqs = outputs.compactMap { body($0)["seq"] }
        XCTAssertEqual(outputs.count, total, "\(outputs.count - Set(seqs).count) duplicates")
        XCTAssertEqual(Set(seqs), Set((0..<total).map { "K\($0)" }), "every record routed")
        var versionsSeen: Set<String> = []
        for partition in Set(outputs.map(\.partition)) {
            let versions = outputs.filter { $0.partition == partition }.sorted { $0.offset < $1.offset }.map { record -> String in
                let version = record.headers.string("medbus-mapping-version") ?? "none"
                XCTAssertEqual(body(record)["rev"], version == "reload-test@2" ? "two" : "one", "body matches header \(version)")
                return version
            }
            var runs: [String] = []
            for version in versions where runs.last != version { runs.append(version) }
            XCTAssertLessThanOrEqual(runs.count, 3, "partition \(partition) switches at most twice: \(runs)")
            versionsSeen.formUnion(versions)
        }
        XCTAssertEqual(versionsSeen, ["reload-test@1", "reload-test@2"])
        let history = try medbus(["mapping", "history", "reload-test", "--data-dir", routing.data]).stdout
        XCTAssertEqual(history.split(separator: "\n").filter { $0.contains("\t") && !$0.hasPrefix("AT") }.map { $0.split(separator: "\t")[1] }, ["publish", "publish", "rollback"])
    }

    /// A code missing from the table (policy error) dead-letters the record with the reason; after
    /// the code is added and published, `medbus dlq replay` routes it once — and only once, however
    /// often replay runs.
    func testDeadLetterForMissingCodeIsRoutedOnceAfterFixAndReplay() async throws {
        let routing = try Routing(partitions: 1)
        defer { withExtendedLifetime(routing) {} }
        let bootstrap = routing.bootstrap, work = routing.work

        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: bootstrap))
        for report in try await producer.sendBatch([
            rawRecord(topic: Self.rawTopic, key: "P1", id: "m-1", hl7: Self.adt(1)),
            rawRecord(topic: Self.rawTopic, key: "P2", id: "m-2", hl7: Self.adt(2, sex: "X")),
        ]) { XCTAssertNil(report.error) }

        let deadLetters = try await readCommitted("dlq.routing", bootstrap: bootstrap, expecting: 1, timeout: .seconds(60))
        XCTAssertEqual(deadLetters.count, 1)
        XCTAssertEqual(deadLetters.first?.headers.string("medbus-error-reason"), "missing-code")
        XCTAssertEqual(deadLetters.first?.headers.string("medbus-error-mapping"), "reload-test")
        XCTAssertFalse(deadLetters.first?.headers.string("medbus-error-message")?.contains("测试") ?? true, "no patient data in the reason")
        let listed = try routing.cli(["dlq", "list"])
        XCTAssertTrue(listed.contains("missing-code") && listed.contains("1 dead letters"), listed)

        try "code,target,display\nF,female,\nM,male,\nX,other,\n".write(toFile: work + "/codes/sex.csv", atomically: true, encoding: .utf8)
        _ = try routing.cli(["mapping", "publish", work + "/reload.yaml", "--note", "add sex code X"])
        try routing.waitForRouter("reload-test@2")
        XCTAssertTrue(try routing.cli(["dlq", "replay"]).contains("replayed 1 dead letters"))
        XCTAssertTrue(try routing.cli(["dlq", "replay"]).contains("replayed 0 dead letters; 1 already replayed"))

        let outputs = try await readCommitted("test.out", bootstrap: bootstrap, expecting: 2, timeout: .seconds(60))
        XCTAssertEqual(outputs.map { body($0)["seq"] ?? "" }.sorted(), ["K1", "K2"], "the replayed record reached its target once")
        XCTAssertEqual(outputs.first { body($0)["seq"] == "K2" }.flatMap { body($0)["gender"] }, "other")
        await producer.shutdown()
    }

    /// `perTick` raw records every 100 ms; returns how many could not be produced.
    private static func stream(_ producer: KafkaProducer, ticks: Int, perTick: Int) async throws -> Int {
        var failed = 0
        for tick in 0..<ticks {
            let records = (tick * perTick ..< (tick + 1) * perTick).map { rawRecord(topic: rawTopic, key: "P\($0 % 50)", id: "m-\($0)", hl7: adt($0)) }
            failed += try await producer.sendBatch(records).filter { $0.error != nil }.count
            try await Task.sleep(for: .milliseconds(100))
        }
        return failed
    }

    private func body(_ record: KafkaConsumerMessage) -> [String: String] {
        guard let value = record.value, let object = try? JSONSerialization.jsonObject(with: Data(value)) as? [String: Any] else { return [:] }
        return object.compactMapValues { $0 as? String }
    }
}
