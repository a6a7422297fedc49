import Foundation
import Logging
import MedBusCore
import MedBusHTTPClient
import MedBusInsurers
import MedBusKafka
import MedBusSettlement
import MedBusSettlementAPI
import XCTest

/// The settlement system wired as `medbus serve` wires it, in one process over real sockets: an
/// embedded cluster, the NHSA simulator over HTTP with the policy file `Self.policyYAML` (written
/// by the test to a temporary file), the NHSA insurer adapter, the commercial simulator `hmb`,
/// the orchestrator with its SQLite saga log, and the settlement API on a free port.
final class SettlementSystemFixture: @unchecked Sendable {
    static let commercialInsurer = "hmb"
    static let hospitals = ["H37010200001": 3, "H37010200002": 2, "H37010200003": 1]

    /// The basic-insurance policy the simulator runs and `ExpectedShares` recomputes on its own.
    static let policyYAML = """
        name: e2e-test-policy
        hospitals: { H37010200001: 3, H37010200002: 2, H37010200003: 1 }
        defaultHospitalLevel: 2
        listCategories:
          default: C
          preSelfPayRatio: 0.15
          prefixes: { XA: A, XB: B }
        insutypes:
          "310":
            name: employee
            poolingFund: "310100"
            deductible: { 1: 100, 2: 300, 3: 700 }
            poolingRatio: { 1: 0.90, 2: 0.85, 3: 0.80 }
            annualPoolingCap: 250000
            inpatient: { deductiblePerAdmission: { 1: 200, 2: 500, 3: 900 }, poolingRatio: { 1: 0.95, 2: 0.90, 3: 0.85 } }
            seriousIllness:
              fund: "330100"
              payField: hifob_pay
              threshold: 12000
              segments: [ { ratio: 0.75 } ]
              annualCap: 300000
          "390":
            name: resident
            poolingFund: "390100"
            deductible: { 1: 150, 2: 400, 3: 900 }
            poolingRatio: { 1: 0.80, 2: 0.70, 3: 0.55 }
            annualPoolingCap: 150000
            inpatient: { deductiblePerAdmission: { 1: 100, 2: 300, 3: 600 }, poolingRatio: { 1: 0.90, 2: 0.80, 3: 0.65 } }
            seriousIllness:
              fund: "390200"
              payField: hifmi_pay
              threshold: 10000
              segments: [ { upTo: 50000, ratio: 0.60 }, { ratio: 0.70 } ]
              annualCap: 350000
        assistance:
          fund: "610100"
          ratio: 0.65
          annualCap: 20000

        """

    static let commercialYAML = """
        name: e2e-test-commercial
        annualDeductible: 500
        ratio: 0.70
        annualCap: 100000
        exclusions: []
        policies: []

        """

    let cluster: EmbeddedKafkaCluster
    let kafka: KafkaConfig
    let directory: String
    let nhsa: NHSASimulatorServer
    let commercial: CommercialInsurerSimulator
    let adapter: NHSAInsurerAdapter
    let orchestrator: SettlementOrchestrator
    let api: SettlementAPI
    let apiPort: Int
    let client: HTTPClient
    private var tasks: [Task<Void, any Error>] = []

    init(configuration: SettlementConfiguration? = nil, partitions: Int = 8) async throws {
        cluster = try EmbeddedKafkaCluster(brokers: 1)
        let insurer = Self.commercialInsurer
        for topic in ["settlement.requests", "settlement.results", "dlq.settlement", "insurer.nhsa.requests", "insurer.nhsa.replies",
                      "insurer.\(insurer).requests", "insurer.\(insurer).replies", "settlement.claims.\(insurer)"] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        }
        kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("settle-e2e-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Self.policyYAML.write(toFile: directory + "/policy.yaml", atomically: true, encoding: .utf8)
        try Self.commercialYAML.write(toFile: directory + "/commercial.yaml", atomically: true, encoding: .utf8)
        var logger = Logger(label: "test.settlement")
        logger.logLevel = .critical

        nhsa = NHSASimulatorServer(simulator: NHSAPlatformSimulator(policy: try BasicInsurancePolicy.load(path: directory + "/policy.yaml"), persons: PersonDirectory()),
                                   host: "127.0.0.1", port: 0, dropHold: .seconds(3), logger: logger)
        let nhsaPort = try await Self.start(nhsa.run, into: &tasks)
        commercial = try CommercialInsurerSimulator(insurer: insurer, policy: try CommercialPolicy.load(path: directory + "/commercial.yaml"), kafka: kafka, logger: logger)
        let manifest = NHSAAdapterManifest(url: "http://127.0.0.1:\(nhsaPort)\(NHSASimulatorServer.defaultPath)", fixmedinsCode: "H37010200001", timeoutSeconds: 3)
        adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: kafka, logger: logger)
        var settings = configuration ?? SettlementConfiguration(stepTimeout: .seconds(5), retryDelay: .milliseconds(100))
        settings.commercialInsurers = [insurer]
        if settings.hospitals.isEmpty { settings.hospitals = Set(Self.hospitals.keys) }
        orchestrator = try SettlementOrchestrator(kafka: kafka, storeDirectory: directory, configuration: settings, logger: logger)
        api = SettlementAPI(orchestrator: orchestrator, host: "127.0.0.1", port: 0, logger: logger)
        apiPort = try await Self.start(api.run, into: &tasks)
        client = try HTTPClient(url: "http://127.0.0.1:\(apiPort)/v1/settlements")
        let (commercial, adapter, orchestrator) = (commercial, adapter, orchestrator)
        tasks.append(Task { try await commercial.run() })
        tasks.append(Task { try await adapter.run() })
        tasks.append(Task { try await orchestrator.run() })
    }

    /// Starts a server and returns its port.
    private static func start(_ run: @escaping @Sendable (@escaping @Sendable (Int) -> Void) async throws -> Void, into tasks: inout [Task<Void, any Error>]) async throws -> Int {
        let (ports, continuation) = AsyncStream.makeStream(of: Int.self)
        tasks.append(Task { try await run { continuation.yield($0) } })
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw CancellationError() }
        return port
    }

    func stop() async {
        await client.close()
        api.shutdown()
        nhsa.shutdown()
        await commercial.shutdown()
        await adapter.shutdown()
        tasks.last?.cancel()
        for task in tasks { _ = await task.result }
    }

    // MARK: - HTTP

    func http(_ method: String, _ target: String, body: [UInt8] = []) async throws -> (status: Int, json: JSONValue, contentType: String?) {
        let response = try await client.send(HTTPClientRequest(method: method, target: target, headers: [("Content-Type", "application/json")], body: body), timeout: .seconds(60))
        return (response.status, try JSONValue.parse(response.body), response.header("Content-Type"))
    }

    func submit(_ request: JSONValue, wait: String? = nil) async throws -> (status: Int, json: JSONValue, contentType: String?) {
        try await http("POST", "/v1/settlements" + (wait.map { "?wait=\($0)" } ?? ""), body: request.jsonBytes)
    }

    /// The simulator's ledger (`GET /_ledger` over HTTP).
    func ledger() async throws -> [JSONValue] {
        try await ledgerDocument()["settlements"]?.arrayValue ?? []
    }

    /// The simulator's transaction log, in processing order: `{infno, msgid, infcode, mdtrt_id}`.
    func transactions() async throws -> [JSONValue] {
        try await ledgerDocument()["transactions"]?.arrayValue ?? []
    }

    private func ledgerDocument() async throws -> JSONValue {
        let admin = try HTTPClient(url: "http://127.0.0.1:\(nhsaPortFromURL)/_ledger")
        defer { Task { await admin.close() } }
        let response = try await admin.send(HTTPClientRequest(method: "GET"), timeout: .seconds(10))
        return try JSONValue.parse(response.body)
    }

    private var nhsaPortFromURL: Int { URL(string: adapter.manifest.url)!.port! }

    /// Every record of `topic` until `count` and a quiet half second.
    func read(_ topic: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
        let consumer = try KafkaConsumer(config: kafka, groupID: "verify-\(UUID().uuidString.prefix(8))", topics: [topic])
        var records: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + timeout
        var quietUntil: ContinuousClock.Instant?
        while ContinuousClock.now < deadline {
            if records.count >= count {
                if quietUntil == nil { quietUntil = .now + .milliseconds(500) }
                if ContinuousClock.now >= quietUntil! { break }
            }
            records += try await consumer.nextBatch(maxCount: 1000, within: .milliseconds(200))
        }
        await consumer.close()
        return records
    }
}

/// One varied settlement request, and who it is for.
struct Visit {
    var request: JSONValue
    var certno: String
    var hospital: String
    var commercial: Bool

    /// The i-th visit: hospital, employee/resident, assistance, outpatient/inpatient, registered
    /// by the HIS or not, commercial policy and amounts vary with `index` and the generator. A fresh person per visit, so each
    /// settlement starts from empty annual accumulators.
    static func make(_ index: Int, runID: String, generator: inout some RandomNumberGenerator) -> Visit {
        let hospital = ["H37010200001", "H37010200002", "H37010200003"][index % 3]
        // Synthesized persons: last digit even → employee (310); odd → resident (390); 9 → assistance.
        let lastDigit = [0, 1, 9, 2, 9, 7][index % 6]
        let certno = String(format: "37%010d%05d", index, Int.random(in: 0...99_999, using: &generator)) + "\(lastDigit)"
        let inpatient = index % 4 == 3
        let commercial = index % 3 != 1
        let lineCount = Int.random(in: 1...6, using: &generator)
        let big = index % 5 == 4   // large bills reach the serious-illness segments
        let lines: [JSONValue] = (0..<lineCount).map { line in
            let code = ["XA01", "XB02", "ZC03", "XB04"][Int.random(in: 0...3, using: &generator)]
            let fen = big ? Int64.random(in: 500_000...4_000_000, using: &generator) : Int64.random(in: 1...300_000, using: &generator)
            let amount = Money(fen: fen)
            return .object([
                "feedetl_sn": .string("\(line + 1)"), "medins_list_codg": .string("M\(code)"), "med_list_codg": .string("\(code)\(line)"),
                "cnt": .number("1"), "pric": .money(amount), "det_item_fee_sumamt": .money(amount),
                "fee_ocur_time": .string("2025-01-15T10:00:00+08:00"),
            ])
        }
        var fields: [String: JSONValue] = [
            "chrg_bchno": .string("CB-\(runID)-\(index)"), "encounterId": .string("ENC-\(index)"), "patientId": .string("PAT-\(index)"),
            "fixmedins_code": .string(hospital), "mdtrt_cert_type": .string("02"),
            "mdtrt_cert_no": .string(certno), "med_type": .string(inpatient ? "21" : "11"), "feedetail": .array(lines),
        ]
        // Half the visits come without mdtrt_id: the saga registers them (2201, or 2401 admission).
        if index % 2 == 1 { fields["mdtrt_id"] = .string("MDT-\(runID)-\(index)") }
        if commercial { fields["commercial"] = .object(["insurerCode": .string(SettlementSystemFixture.commercialInsurer), "policyNo": .string("HMB-\(index)")]) }
        return Visit(request: .object(fields), certno: certno, hospital: hospital, commercial: commercial)
    }

    var total: Money { (request["feedetail"]?.arrayValue ?? []).compactMap { $0["det_item_fee_sumamt"]?.moneyValue }.sum() }

    /// med_type 21: an admission, settled with 2301 / 2303 / 2304.
    var inpatient: Bool { request["med_type"]?.stringValue == "21" }
}
