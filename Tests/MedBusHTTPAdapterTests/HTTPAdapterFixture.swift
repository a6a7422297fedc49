import Foundation
import Hummingbird
import HummingbirdTesting
import MedBusAdapterSDK
import MedBusCore
import MedBusHTTPAdapter
import MedBusKafka
import MedBusStore
import XCTest

/// A running `HTTPHISAdapter` on a live port, over a real embedded Kafka cluster, a real store
/// in a temporary folder and `DurableIngest`: what each test talks to with an HTTP client.
class HTTPAdapterTestCase: XCTestCase {
    static let sender = "H37010200001"
    static let topic = "raw.his.H37010200001"
    /// Small, so the 413 test needs no large body.
    static let maxBodyBytes = 64 * 1024

    var cluster: EmbeddedKafkaCluster!
    var store: MessageStore!
    private var producer: KafkaProducer!
    var adapter: HTTPHISAdapter!
    var running: Task<Void, any Error>!
    var port = 0

    override func setUp() async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(Self.topic, partitions: 4)
        store = try MessageStore.open(directory: NSTemporaryDirectory() + "http-adapter-\(UUID().uuidString.prefix(8))")
        // Short delivery timeout so the broker-outage test answers 503 within seconds.
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["message.timeout.ms": "2000"]))
        let manifest = AdapterManifest(
            kind: HTTPHISAdapter.kind, name: "http-test", sender: Self.sender, host: "127.0.0.1", port: 0,
            options: ["maxBodyBytes": "\(Self.maxBodyBytes)", "retryAfterSeconds": "7"]
        )
        adapter = try HTTPHISAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
        let (bound, continuation) = AsyncStream.makeStream(of: Int.self)
        running = Task { [adapter] in try await adapter!.run { continuation.yield($0); continuation.finish() } }
        port = await bound.first { _ in true } ?? 0
        XCTAssertGreaterThan(port, 0)
    }

    override func tearDown() async throws {
        adapter.shutdown()
        try await running.value
        await producer.shutdown(timeout: .seconds(1))
        try store.close()
    }

    struct Answer: Sendable {
        var status: HTTPResponse.Status
        var headers: HTTPFields
        var body: String
        var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any] ?? [:] }
        /// `issue[0].code` of an OperationOutcome body.
        var issueCode: String? { ((json["issue"] as? [[String: Any]])?.first?["code"]) as? String }
    }

    /// One request on a fresh connection to the adapter's live port.
    func post(_ path: String, contentType: String, body: [UInt8], headers extra: HTTPFields = [:]) async throws -> Answer {
        try await Self.post(port: port, path, contentType: contentType, body: body, headers: extra)
    }

    static func post(port: Int, _ path: String, contentType: String, body: [UInt8], headers extra: HTTPFields = [:]) async throws -> Answer {
        var headers = extra
        headers[.contentType] = contentType
        return try await TestClient.withClient(host: "127.0.0.1", port: port) { [headers] client in
            let response = try await client.post(path, headers: headers, body: ByteBuffer(bytes: body))
            return Answer(status: response.status, headers: response.headers, body: response.body.map { String(decoding: $0.readableBytesView, as: UTF8.self) } ?? "")
        }
    }

    func sample(_ name: String) throws -> [UInt8] {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        return Array(try Data(contentsOf: root.appendingPathComponent("Adapters/samples/\(name)")))
    }

    /// Every record on the topic (reads until a quiet second after the first record, 8 s at most).
    func recordsOnTopic() async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [Self.topic])
        defer { Task { await consumer.close() } }
        var seen: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + .seconds(8)
        while ContinuousClock.now < deadline {
            let batch = try await withThrowingTaskGroup(of: [KafkaConsumerMessage].self) { group in
                group.addTask { try await consumer.nextBatch(maxCount: 100) }
                group.addTask { try await Task.sleep(for: .seconds(1)); return [] }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            seen += batch
            if batch.isEmpty && !seen.isEmpty { break }
        }
        return seen
    }

    /// Rejections kept in the store, newest last.
    func rejections() throws -> [MessageSummary] {
        try store.search(MessageQuery(source: "his.\(Self.sender)", status: .rejected, limit: 100))
    }
}
