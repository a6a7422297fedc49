import Foundation
import Hummingbird
import MedBusCore
import MedBusKafka
import XCTest

final class FHIRInboundTests: HTTPAdapterTestCase {
    private let fhirJSON = "application/fhir+json"
    /// Patient data in the samples, which no error answer may quote.
    private let patientData = ["张三", "37010219000101000X", "MZ000123", "13800000000"]

    func testBundleIsAcceptedOncePublishedWithPatientKeyAndRetransmissionAnsweredFromStore() async throws {
        let bundle = try sample("fhir_patient_encounter_bundle.json")
        let first = try await post("/fhir", contentType: fhirJSON, body: bundle)
        XCTAssertEqual(first.status, .created)
        XCTAssertEqual(first.json["resourceType"] as? String, "OperationOutcome")
        let messageId = try XCTUnwrap(first.headers[.medBusMessageIDForTests])
        XCTAssertEqual(first.headers[.location], "/fhir/Bundle/\(messageId)")

        let again = try await post("/fhir", contentType: "application/json; charset=utf-8", body: bundle)
        XCTAssertEqual(again.status, .ok, "a retransmission is answered from the store")
        XCTAssertEqual(again.body, first.body)
        XCTAssertEqual(again.headers[.medBusMessageIDForTests], messageId)

        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1, "published exactly once")
        let record = try XCTUnwrap(records.first)
        XCTAssertEqual(record.keyString, "MZ000123", "keyed by Patient.identifier[0] (the bundle's Patient has no id)")
        XCTAssertEqual(record.value, bundle, "published as received")
        let envelope = try MessageEnvelope(headers: record.headers)
        XCTAssertEqual(envelope.id, messageId)
        XCTAssertEqual(envelope.source, "his.H37010200001")
        XCTAssertEqual(envelope.messageType, "fhir.Bundle.transaction")
        XCTAssertEqual(envelope.contentType, "application/fhir+json; fhirVersion=4.0")
        XCTAssertEqual(envelope.sourceMessageId, "Bundle.identifier|urn:oid:2.16.156.10011.2.5.1.1|H37010200001-FHIR-20250115-000123")
    }

    func testIdempotencyKeyGivesSameAnswerWithoutSecondPublication() async throws {
        let encounter = Array(#"{"resourceType":"Encounter","status":"planned","class":{"code":"AMB"},"subject":{"reference":"Patient/p-42"}}"#.utf8)
        let headers: HTTPFields = [.idempotencyKeyForTests: "req-0001"]
        let first = try await post("/fhir/Encounter", contentType: fhirJSON, body: encounter, headers: headers)
        XCTAssertEqual(first.status, .created)
        let second = try await post("/fhir/Encounter", contentType: fhirJSON, body: encounter, headers: headers)
        XCTAssertEqual(second.status, .ok)
        XCTAssertEqual(second.body, first.body)
        let records = try await recordsOnTopic()
        XCTAssertEqual(records.map(\.keyString), ["p-42"], "one record, keyed by Encounter.subject")
    }

    func testInvalidJSONGets400StructureOutcomeAndIsKeptAsRejected() async throws {
        let answer = try await post("/fhir/Patient", contentType: fhirJSON, body: Array(#"{"resourceType":"Patient","name":[{"text":"张三"}"#.utf8))
        XCTAssertEqual(answer.status, .badRequest)
        XCTAssertEqual(answer.json["resourceType"] as? String, "OperationOutcome")
        XCTAssertEqual(answer.issueCode, "structure")
        for value in patientData { XCTAssertFalse(answer.body.contains(value)) }
        XCTAssertEqual(try rejections().map(\.type), ["fhir.invalid"])
    }

    func testBundleEntryWithoutResourceTypeGets400Required() async throws {
        var bundle = try JSONSerialization.jsonObject(with: Data(try sample("fhir_patient_encounter_bundle.json"))) as! [String: Any]
        var entries = bundle["entry"] as! [[String: Any]]
        var encounter = entries[1]["resource"] as! [String: Any]
        encounter["resourceType"] = nil
        entries[1]["resource"] = encounter
        bundle["entry"] = entries
        let answer = try await post("/fhir", contentType: fhirJSON, body: Array(try JSONSerialization.data(withJSONObject: bundle)))
        XCTAssertEqual(answer.status, .badRequest)
        XCTAssertEqual(answer.issueCode, "required")
        let issue = try XCTUnwrap((answer.json["issue"] as? [[String: Any]])?.first)
        XCTAssertEqual(issue["expression"] as? [String], ["Bundle.entry[1].resource.resourceType"])
        for value in patientData { XCTAssertFalse(answer.body.contains(value)) }
    }

    func testUnknownBundleTypeAndPathMismatchAre400() async throws {
        let badType = try await post("/fhir", contentType: fhirJSON, body: Array(#"{"resourceType":"Bundle","type":"pile"}"#.utf8))
        XCTAssertEqual(badType.status, .badRequest)
        XCTAssertEqual(badType.issueCode, "value")
        let mismatch = try await post("/fhir/Encounter", contentType: fhirJSON, body: Array(#"{"resourceType":"Patient","id":"p1"}"#.utf8))
        XCTAssertEqual(mismatch.status, .badRequest)
        XCTAssertEqual(mismatch.issueCode, "invalid")
    }

    func testWrongContentTypeGets415() async throws {
        let answer = try await post("/fhir", contentType: "text/plain", body: try sample("fhir_patient_encounter_bundle.json"))
        XCTAssertEqual(answer.status, .unsupportedMediaType)
        XCTAssertEqual(answer.issueCode, "not-supported")
        XCTAssertEqual(try rejections().count, 1)
    }

    func testOversizeBodyGets413() async throws {
        let padding = String(repeating: " ", count: Self.maxBodyBytes)
        let answer = try await post("/fhir/Patient", contentType: fhirJSON, body: Array(#"{"resourceType":"Patient"\#(padding)}"#.utf8))
        XCTAssertEqual(answer.status, .contentTooLarge)
        XCTAssertEqual(answer.issueCode, "too-long")
        XCTAssertEqual(try rejections().count, 1)
    }

    /// Kafka down: 503 `transient` with Retry-After, nothing positive; after recovery the
    /// sender's retry is accepted and published once.
    func testBrokerOutageGets503TransientThenRetryIsAccepted() async throws {
        let bundle = try sample("fhir_patient_encounter_bundle.json")
        for broker in 1...3 { cluster.setBrokerDown(Int32(broker)) }
        let down = try await post("/fhir", contentType: fhirJSON, body: bundle)
        XCTAssertEqual(down.status, .serviceUnavailable)
        XCTAssertEqual(down.issueCode, "transient")
        XCTAssertEqual(down.headers[.retryAfter], "7")

        for broker in 1...3 { cluster.setBrokerUp(Int32(broker)) }
        let retry = try await post("/fhir", contentType: fhirJSON, body: bundle)
        XCTAssertEqual(retry.status, .created)
        let records = try await recordsOnTopic()
        XCTAssertEqual(records.count, 1)
    }
}

extension HTTPFields.Element.Name {
    static let medBusMessageIDForTests = Self("X-MedBus-Message-Id")!
    static let idempotencyKeyForTests = Self("Idempotency-Key")!
}
