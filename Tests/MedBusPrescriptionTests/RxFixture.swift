import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusCore
import MedBusKafka
@testable import MedBusPrescription
import MedBusTestSupport
import XCTest

let hospital = "H37010200001"
let region = "370100"
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// One prescription service on real parts: an embedded Kafka cluster, an SQLite file in a fresh folder, the
/// HTTP API on a loopback port, the hospital's SM2 key and certificate made by the `openssl` command and named
/// in a manifest, the drug table of `Mappings/codes/`, and a clock the test moves.
final class RxFixture: @unchecked Sendable {
    let directory: String
    let cluster: EmbeddedKafkaCluster
    let kafka: KafkaConfig
    let clock: ManualRxClock
    let configuration: RxServiceConfiguration
    let producer: KafkaProducer
    private(set) var service: PrescriptionService
    private(set) var port = 0
    private var server: PharmacyAPIServer?
    private var serverTask: Task<Void, Error>?
    let startedAt = Date()

    /// - Parameter manifest: more manifest fields (a `centre:` block, TLS options).
    init(sweepIntervalMilliseconds: Int = 60_000, claimLeaseMinutes: Int = 30, manifest extra: String = "") async throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("rx-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let keys = try Self.makeKeys(in: directory)
        let manifest = """
            kind: rx-service
            name: rx-test
            listen: 127.0.0.1:0
            drugTable: \(repositoryRoot)/Mappings/codes/rx-circulation-drugs.csv
            claimLeaseMinutes: \(claimLeaseMinutes)
            hospitals:
              - code: \(hospital)
                region: "\(region)"
                keyId: \(hospital)-test
                key: \(keys.key)
                certificate: \(keys.certificate)
            \(extra)
            """
        try manifest.write(toFile: directory + "/rx-service.yaml", atomically: true, encoding: .utf8)
        var configuration = try RxServiceConfiguration.load(path: directory + "/rx-service.yaml")
        configuration.sweepInterval = .milliseconds(sweepIntervalMilliseconds)
        self.configuration = configuration

        cluster = try EmbeddedKafkaCluster(brokers: 1)
        for topic in configuration.topics + [configuration.inputTopic] {
            try cluster.createTopic(topic, partitions: 4, replicationFactor: 1)
        }
        kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
        producer = try KafkaProducer(config: kafka)
        clock = ManualRxClock(Date())
        service = try PrescriptionService(configuration: configuration, directory: directory, producer: producer, clock: clock)
        try await startServer()
    }

    /// An SM2 key and a self-signed SM2-with-SM3 certificate, made by the openssl command (independent of MedBus).
    static func makeKeys(in directory: String) throws -> (key: String, certificate: String) {
        let key = directory + "/hospital.sm2.key.pem"
        let certificate = directory + "/hospital.sm2.cert.pem"
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "SM2", "-out", key])
        _ = try runTool("/usr/bin/openssl", ["req", "-new", "-x509", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678",
                                             "-subj", "/CN=\(hospital)/O=Test Hospital", "-days", "30", "-out", certificate])
        return (key, certificate)
    }

    func startServer() async throws {
        let server = try PharmacyAPIServer(service: service, host: "127.0.0.1", port: 0, tls: configuration.tls)
        let bound = AsyncStream<Int>.makeStream()
        serverTask = Task { try await server.run(onBound: { bound.continuation.yield($0) }) }
        for await port in bound.stream {
            self.port = port
            break
        }
        self.server = server
    }

    /// Stops the server and closes the store without publishing what is pending (as a crash would leave it),
    /// then opens a new service on the same folder.
    func reopen() async throws {
        server?.shutdown()
        _ = try? await serverTask?.value
        service.close()
        service = try PrescriptionService(configuration: configuration, directory: directory, producer: producer, clock: clock)
        try await startServer()
    }

    func shutdown() async {
        server?.shutdown()
        _ = try? await serverTask?.value
        service.close()
        await producer.shutdown()
        try? FileManager.default.removeItem(atPath: directory)
    }

    // MARK: HTTP (URLSession: an HTTP client that is not ours)

    static let session: URLSession = {
        let configuration = URLSessionConfiguration.ephemeral
        configuration.httpMaximumConnectionsPerHost = 64
        configuration.timeoutIntervalForRequest = 30
        return URLSession(configuration: configuration)
    }()

    struct HTTPAnswer: Sendable {
        var status: Int
        var body: JSONValue
        var contentType: String
    }

    func http(_ method: String, _ path: String, _ body: JSONValue? = nil, headers: [String: String] = [:]) async throws -> HTTPAnswer {
        var request = URLRequest(url: URL(string: "http://127.0.0.1:\(port)\(path)")!)
        request.httpMethod = method
        if let body {
            request.httpBody = Data(body.jsonBytes)
            request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        }
        for (name, value) in headers { request.setValue(value, forHTTPHeaderField: name) }
        let (data, response) = try await Self.session.data(for: request)
        let http = response as! HTTPURLResponse
        return HTTPAnswer(status: http.statusCode, body: data.isEmpty ? .null : try JSONValue.parse(Array(data)),
                          contentType: http.value(forHTTPHeaderField: "Content-Type") ?? "")
    }

    /// Issues a prescription over HTTP and returns its id.
    func issue(_ body: JSONValue) async throws -> String {
        let answer = try await http("POST", "/v1/prescriptions", body)
        XCTAssertEqual(answer.status, 201, "\(answer.body.jsonText)")
        return try XCTUnwrap(answer.body["rxId"]?.stringValue)
    }

    func operation(_ id: String, _ name: String, _ body: JSONValue, headers: [String: String] = [:]) async throws -> HTTPAnswer {
        try await http("POST", "/v1/prescriptions/\(id)/\(name)", body, headers: headers)
    }

    /// Claim, approve, dispense by one pharmacy.
    func claimReviewDispense(_ id: String, pharmacy: String, count: String = "6") async throws -> HTTPAnswer {
        let claim = try await operation(id, "claim", .object(["pharmacyCode": .string(pharmacy)]))
        XCTAssertEqual(claim.status, 200, "\(claim.body.jsonText)")
        let review = try await operation(id, "review", approval(pharmacy))
        XCTAssertEqual(review.status, 200, "\(review.body.jsonText)")
        return try await operation(id, "dispense", dispenseReport(pharmacy, count: count))
    }

    // MARK: Kafka

    /// Every record of `topic` so far (after publishing the outbox).
    func records(_ topic: String, key: String? = nil) async throws -> [KafkaConsumerMessage] {
        try await service.publishPending()
        let all = try await KafkaTopicReader.read(config: kafka, topic: topic, since: startedAt.addingTimeInterval(-60))
        return all.filter { key == nil || $0.keyString == key }.sorted { ($0.partition, $0.offset) < ($1.partition, $1.offset) }
    }

    func events(_ id: String) async throws -> [JSONValue] {
        try await records(RxTopics.events, key: id).map { try JSONValue.parse($0.value ?? []) }
    }
}

// MARK: Bodies

/// A prescription as `POST /v1/prescriptions` takes it (two drugs of the circulation table).
func prescriptionBody(_ number: String, valiDays: Int = 3, repeats: Int? = nil, drug: String = "XJ01DDT085B002010101445",
                      count: JSONValue = .number("6")) -> JSONValue {
    var fields: [String: JSONValue] = [
        "hospRxno": .string(number), "patientId": .string("ZY2025000123"), "fixmedinsCode": .string(hospital), "drCode": .string("D1023"),
        "drName": .string("王建国"), "valiDays": .int(valiDays),
        "diseinfo": .array([.object(["diagCode": .string("J18.900"), "diagName": .string("肺炎"), "maindiagFlag": .string("1")])]),
        "rxdrugdetail": .array([
            .object(["medListCodg": .string(drug), "fixmedinsHilistId": .string("86900123000017"), "drugCnt": count,
                     "sinDoscnt": .number("2.00"), "usedFrquCodg": .string("Q8H"), "drugDosunt": .string("支")]),
            .object(["medListCodg": .string("XJ01XDJ057B002020100213"), "fixmedinsHilistId": .string("86900234000025"), "drugCnt": .string("3")]),
        ]),
    ]
    if let repeats {
        fields["reptFlag"] = .string("1")
        fields["maxReptCnt"] = .int(repeats)
    }
    return .object(fields)
}

func approval(_ pharmacy: String) -> JSONValue {
    .object(["pharmacyCode": .string(pharmacy), "decision": .string("approve"), "pharCode": .string("PH001"), "pharName": .string("药师甲")])
}

func dispenseReport(_ pharmacy: String, count: String = "6") -> JSONValue {
    .object([
        "pharmacyCode": .string(pharmacy), "fund_pay_sumamt": .string("60.00"), "psn_part_amt": .string("15.5"),
        "seltdelts": .array([
            .object(["med_list_codg": .string("XJ01DDT085B002010101445"), "drug_totlcnt": .string(count), "bchno": .string("B2401"),
                     "pric": .string("12.50"), "sumamt": .number("75.5")]),
        ]),
    ])
}

func waitUntil(_ what: String, timeout: Duration = .seconds(20), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(100))
    }
    XCTFail("timed out waiting for \(what)")
}
