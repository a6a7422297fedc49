import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusKafka
import MedBusTestSupport
import XCTest

/// The whole circulation in one `medbus serve`: an HL7 RDE^O11 over MLLP becomes a signed prescription on
/// rx.available.<region>; a pharmacy claims, reviews and dispenses it over HTTP; the routing core turns the
/// events into RDS^O13 on the hospital's outbound topic.
final class PrescriptionFlowTests: XCTestCase {
    func testRDEOverMLLPToDispenseAndRDSBackToTheHospital() async throws {
        let dataDir = temporaryDirectory()
        let manifest = try PrescriptionCrashTests.writeManifest(in: dataDir)
        let adapters = dataDir + "/adapters"
        try FileManager.default.createDirectory(atPath: adapters, withIntermediateDirectories: true)
        try """
            kind: hl7v2-mllp
            name: his-flow
            sender: H37010200001
            listen: 127.0.0.1:0
            mappingSet: his-default
            """.write(toFile: adapters + "/his.yaml", atomically: true, encoding: .utf8)

        let serve = try MedBusProcess(["serve", "--data-dir", dataDir, "--topics", "deploy/topics.yaml", "--adapters", adapters,
                                       "--destinations", dataDir + "/none", "--rx-service", manifest, "--no-settlement",
                                       "--admin-port", "off", "--kafka-option", "session.timeout.ms=6000"])
        defer { serve.signal(SIGKILL) }
        let api = try PrescriptionCrashTests.apiURL(serve)
        try serve.waitForOutput { $0.contains("Adapter his-flow (hl7v2-mllp) listening on ") && $0.contains("Kafka bootstrap: ") }
        let lines = serve.stdout.split(separator: "\n")
        let mllpPort = try XCTUnwrap(lines.first { $0.hasPrefix("Adapter his-flow") }?.split(separator: ":").last.flatMap { Int($0) })
        let bootstrap = try XCTUnwrap(lines.first { $0.hasPrefix("Kafka bootstrap: ") }?.dropFirst("Kafka bootstrap: ".count).split(separator: " ").first.map(String.init))
        let kafka = KafkaConfig(bootstrapServers: bootstrap)

        // The sample RDE^O11, written now (its validity counts from ORC-9).
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMddHHmmss"
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        let sample = try String(contentsOfFile: packageRoot.path + "/Adapters/samples/rde_o11.hl7", encoding: .utf8)
            .replacingOccurrences(of: "20250115120000", with: formatter.string(from: Date()))
        let ack = try await onThread {
            let client = try MLLPTestClient(port: mllpPort, receiveTimeout: 30)
            client.sendFrame(Array(sample.utf8))
            return client.readFrame().map { String(decoding: $0, as: UTF8.self) } ?? ""
        }
        XCTAssertTrue(ack.contains("MSA|CA") || ack.contains("MSA|AA"), ack)

        // → the signed prescription for the region's pharmacies.
        var available: [String: Any] = [:]
        try await poll("the prescription on rx.available.370100", timeout: 90) {
            let records = try await KafkaTopicReader.read(config: kafka, topic: "rx.available.370100", since: Date().addingTimeInterval(-600))
            guard let value = records.first?.value else { return false }
            available = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(value)) as? [String: Any])
            return true
        }
        let id = try XCTUnwrap(available["rxId"] as? String)
        let prescription = try XCTUnwrap(available["prescription"] as? [String: Any])
        XCTAssertEqual(prescription["hospRxno"] as? String, "CF2025011500019")
        XCTAssertNotNil((available["signature"] as? [String: Any])?["certificate"])

        // → a pharmacy claims, reviews and dispenses it over HTTP.
        let claim = try await PrescriptionCrashTests.post(api, "/\(id)/claim", ["pharmacyCode": "P3701001"])
        XCTAssertEqual(claim.status, 200, claim.body)
        let review = try await PrescriptionCrashTests.post(api, "/\(id)/review", ["pharmacyCode": "P3701001", "decision": "approve", "pharCode": "PH1"])
        XCTAssertEqual(review.status, 200, review.body)
        let dispense = try await PrescriptionCrashTests.post(api, "/\(id)/dispense", ["pharmacyCode": "P3701001", "seltdelts": [
            ["med_list_codg": "XJ01DDT085B002010101445", "drug_totlcnt": "6", "bchno": "B2401", "pric": "12.50", "sumamt": "75.00"],
            ["med_list_codg": "XJ01XDJ057B002020100213", "drug_totlcnt": "3", "bchno": "C0917", "pric": "8.00", "sumamt": "24.00"],
        ]])
        XCTAssertEqual(dispense.status, 200, dispense.body)

        // → RDS^O13 toward the hospital: the issue (trace code in ORC-3) and the dispense with its RXDs.
        var messages: [String] = []
        try await poll("RDS^O13 of the dispense on outbound.his.H37010200001", timeout: 90) {
            // The topic appears with the router's first output to it.
            messages = ((try? await KafkaTopicReader.read(config: kafka, topic: "outbound.his.H37010200001", since: Date().addingTimeInterval(-600))) ?? [])
                .filter { $0.keyString == id }.compactMap(\.valueString)
            return messages.contains { $0.contains("|CM|") }
        }
        XCTAssertTrue(messages.allSatisfy { $0.contains("RDS^O13^RDS_O13") && $0.contains("|CF2025011500019^HIS|") })
        let traceCode = try XCTUnwrap(prescription["rxTraceCode"] as? String)
        XCTAssertTrue(messages.contains { $0.contains("issued^^MEDBUSRX") && $0.contains("|\(traceCode)^MEDBUS|") }, messages.joined(separator: "\n\n"))
        let dispensed = try XCTUnwrap(messages.first { $0.contains("|CM|") })
        XCTAssertTrue(dispensed.contains("\rRXD|1|XJ01DDT085B002010101445^^NHSA|"), dispensed)
        XCTAssertTrue(dispensed.contains("\rRXD|2|XJ01XDJ057B002020100213^^NHSA|"), dispensed)
        XCTAssertTrue(dispensed.contains("|B2401"), dispensed)
    }

    private func poll(_ what: String, timeout: TimeInterval, _ condition: () async throws -> Bool) async throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(500))
        }
        XCTFail("timed out waiting for \(what)")
    }
}
