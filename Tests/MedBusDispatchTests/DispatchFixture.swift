import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore
@testable import MedBusDispatch
import MedBusKafka
import MedBusStore
import NIOConcurrencyHelpers
import XCTest

/// The dispatch pipeline as `medbus serve` runs it, on real parts: an embedded Kafka cluster, the
/// SQLite message store, the adapter on TCP and HTTP ports, and the timeline consumer with its
/// SQLite database, all in a fresh directory.
final class DispatchFixture: @unchecked Sendable {
    static let hospitals = ["H37010200001", "H37010300002", "H37010400003"]
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    static let vitalSignsPath = repository + "/Mappings/dispatch/vital-signs.csv"

    let cluster: EmbeddedKafkaCluster
    let directory: String
    let store: MessageStore
    let timelines: TimelineStore
    let vitalSigns: VitalSigns
    private(set) var tcpPort = 0
    private(set) var httpPort = 0
    private let producer: KafkaProducer
    private let adapter: DispatchAdapter
    private var running: [Task<Void, Error>] = []

    var kafka: KafkaConfig {
        KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "heartbeat.interval.ms": "500", "log_level": "3"])
    }

    init(maxLineBytes: Int = 4096, extraTopics: [String] = []) async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(TopicName.dispatchEvents, partitions: 12)
        for hospital in Self.hospitals { try cluster.createTopic(try TopicName.dispatchPrearrival(hospital: hospital), partitions: 4) }
        for topic in extraTopics { try cluster.createTopic(topic, partitions: 4) }
        directory = NSTemporaryDirectory() + "medbus-dispatch-\(UUID().uuidString.prefix(8))"
        store = try MessageStore.open(directory: directory)
        vitalSigns = try VitalSigns.load(path: Self.vitalSignsPath)
        timelines = try TimelineStore.open(directory: directory, vitalSigns: vitalSigns)
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["linger.ms": "1", "log_level": "3"]))
        let manifest = AdapterManifest(
            kind: DispatchAdapter.kind, name: "dispatch-test", sender: "JN120", host: "127.0.0.1", port: 0,
            options: ["httpListen": "127.0.0.1:0", "vitalSigns": Self.vitalSignsPath, "maxLineBytes": "\(maxLineBytes)"]
        )
        adapter = try DispatchAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer), logger: Self.quiet("test.dispatch"))
        let ports = NIOLockedValueBox<(tcp: Int, http: Int)>((0, 0))
        running.append(Task { [adapter] in
            try await adapter.run(onBound: { port in ports.withLockedValue { $0.tcp = port } }, onHTTPBound: { port in ports.withLockedValue { $0.http = port } })
        })
        let service = TimelineService(store: timelines, kafka: kafka, vitalSigns: vitalSigns, logger: Self.quiet("test.timeline"))
        running.append(Task { try await service.run() })
        let deadline = ContinuousClock.now + .seconds(10)
        while ports.withLockedValue({ $0.tcp == 0 || $0.http == 0 }), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
        (tcpPort, httpPort) = ports.withLockedValue { $0 }
        XCTAssertNotEqual(tcpPort, 0, "TCP listener bound")
    }

    /// Stops the timeline consumer (it finishes its batch and leaves the group) and starts a new one
    /// on the same database, as a restarted `medbus serve` would.
    func restartTimeline() async {
        let old = running.removeLast()
        old.cancel()
        _ = try? await old.value
        let service = TimelineService(store: timelines, kafka: kafka, vitalSigns: vitalSigns, logger: Self.quiet("test.timeline"))
        running.append(Task { try await service.run() })
    }

    /// Stops the adapter and the consumer and closes the databases.
    func stop() async {
        adapter.shutdown()  // graceful: the adapter task ends by itself
        _ = try? await running.first?.value
        for task in running.dropFirst() {
            task.cancel()
            _ = try? await task.value
        }
        running = []
        await producer.shutdown()
        try? timelines.close()
        try? store.close()
        try? FileManager.default.removeItem(atPath: directory)
    }

    static func quiet(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = .error
        return logger
    }

    /// Waits until the timeline database holds `count` distinct events and every notice is on Kafka.
    func waitForEvents(_ count: Int, timeout: Duration = .seconds(120)) async throws {
        let deadline = ContinuousClock.now + timeout
        while try timelines.eventCount() < count || !timelines.unpublishedNotices().isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
        }
    }

    /// Every record of `topic` from the beginning, read with a fresh group until `count` arrived or the timeout.
    func read(_ topic: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: kafka, groupID: "reader-\(UUID().uuidString.prefix(6))", topics: [topic])
        let deadline = ContinuousClock.now + timeout
        var records: [KafkaConsumerMessage] = []
        while records.count < count, ContinuousClock.now < deadline {
            records += try await consumer.nextBatch(maxCount: 5000, within: .milliseconds(500))
        }
        // A little longer, to see records that should not be there.
        records += try await consumer.nextBatch(maxCount: 5000, within: .milliseconds(500))
        await consumer.close()
        return records
    }
}

/// Runs blocking socket work on its own thread, off Swift's small cooperative pool.
func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.start()
    }
}

/// Sends `lines` over one TCP connection while reading one acknowledgement per line.
func sendOverTCP(port: Int, lines: [[UInt8]]) async throws -> [JSONValue] {
    let client = try LineClient(port: port)
    async let written: Void = onThread {
        for line in lines { try client.send(line: line) }
    }
    let acks = try await onThread { () -> [JSONValue] in
        var acks: [JSONValue] = []
        while acks.count < lines.count, let line = try client.readLine() { acks.append(try JSONParser.parse(line)) }
        return acks
    }
    try await written
    return acks
}

extension JSONValue {
    var errorCode: String? { self["error"]?["code"]?.stringValue }
    var status: String? { self["status"]?.stringValue }
}
