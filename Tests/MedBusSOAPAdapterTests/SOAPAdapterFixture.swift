import Foundation
import MedBusAdapterSDK
import MedBusKafka
import MedBusSOAPAdapter
import MedBusStore
import MedBusTestSupport
import XCTest

/// A running `SOAPHISAdapter` on a live port, over a real embedded Kafka cluster, a real store in
/// a temporary folder and `DurableIngest`. Requests go through `curl` and Python `zeep`: SOAP
/// clients not written in this project.
class SOAPAdapterTestCase: XCTestCase {
    static let sender = "H37010200001"
    static let topic = "raw.his.H37010200001"
    static let path = "/services/HIPMessageService"
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path
    /// The WS-Security users of `secured(…)` adapters.
    static let users = "# username:password\nhis01:s3cret-pass\n"

    var cluster: EmbeddedKafkaCluster!
    var store: MessageStore!
    var directory = ""
    var producer: KafkaProducer!
    var adapter: SOAPHISAdapter!
    var running: Task<Void, any Error>!
    var port = 0
    var url: String { "http://127.0.0.1:\(port)\(Self.path)" }

    /// Extra manifest options for the adapter of this test case.
    var options: [String: String] { [:] }

    override func setUp() async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(Self.topic, partitions: 4)
        directory = NSTemporaryDirectory() + "soap-adapter-\(UUID().uuidString.prefix(8))"
        store = try MessageStore.open(directory: directory)
        // Short delivery timeout so the broker-outage test gets its fault within seconds.
        producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["message.timeout.ms": "2000"]))
        try Data(Self.users.utf8).write(to: URL(fileURLWithPath: directory + "/users.txt"))
        let manifest = AdapterManifest(
            kind: SOAPHISAdapter.kind, name: "soap-test", sender: Self.sender, host: "127.0.0.1", port: 0,
            options: options.mapValues { $0.replacingOccurrences(of: "$DIR", with: directory) }.merging(["retryAfterSeconds": "7"]) { a, _ in a }
        )
        adapter = try SOAPHISAdapter(manifest: manifest, ingest: DurableIngest(store: store, producer: producer))
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

    struct Answer {
        var status: Int
        var headers: [String: String]
        var body: String
    }

    /// POSTs `body` with curl (from a file, as a saved envelope is sent).
    func curl(_ body: [UInt8], contentType: String, soapAction: String? = nil) throws -> Answer {
        let file = directory + "/request-\(UUID().uuidString.prefix(8)).xml"
        try Data(body).write(to: URL(fileURLWithPath: file))
        var arguments = ["-sS", "-D", "-", "-H", "Content-Type: \(contentType)", "--data-binary", "@\(file)", url]
        if let soapAction { arguments += ["-H", "SOAPAction: \(soapAction)"] }
        return Self.parse(try runTool("/usr/bin/curl", arguments))
    }

    func curlGet(_ query: String) throws -> Answer {
        Self.parse(try runTool("/usr/bin/curl", ["-sS", "-D", "-", url + query]))
    }

    private static func parse(_ output: String) -> Answer {
        let parts = output.components(separatedBy: "\r\n\r\n")
        let head = parts[0].components(separatedBy: "\r\n")
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        let status = Int(head[0].split(separator: " ").dropFirst().first ?? "") ?? 0
        return Answer(status: status, headers: headers, body: parts.dropFirst().joined(separator: "\r\n\r\n"))
    }

    /// Runs a Python script (zeep) with the WSDL URL as its argument; returns its JSON output.
    func python(_ script: String) throws -> [String: Any] {
        let file = directory + "/client.py"
        try Data(script.utf8).write(to: URL(fileURLWithPath: file))
        let output = try runTool("/usr/bin/env", ["python3", file, url + "?wsdl"])
        return (try JSONSerialization.jsonObject(with: Data(output.utf8))) as? [String: Any] ?? [:]
    }

    func sample(_ path: String) throws -> [UInt8] {
        Array(try Data(contentsOf: URL(fileURLWithPath: Self.repository + "/" + path)))
    }

    /// The shipped v3 registration with another message id.
    func registration(id: String) throws -> String {
        String(decoding: try sample("Adapters/samples/prpa_in201311uv02.xml"), as: UTF8.self)
            .replacingOccurrences(of: "MSG-8d0f5a7e-1c2b-4e3d-9f60-2a1b3c4d5e6f", with: id)
    }

    /// A SOAP 1.1 envelope with `body` as the Body's content and an optional Header.
    static func soap11(_ body: String, header: String = "") -> [UInt8] {
        Array("<soap:Envelope xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\">\(header.isEmpty ? "" : "<soap:Header>\(header)</soap:Header>")<soap:Body>\(body)</soap:Body></soap:Envelope>".utf8)
    }

    static func soap12(_ body: String) -> [UInt8] {
        Array("<env:Envelope xmlns:env=\"http://www.w3.org/2003/05/soap-envelope\"><env:Body>\(body)</env:Body></env:Envelope>".utf8)
    }

    /// `<HIPMessageServer>` with the v3 document as escaped text.
    static func wrapped(_ document: String, action: String = "PatientRegistryAdd") -> String {
        let escaped = document.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        return "<HIPMessageServer xmlns=\"urn:medbus:soap\"><action>\(action)</action><message>\(escaped)</message></HIPMessageServer>"
    }

    /// Every record on the topic (reads until a quiet second after the first record, `wait` at most).
    func recordsOnTopic(wait: Duration = .seconds(8)) async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers), groupID: "check-\(UUID())", topics: [Self.topic])
        defer { Task { await consumer.close() } }
        var seen: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + wait
        while ContinuousClock.now < deadline {
            let batch = try await consumer.nextBatch(maxCount: 100, within: .seconds(1))
            seen += batch
            if batch.isEmpty && !seen.isEmpty { break }
        }
        return seen
    }

    func rejections() throws -> [MessageSummary] {
        try store.search(MessageQuery(source: "his.\(Self.sender)", status: .rejected, limit: 100))
    }
}

extension KafkaConsumerMessage {
    var text: String { String(decoding: value ?? [], as: UTF8.self) }
}
