import Foundation
import MedBusAdmin
import MedBusCore
import MedBusDispatch
import MedBusKafka
import MedBusPrescription
import MedBusSettlement
import MedBusTestSupport
import XCTest

/// The operator views of settlements, prescriptions and 120 tasks on the admin API, over records
/// the real components wrote: a viewer sees states, amounts and times with identifiers masked; a
/// patient-data role sees them, and each such view is in the audit log; filters and paging.
final class AdminViewsTests: XCTestCase {
    static let patientId = "PAT-SECRET-4471"
    static let batch = "CB-SECRET-9083"

    func testSettlementViewsMaskForViewerRevealAndAuditForOperator() async throws {
        let fixture = try await AdminFixture()
        let orchestrator = Task { try await fixture.settlements.run() }
        let request = SettlementRequest(
            chrgBchno: Self.batch, encounterId: "ENC-SECRET-1", patientId: Self.patientId, fixmedinsCode: "H37010200001", medType: "11",
            feedetail: [.init(feedetlSn: "1", medinsListCodg: "ITEM1", medListCodg: "XL01", cnt: 1, pric: Decimal(string: "12.50")!, detItemFeeSumamt: Money(fen: 1250))],
            mdtrtId: "370102MDT0001", mdtrtCertType: "02", mdtrtCertNo: "370102199001011234", insutype: "390", commercial: nil)
        let id = try await fixture.settlements.submit(request)
        // No insurer answers: one 300 ms attempt, then the saga fails with a result naming the patient.
        let deadline = ContinuousClock.now + .seconds(20)
        while try await fixture.settlements.status(id).state != .failed, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }

        let viewer = try await fixture.client(.viewer).send("GET", "v1/settlements", query: ["hospital": "H37010200001"])
        XCTAssertEqual(viewer.status, 200, viewer.text)
        let rows = try XCTUnwrap(viewer.json["settlements"] as? [[String: Any]])
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows.first?["state"] as? String, "failed")
        XCTAssertEqual(rows.first?["chrgBchno"] as? String, "CB***")
        XCTAssertFalse(viewer.text.contains(Self.patientId) || viewer.text.contains(Self.batch) || viewer.text.contains("ENC-SECRET-1"), viewer.text)
        XCTAssertNotNil(rows.first?["result"], "the failed saga's result is shown (masked)")

        let other = try await fixture.client(.viewer).send("GET", "v1/settlements", query: ["hospital": "H99999999999"])
        XCTAssertEqual((other.json["settlements"] as? [Any])?.count, 0)
        let before = try await fixture.client(.viewer).send("GET", "v1/settlements", query: ["to": "2020-01-01T00:00:00Z"])
        XCTAssertEqual((before.json["settlements"] as? [Any])?.count, 0, "time range")
        let badState = try await fixture.client(.viewer).send("GET", "v1/settlements", query: ["state": "paid"])
        XCTAssertEqual(badState.status, 400)
        XCTAssertTrue(badState.text.contains("state must be one of"), badState.text)

        let detail = try await fixture.client(.operator).send("GET", "v1/settlements/\(id)")
        XCTAssertEqual(detail.status, 200, detail.text)
        XCTAssertTrue(detail.text.contains(Self.patientId) && detail.text.contains(Self.batch), "operator sees identifiers: \(detail.text)")
        XCTAssertEqual((detail.json["history"] as? [[String: Any]])?.first?["to"] as? String, "received")
        let audit = try fixture.registry.auditLog.entries(limit: 100)
        XCTAssertEqual(audit.filter { $0.action == "settlement.view" && $0.object == "settlement:\(id)" && $0.actor == "test-operator" }.count, 1)
        XCTAssertTrue(audit.filter { $0.action == "settlement.view" }.allSatisfy { $0.actor != "test-viewer" }, "masked views are not payload views")
        orchestrator.cancel()
        _ = try? await orchestrator.value
        await fixture.shutdown()
    }

    func testPrescriptionViewsMaskNumbersAndAuditTheDocument() async throws {
        let fixture = try await AdminFixture()
        let service = try await fixture.prescriptionService()
        defer { service.close() }
        var issued: [String] = []
        for n in 1...3 { issued.append(try await service.issue(Self.prescription("RX-SECRET-\(n)")).record.id) }

        let firstPage = try await fixture.client(.viewer).send("GET", "v1/prescriptions", query: ["limit": "2", "status": "valid"])
        XCTAssertEqual(firstPage.status, 200, firstPage.text)
        XCTAssertEqual((firstPage.json["prescriptions"] as? [Any])?.count, 2)
        XCTAssertEqual(firstPage.json["next"] as? Int, 2)
        let secondPage = try await fixture.client(.viewer).send("GET", "v1/prescriptions", query: ["limit": "2", "offset": "2"])
        let last = try XCTUnwrap((secondPage.json["prescriptions"] as? [[String: Any]])?.first)
        XCTAssertNil(secondPage.json["next"])
        XCTAssertEqual(last["hospRxno"] as? String, "RX***")
        XCTAssertFalse(firstPage.text.contains("RX-SECRET") || secondPage.text.contains("RX-SECRET"))
        XCTAssertFalse(secondPage.text.contains("qrToken"), "the claim credential is never shown")

        let denied = try await fixture.client(.viewer).send("GET", "v1/prescriptions/\(issued[0])", query: ["document": "true"])
        XCTAssertEqual(denied.status, 403)
        let withDocument = try await fixture.client(.operator).send("GET", "v1/prescriptions/\(issued[0])", query: ["document": "true"])
        XCTAssertEqual(withDocument.status, 200, withDocument.text)
        XCTAssertTrue(withDocument.text.contains("RX-SECRET-1") && withDocument.text.contains(Self.patientId), withDocument.text)
        let audit = try fixture.registry.auditLog.entries(limit: 100).filter { $0.action == "prescription.view" }
        XCTAssertEqual(audit.filter { $0.outcome == "denied" && $0.actor == "test-viewer" }.count, 1)
        XCTAssertEqual(audit.filter { $0.outcome == "success" && $0.object == "prescription:\(issued[0])" && $0.actor == "test-operator" }.count, 1)
        await fixture.shutdown()
    }

    func testDispatchTaskViewsMaskThePatientBlock() async throws {
        let fixture = try await AdminFixture()
        let parser = DispatchEventParser(centre: "JN120", vitalSigns: VitalSigns([]))
        let lines = [
            #"{"eventId":"E1","taskId":"T-1","centreCode":"JN120","stage":"dispatched","occurredAt":"2025-01-15T10:40:00+08:00"}"#,
            #"{"eventId":"E2","taskId":"T-1","centreCode":"JN120","stage":"left-scene","occurredAt":"2025-01-15T10:58:00+08:00","destinationHospital":"H37010200001","patient":{"name":"张秘密","age":67,"idNumber":"370102195801011234"},"callPhone":"13800138000"}"#,
            #"{"eventId":"E3","taskId":"T-2","centreCode":"JN120","stage":"dispatched","occurredAt":"2025-01-15T11:00:00+08:00"}"#,
        ]
        let events = try lines.map { line -> DispatchEvent in
            guard case .event(let event) = parser.parse(Array(line.utf8)) else {
                XCTFail("invalid test event \(line): \(parser.parse(Array(line.utf8)))")
                throw CancellationError()
            }
            return event
        }
        _ = try fixture.dispatch.apply(events)

        let list = try await fixture.client(.viewer).send("GET", "v1/dispatch/tasks", query: ["destination": "H37010200001"])
        XCTAssertEqual(list.status, 200, list.text)
        XCTAssertEqual((list.json["tasks"] as? [[String: Any]])?.map { $0["taskId"] as? String }, ["T-1"])
        let all = try await fixture.client(.viewer).send("GET", "v1/dispatch/tasks", query: ["status": "all"])
        XCTAssertEqual((all.json["tasks"] as? [Any])?.count, 2)
        let completed = try await fixture.client(.viewer).send("GET", "v1/dispatch/tasks", query: ["status": "completed"])
        XCTAssertEqual((completed.json["tasks"] as? [Any])?.count, 0)

        let masked = try await fixture.client(.viewer).send("GET", "v1/dispatch/tasks/T-1")
        XCTAssertEqual(masked.status, 200, masked.text)
        for secret in ["张秘密", "370102195801011234", "13800138000"] { XCTAssertFalse(masked.text.contains(secret), "\(secret) in \(masked.text)") }
        XCTAssertTrue(masked.text.contains("left-scene"), "the stages stay visible")
        let revealed = try await fixture.client(.admin).send("GET", "v1/dispatch/tasks/T-1")
        XCTAssertTrue(revealed.text.contains("张秘密"), revealed.text)
        let audit = try fixture.registry.auditLog.entries(limit: 100).filter { $0.action == "dispatch.task.view" }
        XCTAssertEqual(audit.map(\.actor), ["test-admin"])
        await fixture.shutdown()
    }

    static func prescription(_ number: String) -> JSONValue {
        .object([
            "hospRxno": .string(number), "patientId": .string(patientId), "fixmedinsCode": .string("H37010200001"), "drCode": .string("D1023"),
            "drName": .string("王建国"), "valiDays": .int(3),
            "diseinfo": .array([.object(["diagCode": .string("J18.900"), "diagName": .string("肺炎"), "maindiagFlag": .string("1")])]),
            "rxdrugdetail": .array([
                .object(["medListCodg": .string("XJ01DDT085B002010101445"), "fixmedinsHilistId": .string("86900123000017"), "drugCnt": .number("6")]),
            ]),
        ])
    }
}

extension AdminFixture {
    /// The prescription service on the fixture's folder (so `prescriptions` reads what it issues), with a hospital
    /// SM2 key and certificate made by the `openssl` command.
    func prescriptionService() async throws -> PrescriptionService {
        let key = directory + "/hospital.sm2.key.pem", certificate = directory + "/hospital.sm2.cert.pem"
        _ = try runTool("/usr/bin/openssl", ["genpkey", "-algorithm", "SM2", "-out", key])
        _ = try runTool("/usr/bin/openssl", ["req", "-new", "-x509", "-key", key, "-sm3", "-sigopt", "distid:1234567812345678",
                                             "-subj", "/CN=H37010200001/O=Test Hospital", "-days", "30", "-out", certificate])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardizedFileURL.path
        try """
            kind: rx-service
            name: rx-admin-test
            listen: 127.0.0.1:0
            drugTable: \(root)/Mappings/codes/rx-circulation-drugs.csv
            hospitals:
              - code: H37010200001
                region: "370100"
                keyId: H37010200001-test
                key: \(key)
                certificate: \(certificate)
            """.write(toFile: directory + "/rx-service.yaml", atomically: true, encoding: .utf8)
        let configuration = try RxServiceConfiguration.load(path: directory + "/rx-service.yaml")
        return try PrescriptionService(configuration: configuration, directory: directory, producer: try KafkaProducer(config: kafka))
    }
}
