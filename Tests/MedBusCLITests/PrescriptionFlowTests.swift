import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusKafka
import MedBusTestSupport
import XCTest

/// The whole circulation in one `medbus serve`: an HL7 RDE^O11 over MLLP becomes a signed prescription on
/// rx.available.<region>; a pharmacy claims, reviews and dispenses it over HTTP; the routing core turns the
/// events into RDS^O13 on the hospital's outbound topic. The other two ends of a prescription reach the
/// hospital the same way: the sweeper's expiry at the end of the validity, and the hospital's own revoke.
final class PrescriptionFlowTests: XCTestCase {
    func testRDEOverMLLPToDispenseAndRDSBackToTheHospital() async throws {
        let dataDir = temporaryDirectory()
        let manifest = try PrescriptionCrashTests.writeManifest(in: dataDir, sweepIntervalSeconds: 1)
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

        // → an expiry (validity ending 5 s from now; the sweeper looks every second) and a revoke reach the
        // hospital as RDS^O13: ORC-5 DC / CA, ORC-16 the event (and the revoke's reason), ORC-9 when it happened.
        let endText = ISO8601DateFormatter().string(from: Date().addingTimeInterval(5))
        let validityEnd = try XCTUnwrap(ISO8601DateFormatter().date(from: endText))
        var expiring = PrescriptionCrashTests.prescription
        expiring["hospRxno"] = "CF-EXPIRES"
        expiring["valiEndTime"] = endText
        let expiringIssue = try await PrescriptionCrashTests.post(api, "", expiring)
        let expiringID = try XCTUnwrap(expiringIssue.json["rxId"] as? String, expiringIssue.body)
        var revoked = PrescriptionCrashTests.prescription
        revoked["hospRxno"] = "CF-REVOKED"
        let revokedIssue = try await PrescriptionCrashTests.post(api, "", revoked)
        let revokedID = try XCTUnwrap(revokedIssue.json["rxId"] as? String, revokedIssue.body)
        let revoke = try await PrescriptionCrashTests.post(api, "/\(revokedID)/revoke", ["reason": "开错药"])
        XCTAssertEqual(revoke.status, 200, revoke.body)
        var toHospital: [String: [String]] = [:]
        try await poll("RDS^O13 of the expiry and of the revoke on outbound.his.H37010200001", timeout: 90) {
            let records = (try? await KafkaTopicReader.read(config: kafka, topic: "outbound.his.H37010200001", since: Date().addingTimeInterval(-600))) ?? []
            toHospital = Dictionary(grouping: records.filter { [expiringID, revokedID].contains($0.keyString) }, by: { $0.keyString ?? "" })
                .mapValues { $0.compactMap(\.valueString) }
            return toHospital[expiringID]?.contains { $0.contains("expired^^MEDBUSRX") } == true
                && toHospital[revokedID]?.contains { $0.contains("revoked^") } == true
        }
        let expiry = try XCTUnwrap(toHospital[expiringID]?.first { $0.contains("expired^^MEDBUSRX") })
        let expiryORC = try XCTUnwrap(expiry.split(separator: "\r").first { $0.hasPrefix("ORC|") }).split(separator: "|", omittingEmptySubsequences: false)
        XCTAssertEqual(expiryORC[4], "CF-EXPIRES^HIS")
        XCTAssertEqual(expiryORC[5], "DC", expiry)
        let timeFormat = DateFormatter()
        timeFormat.locale = Locale(identifier: "en_US_POSIX")
        timeFormat.dateFormat = "yyyyMMddHHmmss.SSSZ"
        let expiredAt = try XCTUnwrap(timeFormat.date(from: String(expiryORC[9])), expiry)
        XCTAssertGreaterThanOrEqual(expiredAt, validityEnd, "not before the validity ends")
        XCTAssertLessThan(expiredAt.timeIntervalSince(validityEnd), 20, "within a few sweeps of the end")
        let revokedRDS = try XCTUnwrap(toHospital[revokedID]?.first { $0.contains("revoked^") })
        XCTAssertTrue(revokedRDS.contains("|CF-REVOKED^HIS|CA|"), revokedRDS)
        XCTAssertTrue(revokedRDS.contains("|revoked^开错药^MEDBUSRX|"), revokedRDS)
    }

    /// `medbus bench rx` (the BENCHMARKS.md measurement) runs end to end at a small size: every prescription
    /// issued and signed, every round trip answered 200, and a table with each measure.
    func testBenchRxRunsEndToEnd() throws {
        let run = try medbus(["bench", "rx", "--prescriptions", "60", "--batch", "20", "--round-trips", "24", "--pharmacies", "4", "--runs", "1",
                              "--drug-table", packageRoot.path + "/Mappings/codes/rx-circulation-drugs.csv"], timeout: 120)
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stderr.contains("(failed 0)"), run.stderr)
        for measure in ["raw SM2 signatures/s", "signed prescriptions issued/s", "claim+review+dispense round trips/s", "claim latency p50 / p99"] {
            XCTAssertTrue(run.stdout.contains("| \(measure)"), "\(measure): \(run.stdout)")
        }
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
