import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import MedBusKafka
import MedBusTestSupport
import XCTest

/// `medbus rx serve` killed with SIGKILL between claim and dispense: after a restart the prescription is
/// exactly as committed (reviewed, held by the claiming pharmacy), another pharmacy still cannot take it,
/// the holder finishes, and every transition is on rx.events.
final class PrescriptionCrashTests: XCTestCase {
    func testKillBetweenClaimAndDispenseKeepsCommittedStateAndHolderFinishes() async throws {
        let dataDir = temporaryDirectory()
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        for topic in ["rx.issued", "rx.events", "rx.available.370100", "rx.commands", "rx.command-results", "dlq.rx", "canonical.prescription"] {
            try cluster.createTopic(topic, partitions: 4, replicationFactor: 1)
        }
        let manifest = try Self.writeManifest(in: dataDir)
        let arguments = ["rx", "serve", "--brokers", cluster.bootstrapServers, "--kafka-option", "session.timeout.ms=6000", "--data-dir", dataDir, "--manifest", manifest]

        var service = try MedBusProcess(arguments)
        var api = try Self.apiURL(service)
        let issued = try await Self.post(api, "", Self.prescription)
        XCTAssertEqual(issued.status, 201, issued.body)
        let id = try XCTUnwrap(issued.json["rxId"] as? String)
        let claim = try await Self.post(api, "/\(id)/claim", ["pharmacyCode": "P1"])
        XCTAssertEqual(claim.status, 200, claim.body)
        let review = try await Self.post(api, "/\(id)/review", ["pharmacyCode": "P1", "decision": "approve", "pharCode": "PH1"])
        XCTAssertEqual(review.status, 200, review.body)
        service.signal(SIGKILL)
        XCTAssertEqual(service.wait(timeout: 10), SIGKILL)

        service = try MedBusProcess(arguments)
        defer { service.signal(SIGKILL) }
        api = try Self.apiURL(service)
        let after = try await Self.get(api + "/\(id)")
        XCTAssertEqual(after["status"] as? String, "reviewed")
        XCTAssertEqual(after["holder"] as? String, "P1")
        XCTAssertEqual(after["version"] as? Int, 3)
        let other = try await Self.post(api, "/\(id)/claim", ["pharmacyCode": "P2"])
        XCTAssertEqual(other.status, 409)
        XCTAssertEqual(other.json["holder"] as? String, "P1")
        let dispense = try await Self.post(api, "/\(id)/dispense", ["pharmacyCode": "P1", "seltdelts": [
            ["med_list_codg": "XJ01DDT085B002010101445", "drug_totlcnt": "6", "bchno": "B2401", "pric": "12.50", "sumamt": "75.00"],
        ]])
        XCTAssertEqual(dispense.status, 200, dispense.body)
        XCTAssertEqual(dispense.json["status"] as? String, "dispensed")

        // Every committed transition reaches rx.events (at least once: one committed before the kill may be
        // published again after it), and nothing else does.
        let kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        var eventIDs: Set<String> = []
        let deadline = Date().addingTimeInterval(30)
        while eventIDs.count < 4, Date() < deadline {
            let records = try await KafkaTopicReader.read(config: kafka, topic: "rx.events", since: Date().addingTimeInterval(-600))
            eventIDs = Set(records.filter { $0.keyString == id }.compactMap { $0.headers.string("medbus-message-id") })
            try await Task.sleep(for: .milliseconds(200))
        }
        XCTAssertEqual(eventIDs, Set((1...4).map { "\(id)-\($0)" }))

        service.signal(SIGTERM)
        XCTAssertEqual(service.wait(timeout: 30), 0, service.stderr)
        let show = try medbus(["rx", "show", id, "--data-dir", dataDir])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("status:      dispensed"), show.stdout)
        XCTAssertTrue(show.stdout.contains("dispensed  reviewed → dispensed  by P1"), show.stdout)
    }

    static var prescription: [String: Any] { [
        "hospRxno": "CF-KILL-1", "patientId": "ZY2025000123", "fixmedinsCode": "H37010200001", "drCode": "D1023", "valiDays": 3,
        "rxdrugdetail": [["medListCodg": "XJ01DDT085B002010101445", "fixmedinsHilistId": "86900123000017", "drugCnt": 6]],
    ] }

    /// An rx-service manifest in `directory` on a free port, with an SM2 key and certificate made by the openssl command.
    static func writeManifest(in directory: String, sweepIntervalSeconds: Int = 5) throws -> String {
        let key = directory + "/h.sm2.key.pem", certificate = directory + "/h.sm2.cert.pem", manifest = directory + "/rx-service.yaml"
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "SM2", "-out", key])
        _ = try runTool("/usr/bin/openssl", ["req", "-new", "-x509", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678",
                                             "-subj", "/CN=H37010200001", "-days", "30", "-out", certificate])
        try """
            kind: rx-service
            name: rx-test
            listen: 127.0.0.1:0
            drugTable: \(packageRoot.path)/Mappings/codes/rx-circulation-drugs.csv
            sweepIntervalSeconds: \(sweepIntervalSeconds)
            hospitals:
              - { code: H37010200001, region: "370100", key: \(key), certificate: \(certificate) }
            """.write(toFile: manifest, atomically: true, encoding: .utf8)
        return manifest
    }

    static func apiURL(_ process: MedBusProcess) throws -> String {
        try process.waitForOutput { $0.contains("Prescription API listening on ") }
        let line = try XCTUnwrap(process.stdout.split(separator: "\n").first { $0.hasPrefix("Prescription API listening on ") })
        return String(line.dropFirst("Prescription API listening on ".count))
    }

    static func post(_ base: String, _ path: String, _ body: [String: Any]) async throws -> (status: Int, json: [String: Any], body: String) {
        var request = URLRequest(url: URL(string: base + path)!)
        request.httpMethod = "POST"
        request.httpBody = try JSONSerialization.data(withJSONObject: body)
        request.setValue("application/json", forHTTPHeaderField: "Content-Type")
        let (data, response) = try await URLSession.shared.data(for: request)
        return ((response as! HTTPURLResponse).statusCode, (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] ?? [:], String(decoding: data, as: UTF8.self))
    }

    static func get(_ url: String) async throws -> [String: Any] {
        let (data, _) = try await URLSession.shared.data(from: URL(string: url)!)
        return try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }
}
