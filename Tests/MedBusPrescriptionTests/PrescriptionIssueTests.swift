import Foundation
import MedBusCore
import MedBusCrypto
import MedBusKafka
@testable import MedBusPrescription
import MedBusTestSupport
import XCTest

/// Issuing: validation with specific problems, signing, publishing to rx.issued / rx.available.<region> /
/// rx.events, and the intake from the HIS's canonical topic.
final class PrescriptionIssueTests: XCTestCase {
    /// The published record verifies with the certificate it carries — with MedBusCrypto and with the openssl
    /// command — and stops verifying when one byte of the prescription changes.
    func testPublishedPrescriptionVerifiesAndOneChangedByteFails() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let id = try await fixture.issue(prescriptionBody("CF-SIG-1"))

        let available = try await fixture.records(RxTopics.available(region: region), key: id)
        let issued = try await fixture.records(RxTopics.issued, key: id)
        XCTAssertEqual(available.count, 1)
        XCTAssertEqual(issued.count, 1)
        XCTAssertEqual(available[0].headers.string(MessageEnvelope.Header.messageType), "rx.prescription")
        let record = try JSONValue.parse(available[0].value ?? [])
        XCTAssertNil(record["qrToken"], "the QR token is for the patient, not for every pharmacy of the region")
        XCTAssertNotNil(try JSONValue.parse(issued[0].value ?? [])["qrToken"])

        let document = try XCTUnwrap(record["prescription"])
        let signature = try XCTUnwrap(record["signature"])
        let bytes = RxCanonicalForm.bytes(document)
        // The prescription is sent in its canonical form: its bytes in the record are the signed bytes.
        XCTAssertTrue(String(decoding: available[0].value!, as: UTF8.self).contains(String(decoding: bytes, as: UTF8.self)))
        XCTAssertEqual(signature["algorithm"]?.stringValue, "SM2-with-SM3")
        XCTAssertEqual(signature["keyId"]?.stringValue, "\(hospital)-test")
        XCTAssertEqual(signature["digest"]?.stringValue, SM3.digest(bytes).map { String(format: "%02x", $0) }.joined())
        XCTAssertEqual(document["rxTraceCode"]?.stringValue?.count, 20)
        XCTAssertEqual(document["rxdrugdetail"]?.arrayValue?.first?["sinDoscnt"], .number("2"), "quantities in shortest form")

        let der = try XCTUnwrap(Data(base64Encoded: try XCTUnwrap(signature["value"]?.stringValue)))
        let certificate = try XCTUnwrap(signature["certificate"]?.stringValue)
        let publicKey = try SM2PublicKey(certificatePEM: certificate)
        XCTAssertTrue(publicKey.isValidSignature(Array(der), for: bytes))
        var tampered = bytes
        let position = try XCTUnwrap(tampered.firstIndex(of: UInt8(ascii: "6")), "the drug count 6")
        tampered[position] = UInt8(ascii: "9")
        XCTAssertFalse(publicKey.isValidSignature(Array(der), for: tampered))

        // An independent verifier: the openssl command with the certificate's public key.
        let files = fixture.directory
        try certificate.write(toFile: files + "/cert.pem", atomically: true, encoding: .utf8)
        let publicPEM = try runTool("/usr/bin/openssl", ["x509", "-in", files + "/cert.pem", "-pubkey", "-noout"])
        try publicPEM.write(toFile: files + "/pub.pem", atomically: true, encoding: .utf8)
        try der.write(to: URL(fileURLWithPath: files + "/sig.der"))
        try Data(bytes).write(to: URL(fileURLWithPath: files + "/doc.json"))
        try Data(tampered).write(to: URL(fileURLWithPath: files + "/tampered.json"))
        let verify = ["dgst", "-sm3", "-verify", files + "/pub.pem", "-sigopt", "distid:1234567812345678", "-signature", files + "/sig.der"]
        XCTAssertTrue(try runTool("/usr/bin/openssl", verify + [files + "/doc.json"]).contains("Verified OK"))
        XCTAssertThrowsError(try runTool("/usr/bin/openssl", verify + [files + "/tampered.json"]))

        // rx.events: the issue, keyed by prescription id, with the trace code for the hospital.
        let events = try await fixture.events(id)
        XCTAssertEqual(events.map { $0["event"]?.stringValue }, ["issued"])
        XCTAssertEqual(events[0]["rxTraceCode"], document["rxTraceCode"])

        // The pharmacy's lookups carry the same signature.
        let byTrace = try await fixture.http("GET", "/v1/prescriptions?traceCode=\(document["rxTraceCode"]!.stringValue!)")
        XCTAssertEqual(byTrace.status, 200)
        XCTAssertEqual(byTrace.body["signature"], signature)
        let token = try JSONValue.parse(issued[0].value ?? [])["qrToken"]!.stringValue!
        let byToken = try await fixture.http("GET", "/v1/prescriptions?token=\(token)")
        XCTAssertEqual(byToken.body["rxId"]?.stringValue, id)
    }

    /// Each kind of bad prescription gets its own problem type over HTTP, and nothing is stored or published.
    func testInvalidPrescriptionsAreRefusedWithSpecificProblems() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let good = prescriptionBody("CF-BAD")
        let cases: [(String, JSONValue, RxProblem.Kind)] = [
            ("no patient", good.setting("patientId", .null), .missingField),
            ("no prescriber", good.setting("drCode", .string(" ")), .missingField),
            ("drug not in circulation table", prescriptionBody("CF-BAD", drug: "XZ99999999"), .unknownDrugCode),
            ("zero quantity", prescriptionBody("CF-BAD", count: .number("0")), .invalidQuantity),
            ("negative quantity", prescriptionBody("CF-BAD", count: .string("-2")), .invalidQuantity),
            ("validity ended", good.setting("prscTime", .string("2020-01-01T08:00:00+08:00")), .invalidValidity),
            ("zero validity days", good.setting("valiDays", .int(0)), .invalidValidity),
            ("unknown hospital", good.setting("fixmedinsCode", .string("H99")), .unknownHospital),
            ("trace code sent", good.setting("rxTraceCode", .string("X")), .invalidField),
            ("repeat without count", good.setting("reptFlag", .string("1")), .invalidField),
            ("unknown field", good.setting("price", .number("1")), .invalidField),
        ]
        for (name, body, kind) in cases {
            let answer = try await fixture.http("POST", "/v1/prescriptions", body)
            XCTAssertEqual(answer.status, kind.httpStatus, name)
            XCTAssertEqual(answer.contentType, "application/problem+json", name)
            XCTAssertEqual(answer.body["type"]?.stringValue, RxProblem.typeBase + kind.rawValue, "\(name): \(answer.body.jsonText)")
        }
        let notJSON = try await fixture.http("POST", "/v1/prescriptions", nil)
        XCTAssertEqual(notJSON.body["type"]?.stringValue, RxProblem.typeBase + "invalid-json")
        let stored = try await fixture.service.ledger.list(status: nil, limit: 10)
        XCTAssertTrue(stored.isEmpty)
        try await fixture.service.publishPending()
        let events = try await KafkaTopicReader.read(config: fixture.kafka, topic: RxTopics.events, since: fixture.startedAt.addingTimeInterval(-60))
        XCTAssertTrue(events.isEmpty)

        // The same prescription again is the same prescription; other content under its number is refused.
        let first = try await fixture.http("POST", "/v1/prescriptions", good)
        let again = try await fixture.http("POST", "/v1/prescriptions", good)
        XCTAssertEqual(first.status, 201)
        XCTAssertEqual(again.status, 200)
        XCTAssertEqual(again.body["rxId"], first.body["rxId"])
        let changed = try await fixture.http("POST", "/v1/prescriptions", good.setting("drName", .string("李")))
        XCTAssertEqual(changed.body["type"]?.stringValue, RxProblem.typeBase + "duplicate-prescription")
    }

    /// Prescriptions from the HIS (the RDE^O11 mapping's canonical output on its topic) are issued; one that
    /// cannot be goes to dlq.rx with its reason, and a redelivery issues nothing twice.
    func testIntakeFromCanonicalTopicIssuesAndDeadLetters() async throws {
        let fixture = try await RxFixture()
        defer { Task { await fixture.shutdown() } }
        let intake = PrescriptionIntake(service: fixture.service, kafka: fixture.kafka)
        let running = Task { try await intake.run() }
        defer { running.cancel() }

        // What the RDE^O11 golden test expects the mapping to produce (Mappings/his/tests/rde-prescription.yaml).
        let canonical = #"{"hospRxno":"CF2025011500019","patientId":"ZY2025000123","fixmedinsCode":"H37010200001","prscTime":"2099-01-15T12:00:00+08:00","drCode":"D1023","drName":"王建国","prscDeptCode":"0301","rxdrugdetail":[{"medListCodg":"XJ01DDT085B002010101445","fixmedinsHilistId":"86900123000017","fixmedinsHilistName":"注射用头孢曲松钠","drugDosform":"注射剂","rxItemTypeCode":"11","sinDoscnt":2,"sinDosunt":"克","usedFrquCodg":"Q8H","drugCnt":6,"drugDosunt":"支"}]}"#
        let unknownDrug = canonical.replacingOccurrences(of: "XJ01DDT085B002010101445", with: "XJ00000000").replacingOccurrences(of: "CF2025011500019", with: "CF-X")
        let envelope = MessageEnvelope(source: "his.\(hospital)", messageType: "prescription", contentType: "application/json")
        for text in [canonical, unknownDrug, canonical] {
            _ = try await fixture.producer.send(KafkaProducerMessage(topic: fixture.configuration.inputTopic, key: "k", value: text, headers: envelope.headers))
        }
        try await waitUntil("the dead letter") {
            try await !KafkaTopicReader.read(config: fixture.kafka, topic: RxTopics.deadLetters, since: fixture.startedAt.addingTimeInterval(-60)).isEmpty
        }
        let issued = try await fixture.service.ledger.list(status: nil, limit: 10)
        XCTAssertEqual(issued.map(\.hospRxno), ["CF2025011500019"])
        let letters = try await KafkaTopicReader.read(config: fixture.kafka, topic: RxTopics.deadLetters, since: fixture.startedAt.addingTimeInterval(-60))
        XCTAssertEqual(letters.count, 1)
        XCTAssertEqual(letters[0].headers.string("medbus-error-reason"), "unknown-drug-code")
        XCTAssertEqual(letters[0].valueString, unknownDrug)
        let eventCount = try await fixture.events(issued[0].id).count
        XCTAssertEqual(eventCount, 1, "the redelivered prescription is not issued again")
    }
}
