import Foundation
import Logging
import MedBusCore
@testable import MedBusInsurers
import MedBusKafka
import XCTest

/// The adapter end to end: a request envelope on insurer.nhsa.requests, the simulator over HTTP,
/// the response envelope on insurer.nhsa.replies.
final class NHSAInsurerAdapterTests: XCTestCase {
    func testRequestsBecomeRepliesWithCorrelationAndOneSignIn() async throws {
        let kafka = try KafkaFixture(insurers: ["nhsa"])
        let sim = try await NHSASimulatorFixture()
        var manifest = try NHSAAdapterManifest.load(path: NHSASimulatorFixture.repository.appendingPathComponent("Adapters/insurers/insurer-nhsa.yaml").path)
        manifest.url = sim.url
        manifest.timeoutSeconds = 2
        manifest.group = "test-\(UUID().uuidString.prefix(6))"
        var logger = Logger(label: "test.adapter")
        logger.logLevel = .warning
        let adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: kafka.kafka, logger: logger)
        let running = Task { try await adapter.run() }
        let replies = try kafka.reader("insurer.nhsa.replies")

        // Three steps of one settlement (key = settlement id), as the orchestrator writes them: no sign_no.
        let psnNo = "37000000000000000011"
        let steps: [JSONValue] = [
            sim.envelope("1101", input: Inputs.data([("certno", .string("370102000000000011"))])),
            sim.envelope("2204", input: Inputs.feedetail(mdtrtId: "M9", psnNo: psnNo, batch: "B9", lines: [("1", "XA1", "1000.00")])),
            sim.envelope("2207", input: Inputs.settle(psnNo: psnNo, mdtrtId: "M9", batch: "B9", total: "1000.00")),
        ]
        for step in steps {
            try await kafka.produce("insurer.nhsa.requests", key: "S-1", value: step.jsonBytes, msgid: step["msgid"]!.stringValue!)
        }
        let received = try await kafka.read(replies, count: 3)
        XCTAssertEqual(received.count, 3)
        XCTAssertEqual(received.map { $0.headers.string("medbus-correlation-id") }, steps.map { $0["msgid"]?.stringValue }, "per-key order, each reply names its request")
        XCTAssertEqual(Set(received.map(\.keyString)), ["S-1"])
        XCTAssertEqual(received.map { $0.headers.string("medbus-message-type") }, ["1101", "2204", "2207"])
        let settlement = try JSONValue.parse(received[2].value ?? [])
        XCTAssertEqual(settlement["infcode"]?.intValue, 0)
        // Employee, level 3: 800 deductible, 200 × 0.88 = 176.
        XCTAssertEqual(settlement["output"]?["setlinfo"]?["hifp_pay"]?.moneyValue, Money(yuan: "176.00"))
        let count = await adapter.signInCount
        XCTAssertEqual(count, 1, "one 9001 for all requests")

        // The platform expires the sign_no: the adapter signs in again and resends once.
        await sim.simulator.expireSignIns()
        let lookup = sim.envelope("1101", input: Inputs.data([("certno", .string("370102000000000022"))]))
        try await kafka.produce("insurer.nhsa.requests", key: "S-2", value: lookup.jsonBytes, msgid: lookup["msgid"]!.stringValue!)
        let afterExpiry = try await kafka.read(replies, count: 1)
        XCTAssertEqual(afterExpiry.first?.headers.string("medbus-correlation-id"), lookup["msgid"]?.stringValue)
        XCTAssertEqual(try JSONValue.parse(afterExpiry.first?.value ?? [])["infcode"]?.intValue, 0)
        let recount = await adapter.signInCount
        XCTAssertEqual(recount, 2)

        // No answer (dropped by the platform) → no reply; the next request still goes through.
        sim.server.faults.replace(with: [try SimulatorFault(parsing: "1101:drop@1")])
        let dropped = sim.envelope("1101", input: Inputs.data([("certno", .string("370102000000000022"))]))
        let next = sim.envelope("1101", input: Inputs.data([("certno", .string("370102000000000033"))]))
        try await kafka.produce("insurer.nhsa.requests", key: "S-3", value: dropped.jsonBytes, msgid: dropped["msgid"]!.stringValue!)
        try await kafka.produce("insurer.nhsa.requests", key: "S-3", value: next.jsonBytes, msgid: next["msgid"]!.stringValue!)
        // Same key, same partition: once the next reply is here, the dropped request is behind it.
        let afterDrop = try await kafka.read(replies, count: 1, timeout: .seconds(10))
        XCTAssertEqual(afterDrop.map { $0.headers.string("medbus-correlation-id") }, [next["msgid"]?.stringValue])

        await adapter.shutdown()
        try await running.value
        await replies.close()
        await sim.stop()
    }

    func testManyKeysInParallelKeepPerKeyOrderAndShareOneSignIn() async throws {
        let kafka = try KafkaFixture(insurers: ["nhsa"])
        let sim = try await NHSASimulatorFixture()
        let manifest = NHSAAdapterManifest(url: sim.url, fixmedinsCode: "H37010200001", group: "test-\(UUID().uuidString.prefix(6))", timeoutSeconds: 5)
        var logger = Logger(label: "test.adapter")
        logger.logLevel = .warning
        // Requests are on the topic before the adapter starts: every lane wants a sign_no at once.
        let producer = try KafkaProducer(config: kafka.kafka)
        var sent: [String: [String]] = [:]
        var messages: [KafkaProducerMessage] = []
        for i in 0..<200 {
            let key = "S-\(i % 16)"
            let request = sim.envelope("1101", input: Inputs.data([("certno", .string("37010200000000\(String(format: "%04d", i))"))]))
            sent[key, default: []].append(request["msgid"]!.stringValue!)
            messages.append(KafkaProducerMessage(topic: "insurer.nhsa.requests", key: Array(key.utf8), value: request.jsonBytes))
        }
        let reports = try await producer.sendBatch(messages)
        XCTAssertTrue(reports.allSatisfy { $0.error == nil })
        await producer.shutdown()

        let adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: kafka.kafka, logger: logger)
        let running = Task { try await adapter.run() }
        let replies = try kafka.reader("insurer.nhsa.replies")
        let received = try await kafka.read(replies, count: 200)
        XCTAssertEqual(received.count, 200)
        var got: [String: [String]] = [:]
        for record in received { got[record.keyString!, default: []].append(record.headers.string("medbus-correlation-id")!) }
        XCTAssertEqual(got, sent, "every request answered once, in order per key")
        let signIns = await adapter.signInCount
        XCTAssertEqual(signIns, 1, "concurrent lanes share one 9001")

        await adapter.shutdown()
        try await running.value
        await replies.close()
        await sim.stop()
    }

    func testManifestAndGatewaySignature() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent(UUID().uuidString)
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let file = dir.appendingPathComponent("m.yaml").path
        try """
        kind: insurer-nhsa
        name: n
        url: http://127.0.0.1:1/x
        fixmedins_code: H37010200001
        gateway: { paasid: p1, secretEnv: TEST_SECRET }
        """.write(toFile: file, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try NHSAAdapterManifest.load(path: file, environment: [:])) { XCTAssertTrue("\($0)".contains("TEST_SECRET"), "\($0)") }
        let manifest = try NHSAAdapterManifest.load(path: file, environment: ["TEST_SECRET": "s3"])
        XCTAssertEqual(manifest.requestsTopic, "insurer.nhsa.requests")
        XCTAssertEqual(manifest.group, "medbus-insurer-nhsa")
        let headers = Dictionary(uniqueKeysWithValues: manifest.gateway!.headers(timestamp: 1_700_000_000, nonce: "abc"))
        XCTAssertEqual(headers["x-tif-paasid"], "p1")
        XCTAssertEqual(headers["x-tif-signature"], SHA256.hex(Array("1700000000s3abc1700000000".utf8)))
    }
}
