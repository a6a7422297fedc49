import Foundation
import MedBusCore
import MedBusKafka
@testable import MedBusSettlement
import XCTest

let insurer = "pa"

/// A fresh embedded cluster with every settlement topic.
func makeSettlementCluster() throws -> EmbeddedKafkaCluster {
    let cluster = try EmbeddedKafkaCluster(brokers: 1)
    for topic in ["settlement.requests", "settlement.results", "insurer.nhsa.requests", "insurer.nhsa.replies",
                  "insurer.\(insurer).requests", "insurer.\(insurer).replies", "settlement.claims.\(insurer)"] {
        try cluster.createTopic(topic, partitions: 4, replicationFactor: 1)
    }
    return cluster
}

func testConfig(_ cluster: EmbeddedKafkaCluster) -> KafkaConfig {
    KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
}

func temporaryDirectory() -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("settlement-\(UUID().uuidString)").path
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

func makeResponder(_ cluster: EmbeddedKafkaCluster, script: @escaping InsurerResponder.Script = { _, _, _ in .answer }) throws -> InsurerResponder {
    try InsurerResponder(config: testConfig(cluster), topics: ["insurer.nhsa.requests", "insurer.\(insurer).requests"], script: script)
}

/// An orchestrator running in a task; cancel the task to stop it.
func startOrchestrator(_ cluster: EmbeddedKafkaCluster, directory: String, configuration: SettlementConfiguration = testConfiguration())
    throws -> (SettlementOrchestrator, Task<Void, any Error>)
{
    let orchestrator = try SettlementOrchestrator(kafka: testConfig(cluster), storeDirectory: directory, configuration: configuration)
    let task = Task { try await orchestrator.run() }
    return (orchestrator, task)
}

func testConfiguration(stepTimeout: Duration = .seconds(2), maxAttempts: Int = 3) -> SettlementConfiguration {
    SettlementConfiguration(platform: .init(signNo: "SN202501150001"), commercialInsurers: [insurer], stepTimeout: stepTimeout,
                            maxAttempts: maxAttempts, retryDelay: .milliseconds(100))
}

/// A request with `lines` fee lines of random amounts.
func makeRequest(_ batch: String, lines: Int = 3, commercial: Bool = false, seed: Int = 1) -> SettlementRequest {
    var generator = SeededGenerator(seed: UInt64(seed))
    let feeLines = (0..<lines).map { index -> SettlementRequest.FeeLine in
        let fen = Int64.random(in: 1...99_999, using: &generator)
        return SettlementRequest.FeeLine(feedetlSn: "\(index + 1)", medinsListCodg: "ITEM\(index)", medListCodg: "XL01", cnt: 1,
                                         pric: Money(fen: fen).decimal, detItemFeeSumamt: Money(fen: fen))
    }
    return SettlementRequest(chrgBchno: batch, encounterId: "ENC-\(batch)", patientId: "PAT-1", fixmedinsCode: "H37010200001", medType: "11",
                             feedetail: feeLines, mdtrtId: "370102MDT0001", mdtrtCertType: "02", mdtrtCertNo: "370102199001011234",
                             insutype: "390", commercial: commercial ? .init(insurerCode: insurer, policyNo: "POL-1") : nil)
}

struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }
    mutating func next() -> UInt64 {
        state ^= state << 13
        state ^= state >> 7
        state ^= state << 17
        return state
    }
}

/// Polls until the settlement is in `state`.
@discardableResult
func waitFor(_ orchestrator: SettlementOrchestrator, _ id: String, _ state: SettlementState, timeout: Duration = .seconds(40),
             file: StaticString = #filePath, line: UInt = #line) async throws -> SettlementStatus {
    let deadline = ContinuousClock.now + timeout
    var last: SettlementStatus?
    while ContinuousClock.now < deadline {
        last = try await orchestrator.status(id)
        if last?.state == state { return last! }
        try await Task.sleep(for: .milliseconds(50))
    }
    XCTFail("settlement \(id) is \(last?.state.rawValue ?? "?"), not \(state.rawValue)", file: file, line: line)
    throw SettlementError.notFound(id: id)
}

/// Every record of `topic` until `count` records and a quiet second.
func readTopic(_ cluster: EmbeddedKafkaCluster, _ topic: String, count: Int, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
    try await readTopics(cluster, [topic: count], timeout: timeout)[topic, default: []]
}

/// Every record of each topic, read with one consumer (one group join), until each has its
/// minimum count and a quiet second follows.
func readTopics(_ cluster: EmbeddedKafkaCluster, _ minimum: [String: Int], timeout: Duration = .seconds(30)) async throws -> [String: [KafkaConsumerMessage]] {
    let consumer = try KafkaConsumer(config: testConfig(cluster), groupID: "verify-\(UUID().uuidString.prefix(8))", topics: Array(minimum.keys))
    var records: [String: [KafkaConsumerMessage]] = [:]
    let deadline = ContinuousClock.now + timeout
    var quietUntil: ContinuousClock.Instant?
    while ContinuousClock.now < deadline {
        if minimum.allSatisfy({ records[$0.key, default: []].count >= $0.value }) {
            if quietUntil == nil { quietUntil = .now + .seconds(1) }
            if ContinuousClock.now >= quietUntil! { break }
        }
        for record in try await consumer.nextBatch(maxCount: 1000, within: .milliseconds(300)) { records[record.topic, default: []].append(record) }
    }
    await consumer.close()
    return records
}

/// Validates JSON documents against a schema of Mappings/schemas with Python's jsonschema.
func validate(_ documents: [String], schema: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let schemaPath = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Mappings/schemas/\(schema)").resolvingSymlinksInPath().path
    let input = temporaryDirectory() + "/docs.json"
    try JSONSerialization.data(withJSONObject: documents.map { try JSONSerialization.jsonObject(with: Data($0.utf8)) }).write(to: URL(fileURLWithPath: input))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", """
        import json, sys
        from jsonschema import Draft202012Validator, FormatChecker
        schema = json.load(open(sys.argv[1]))
        v = Draft202012Validator(schema, format_checker=FormatChecker())
        bad = [e.message for d in json.load(open(sys.argv[2])) for e in v.iter_errors(d)]
        print("\\n".join(bad)); sys.exit(1 if bad else 0)
        """, schemaPath, input]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    XCTAssertEqual(process.terminationStatus, 0, "schema \(schema): \(output)", file: file, line: line)
}
