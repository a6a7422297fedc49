import Foundation
import MedBusCore
import MedBusKafka
import XCTest

/// The vendor guide's "adapter in 30 lines" (`Adapters/Example`, executable `medbus-adapter-example`)
/// runs as its own process against a real embedded Kafka cluster: each file lands on Kafka once.
final class ExampleAdapterTests: XCTestCase {
    static let executable: URL = {
        let candidates = [Bundle.main.bundleURL, Bundle.main.bundleURL.deletingLastPathComponent()] + Bundle.allBundles.map { $0.bundleURL.deletingLastPathComponent() }
        for directory in candidates where FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent("medbus-adapter-example").path) {
            return directory.appendingPathComponent("medbus-adapter-example")
        }
        return URL(fileURLWithPath: ".build/debug/medbus-adapter-example")
    }()

    func testEachDroppedFileLandsOnKafkaOnce() async throws {
        let topic = "raw.his.H37010200001"
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 2)
        let folder = NSTemporaryDirectory() + "example-adapter-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for number in 1...3 { try Data("note \(number)\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/note-\(number).txt")) }

        let process = Process()
        process.executableURL = Self.executable
        process.arguments = [folder, cluster.bootstrapServers, "H37010200001"]
        process.standardOutput = FileHandle(forWritingAtPath: "/dev/null")
        try process.run()
        defer { if process.isRunning { process.terminate() } }

        try await waitUntil { try Self.pending(in: folder).isEmpty }
        // The same file dropped again (a resend): acknowledged from the store, not published again.
        try Data("note 2\n".utf8).write(to: URL(fileURLWithPath: "\(folder)/note-2.txt"))
        try await waitUntil { try Self.pending(in: folder).isEmpty }
        process.terminate()
        process.waitUntilExit()
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder + "/sent").sorted(), ["note-1.txt", "note-2.txt", "note-3.txt"])

        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [topic])
        var records: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            let batch = try await consumer.nextBatch(maxCount: 100, within: .seconds(1))
            records += batch
            if batch.isEmpty && records.count >= 3 { break }
        }
        await consumer.close()
        XCTAssertEqual(records.compactMap { $0.headers.string(MessageEnvelope.Header.sourceMessageId) }.sorted(), ["note-1.txt", "note-2.txt", "note-3.txt"], "each once")
        XCTAssertEqual(Set(records.compactMap { $0.headers.string(MessageEnvelope.Header.source) }), ["his.H37010200001"])
        XCTAssertEqual(Set(records.map { String(decoding: $0.value ?? [], as: UTF8.self) }), ["note 1\n", "note 2\n", "note 3\n"])
    }

    private static func pending(in folder: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: folder).filter { $0.hasSuffix(".txt") }
    }

    private func waitUntil(timeout: Duration = .seconds(30), _ condition: () throws -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while try !condition() {
            guard ContinuousClock.now < deadline else { return XCTFail("condition not met within \(timeout)") }
            try await Task.sleep(for: .milliseconds(100))
        }
    }
}
