import MedBusHL7
import XCTest

@testable import MedBusMapping

/// The ADT sample through a patient + encounter mapping: every hl7v2 rule kind and modifier.
final class ADTMappingTests: XCTestCase {
    static let yaml = """
        name: adt-test
        source:
          format: hl7v2
          messageTypes: ["ADT^A0*"]
          senders: ["his.*"]
          versions: ["2.5"]
        codeTables:
          sex: { file: ../codes/sex.csv, onMissing: error }
        targets:
          - name: patient
            format: json
            topic: canonical.patient
            key: { path: "PID-3[1].1" }
            body:
              patientId: { path: "PID-3[1].1", required: true }
              name: { format: "{PID-5.1}{PID-5.2}" }
              gender: { path: PID-8, code: sex }
              birthDate: { path: PID-7, type: date }
              firstOf: { paths: [PID-99, "PID-3[2].1"] }
              source: { header: medbus-source }
              kind: { const: person }
              upper: { path: "PID-5[2].1", case: lower }
              missing: { path: PID-39, default: none }
              admitted: { path: PV1-44, type: datetime }
              sent: { path: MSH-7, type: datetime }
              balance: { path: ZPI-5, type: money }
              onlyInpatient: { const: yes-inpatient, when: { path: PV1-2, equals: I } }
              onlyOutpatient: { const: yes, when: { path: PV1-2, equals: O } }
              identifiers:
                each: PID-3
                item:
                  object:
                    value: { path: "PID-3.1" }
                    type: { path: "PID-3.5" }
              diagnoses:
                each: DG1
                item: { path: DG1-3.1 }
              insurance: { object: { plan: { path: IN1-2.1 }, none: { path: IN1-99 } } }
        """

    func testPatientBodyHasEveryRuleKind() throws {
        let mapping = try Fixtures.compile(Self.yaml)
        let records = Fixtures.records(Fixtures.apply(mapping, try Fixtures.sample("adt_a01.hl7")))
        XCTAssertEqual(records.count, 1)
        let record = try XCTUnwrap(records.first)
        XCTAssertEqual(record.key, "ZY2025000123")
        XCTAssertEqual(record.topic, "canonical.patient")
        XCTAssertEqual(record.version, 3)
        XCTAssertEqual(record.contentType, "application/json")
        XCTAssertEqual(
            Fixtures.text(record),
            #"{"patientId":"ZY2025000123","name":"李明华","gender":"male","birthDate":"1990-01-01","firstOf":"370102199001011234","#
                + #""source":"his.H37010200001","kind":"person","upper":"li","missing":"none","admitted":"2025-01-15T10:15:00+08:00","#
                + #""sent":"2025-01-15T10:30:00+08:00","balance":1500.00,"onlyInpatient":"yes-inpatient","#
                + #""identifiers":[{"value":"ZY2025000123","type":"MR"},{"value":"370102199001011234","type":"NI"},{"value":"YB3701000012345","type":"HC"}],"#
                + #""diagnoses":["K35.800"],"insurance":{"plan":"310"}}"#)
    }

    func testSourceMatchingByTypeSenderVersion() throws {
        let mapping = try Fixtures.compile(Self.yaml)
        let sample = try Fixtures.sample("adt_a01.hl7")
        var headers = Fixtures.headers
        headers["medbus-source"] = "pharmacy.x"
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, sample, headers: headers))?.reason, .noMapping)
        let oru = try Fixtures.sample("oru_r01.hl7")
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, oru))?.reason, .noMapping)
        let v23 = Fixtures.hl7(Fixtures.msh.replacingOccurrences(of: "|2.5|", with: "|2.3|"), "PID|1||X1")
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, v23))?.reason, .noMapping)
    }

    func testMissingRequiredAndMissingCodeNameTheRuleNotTheValue() throws {
        let mapping = try Fixtures.compile(Self.yaml)
        let noID = Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||")))
        XCTAssertEqual(noID?.reason, .missingRequired)
        XCTAssertEqual(noID?.rule, "patient.patientId")
        XCTAssertEqual(noID?.mapping, "adt-test")
        XCTAssertEqual(noID?.version, 3)
        let badSex = Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||SECRETID||Zhang^San||19900101|X")))
        XCTAssertEqual(badSex?.reason, .missingCode)
        XCTAssertEqual(badSex?.rule, "patient.gender")
        XCTAssertFalse(badSex!.message.contains("SECRETID") || badSex!.message.contains("Zhang"))
        XCTAssertTrue(badSex!.message.contains("sex"))
        let badDate = Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||ID1||||19901345|M")))
        XCTAssertEqual(badDate?.reason, .type)
        XCTAssertEqual(badDate?.rule, "patient.birthDate")
    }

    func testUnparseableInput() throws {
        let mapping = try Fixtures.compile(Self.yaml)
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Array("hello".utf8)))?.reason, .unparseableInput)
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Array("MSH".utf8)))?.reason, .unparseableInput)
    }

    func testThroughputSmoke() throws {
        let mapping = try Fixtures.compile(Self.yaml)
        let catalog = MappingCatalog([mapping])
        let input = MappingInput(payload: try Fixtures.sample("adt_a01.hl7"), headers: Fixtures.headers)
        let first = catalog.apply(input)
        guard case .success(.records(let records)) = first else { return XCTFail("\(first)") }
        for _ in 0..<1_000 {
            guard case .success(.records(let again)) = catalog.apply(input) else { return XCTFail("changed outcome") }
            XCTAssertEqual(again, records)
        }
    }
}
