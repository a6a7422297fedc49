import Foundation
import MedBusCore
import MedBusInsurers
import MedBusKafka
import MedBusSettlement
import XCTest

/// What the topics carry: dead letters for requests that cannot be settled, and claims an
/// external client reads and validates against the published schema.
final class SettlementTopicsTests: XCTestCase {
    /// Not JSON, a missing field, an unknown hospital on settlement.requests → dlq.settlement with
    /// specific reasons; the valid request beside them settles.
    func testUnprocessableRequestsGoToTheDeadLetterTopicWithTheirReason() async throws {
        let system = try await SettlementSystemFixture(partitions: 2)
        var generator = SystemRandomNumberGenerator()
        let valid = Visit.make(0, runID: "dlq", generator: &generator).request
        var missing = valid
        if case .object(var fields) = missing { fields.removeAll { $0.0 == "feedetail" }; missing = .object(fields) }
        let inputs: [(String, [UInt8])] = [
            ("bad-1", Array("<DFT^P03/>".utf8)),
            ("bad-2", missing.setting("chrg_bchno", .string("CB-dlq-missing")).jsonBytes),
            ("bad-3", valid.setting("fixmedins_code", .string("H00000000000")).setting("chrg_bchno", .string("CB-dlq-unknown")).jsonBytes),
            ("good", valid.jsonBytes),
        ]
        let producer = try KafkaProducer(config: system.kafka)
        _ = try await producer.sendBatch(inputs.map { KafkaProducerMessage(topic: "settlement.requests", key: Array($0.0.utf8), value: $0.1) })
        let letters = try await system.read("dlq.settlement", count: 3)
        let reasons = Dictionary(uniqueKeysWithValues: letters.map { ($0.keyString ?? "", $0.headers.string("medbus-error-reason") ?? "") })
        XCTAssertEqual(reasons, ["bad-1": "not-json", "bad-2": "missing-field", "bad-3": "unknown-hospital"])
        XCTAssertEqual(letters.first { $0.keyString == "bad-2" }?.headers.string("medbus-error-message"), "missing field feedetail")
        XCTAssertTrue(letters.allSatisfy { $0.headers.string("medbus-source-topic") == "settlement.requests" })
        XCTAssertEqual(letters.first { $0.keyString == "bad-1" }?.value, inputs[0].1, "the request is kept as it came")
        let deadline = ContinuousClock.now + .seconds(40)
        var settled: [SettlementStatus] = []
        while ContinuousClock.now < deadline {
            settled = try await system.orchestrator.list()
            if settled.first?.state == .completed { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        XCTAssertEqual(settled.map(\.state), [.completed], "only the valid request became a settlement")
        await producer.shutdown()
        await system.stop()
    }

    /// The commercial insurer answers one claim out of order, one twice, declines two: every
    /// settlement completes once, declined shares are queued on settlement.claims.hmb, and a
    /// Python confluent-kafka consumer validates those records against
    /// Mappings/schemas/settlement-claim.schema.json with jsonschema.
    func testInsurerFaultsEndInTheDocumentedStateAndClaimsMatchTheSchema() async throws {
        let system = try await SettlementSystemFixture()
        system.commercial.faults.replace(with: try ["claim:out-of-order@1", "claim:duplicate@1", "claim:decline=no policy@2"].map(SimulatorFault.init(parsing:)))
        var generator = SystemRandomNumberGenerator()
        // Commercial policy and a bill large enough for an approval: visits 0, 2, 3, 5… hold one.
        let visits = [0, 2, 3, 5, 6, 8].map { index -> Visit in
            var visit = Visit.make(index, runID: "faults", generator: &generator)
            visit.request = visit.request.setting("feedetail", .array([.object([
                "feedetl_sn": .string("1"), "medins_list_codg": .string("M1"), "med_list_codg": .string("XA01"), "cnt": .number("1"),
                "pric": .number("3000.00"), "det_item_fee_sumamt": .number("3000.00")])]))
            return visit
        }
        let ids = try await withThrowingTaskGroup(of: String.self) { group in
            for visit in visits { group.addTask { try await system.submit(visit.request).json["settlementId"]!.stringValue! } }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        var statuses: [SettlementStatus] = []
        for id in ids { statuses.append(try await system.orchestrator.status(id, waitingUpTo: .seconds(60))) }
        XCTAssertEqual(statuses.map(\.state), Array(repeating: .completed, count: visits.count))
        let legs = statuses.compactMap(\.result?.commercial)
        XCTAssertEqual(legs.filter { $0.status == .rejected && $0.claimQueued == true }.count, 2, "\(legs)")
        XCTAssertEqual(legs.filter { $0.status == .approved || $0.status == .partiallyApproved }.count, visits.count - 2)
        for status in statuses {
            let result = try XCTUnwrap(status.result)
            XCTAssertEqual(result.amount("fund_pay_sumamt") + (result.commercial?.approvedAmount ?? .zero) + result.patientPayable!, result.amount("medfee_sumamt"))
        }
        let approvedClaims = await system.commercial.claims.values.filter { !$0.reversed }
        XCTAssertEqual(approvedClaims.count, visits.count - 2, "one approved claim per approved settlement, despite the duplicate reply")
        let results = try await system.read("settlement.results", count: visits.count)
        XCTAssertEqual(results.count, visits.count, "one result each, no duplicate")

        // An independent client reads the claims and validates them against the published schema.
        let output = try runPython(claimsValidator, arguments: [system.cluster.bootstrapServers, "settlement.claims.hmb", "2", schemaPath("settlement-claim.schema.json")])
        let summary = try JSONValue.parse(output)
        XCTAssertEqual(summary["count"]?.intValue, 2, output)
        XCTAssertEqual(summary["errors"]?.arrayValue?.count, 0, output)
        XCTAssertEqual(Set(summary["settlementIds"]?.arrayValue?.compactMap(\.stringValue) ?? []),
                       Set(statuses.filter { $0.result?.commercial?.claimQueued == true }.map(\.id)))
        await system.stop()
    }
}

/// Reads N records of a topic with confluent-kafka and validates each against a JSON Schema
/// (draft 2020-12, formats checked); prints {"count", "errors", "settlementIds"}.
let claimsValidator = """
    import json, sys, time
    from confluent_kafka import Consumer
    from jsonschema import Draft202012Validator, FormatChecker
    bootstrap, topic, want, schema_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
    validator = Draft202012Validator(json.load(open(schema_path)), format_checker=FormatChecker())
    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "python-claims-check", "auto.offset.reset": "earliest"})
    consumer.subscribe([topic])
    records, deadline = [], time.time() + 30
    while time.time() < deadline and len(records) < want:
        message = consumer.poll(0.5)
        if message is None or message.error():
            continue
        records.append(message)
    extra_deadline = time.time() + 1
    while time.time() < extra_deadline:
        message = consumer.poll(0.2)
        if message is not None and not message.error():
            records.append(message)
    consumer.close()
    errors, ids = [], []
    for record in records:
        document = json.loads(record.value())
        ids.append(record.key().decode())
        errors += [f"{record.key().decode()}: {error.message}" for error in validator.iter_errors(document)]
        if document.get("settlementId") != record.key().decode():
            errors.append("key is not the settlementId")
    print(json.dumps({"count": len(records), "errors": errors, "settlementIds": ids}))
    """

func schemaPath(_ name: String) -> String {
    URL(fileURLWithPath: #filePath).resolvingSymlinksInPath().deletingLastPathComponent().appendingPathComponent("../../Mappings/schemas/\(name)").standardized.path
}

/// Runs Debian's /usr/bin/python3 (where python3-confluent-kafka and python3-jsonschema live).
func runPython(_ script: String, arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
    process.arguments = ["-c", script] + arguments
    let pipe = Pipe()
    let errors = Pipe()
    process.standardOutput = pipe
    process.standardError = errors
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    let diagnostics = errors.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    XCTAssertEqual(process.terminationStatus, 0, String(decoding: diagnostics, as: UTF8.self))
    return String(decoding: output, as: UTF8.self)
}
