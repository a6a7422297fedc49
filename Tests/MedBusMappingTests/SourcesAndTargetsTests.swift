import MedBusHL7
import XCTest

@testable import MedBusMapping

/// JSON and HL7 v3 sources, target each/when, filter, and HL7 v2 targets.
final class SourcesAndTargetsTests: XCTestCase {
    func testJSONBundleTargetEachWhenAndFilter() throws {
        let mapping = try Fixtures.compile(
            """
            name: fhir-test
            source: { format: json, messageTypes: ["fhir.Bundle.*"] }
            filter: { path: $.type, in: [transaction, batch] }
            targets:
              - name: patient
                topic: canonical.patient
                each: $.entry[*]
                when: { path: "@.resource.resourceType", equals: Patient }
                key: { path: "@.resource.id" }
                body:
                  id: { path: "@.resource.id" }
                  active: { path: "@.resource.active" }
                  weight: { path: "@.resource.weight", type: decimal }
                  names:
                    each: "@.resource.name[*]"
                    item: { path: "@.family" }
                  bundle: { path: "$['id']" }
            """)
        let bundle = #"{"id":"b1","type":"transaction","entry":[{"resource":{"resourceType":"Patient","id":"p1","active":true,"weight":70.50,"name":[{"family":"Li"},{"family":"Wang"}]}},{"resource":{"resourceType":"Encounter","id":"e1"}},{"resource":{"resourceType":"Patient","id":"p2"}}]}"#
        let records = Fixtures.records(Fixtures.apply(mapping, Array(bundle.utf8)))
        XCTAssertEqual(records.map(\.key), ["p1", "p2"])
        XCTAssertEqual(Fixtures.text(records.first), #"{"id":"p1","active":true,"weight":70.5,"names":["Li","Wang"],"bundle":"b1"}"#)
        XCTAssertEqual(Fixtures.text(records.last), #"{"id":"p2","bundle":"b1"}"#)
        let history = bundle.replacingOccurrences(of: "\"transaction\"", with: "\"history\"")
        XCTAssertEqual(try Fixtures.apply(mapping, Array(history.utf8)).get(), .filtered)
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Array("{\"id\":".utf8)))?.reason, .unparseableInput)
        var headers = Fixtures.headers
        headers["medbus-message-type"] = "fhir.Patient"
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Array(bundle.utf8), headers: headers))?.reason, .noMapping)
    }

    func testConditions() throws {
        let mapping = try Fixtures.compile(
            """
            name: cond-test
            source: { format: hl7v2 }
            targets:
              - name: t
                topic: t
                body:
                  exists: { const: a, when: { exists: PV1-19 } }
                  notExists: { const: b, when: { exists: PV1-99 } }
                  inSet: { const: c, when: { path: PV1-2, in: [I, E] } }
                  matches: { const: d, when: { path: PV1-2, matches: "^(I|O)$" } }
                  partial: { const: e, when: { path: PV1-2, matches: "^X" } }
                  all: { const: f, when: { all: [{ exists: PV1-2 }, { not: { exists: PV1-99 } }] } }
                  any: { const: g, when: { any: [{ exists: PV1-99 }, { path: PV1-2, equals: O }] } }
            """)
        let records = Fixtures.records(Fixtures.apply(mapping, try Fixtures.sample("adt_a01.hl7")))
        XCTAssertEqual(Fixtures.text(records.first), #"{"exists":"a","inSet":"c","matches":"d","all":"f"}"#)
    }

    func testEachOverSegmentsWithRepeatingFieldInside() throws {
        let mapping = try Fixtures.compile(
            """
            name: obx-test
            source: { format: hl7v2 }
            targets:
              - name: result
                topic: canonical.result
                each: OBX
                when: { path: OBX-2, equals: NM }
                key: { path: OBX-3.1 }
                body:
                  code: { path: OBX-3.1 }
                  value: { path: OBX-5, type: decimal }
                  flags: { each: OBX-8, item: { path: OBX-8 } }
                  patient: { path: "PID-3[1].1" }
            """)
        let message = Fixtures.hl7(
            Fixtures.msh, "PID|1||P1", "OBX|1|NM|GLU||5.60||||", "OBX|2|ST|NOTE||text|||", "OBX|3|NM|HB||135|||H~A|")
        let records = Fixtures.records(Fixtures.apply(mapping, message))
        XCTAssertEqual(records.map(\.key), ["GLU", "HB"])
        XCTAssertEqual(Fixtures.text(records.last), #"{"code":"HB","value":135,"flags":["H","A"],"patient":"P1"}"#)
        XCTAssertEqual(Fixtures.text(records.first), #"{"code":"GLU","value":5.6,"patient":"P1"}"#)
    }

    func testHL7v3Source() throws {
        let mapping = try Fixtures.compile(
            """
            name: v3-test
            source: { format: hl7v3, messageTypes: [PRPA_IN201311UV02] }
            codeTables:
              gender: { file: ../codes/gender.csv, onMissing: passThrough }
            targets:
              - name: patient
                topic: canonical.patient
                key: { path: "//patient/id/item/@extension" }
                body:
                  id: { path: "//patient/id/item/@extension" }
                  idCard: { path: "//patientPerson/id/item[@root='2.16.156.10011.1.3']/@extension" }
                  gender: { path: "//patientPerson/administrativeGenderCode/@code", code: gender }
                  birthDate: { path: "//patientPerson/birthTime/@value", type: date }
                  devices:
                    each: "//device"
                    item: { path: "id/item/@extension" }
            """, extra: ["codes/gender.csv": "code,target,display\n1,male,\n2,female,\n"])
        let records = Fixtures.records(Fixtures.apply(mapping, try Fixtures.sample("prpa_in201311uv02.xml")))
        XCTAssertEqual(
            Fixtures.text(records.first),
            #"{"id":"MZ000123","idCard":"37010219000101000X","gender":"male","birthDate":"1900-01-01","devices":["EMPI","HIS01"]}"#)
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Array("<a><b></a>".utf8)))?.reason, .unparseableInput)
    }

    func testCodePolicies() throws {
        func gender(_ policy: String, _ code: String) throws -> Result<MappingOutcome, MappingFailure> {
            let mapping = try Fixtures.compile(
                """
                name: code-test
                source: { format: hl7v2 }
                codeTables:
                  sex: { file: ../codes/sex.csv, onMissing: \(policy) }
                targets:
                  - { name: t, topic: t, body: { g: { path: PID-8, code: sex } } }
                """)
            return Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||ID|||||\(code)"))
        }
        XCTAssertEqual(Fixtures.text(Fixtures.records(try gender("error", "U")).first), #"{"g":"unknown"}"#)
        XCTAssertEqual(Fixtures.failure(try gender("error", "Q"))?.reason, .missingCode)
        XCTAssertEqual(Fixtures.text(Fixtures.records(try gender("passThrough", "Q")).first), #"{"g":"Q"}"#)
        XCTAssertEqual(Fixtures.text(Fixtures.records(try gender("default, default: other", "Q")).first), #"{"g":"other"}"#)
    }

    func testSchemaFailureAtApplyNamesPointerNotValue() throws {
        let schema = #"{"type":"object","properties":{"amount":{"type":"number","maximum":100},"id":{"type":"string"}},"additionalProperties":false}"#
        let mapping = try Fixtures.compile(
            """
            name: schema-test
            source: { format: hl7v2 }
            targets:
              - { name: charge, topic: t, schema: ../schemas/c.schema.json, body: { id: { path: PID-3 }, amount: { path: PID-4, type: money } } }
            """, extra: ["schemas/c.schema.json": schema])
        XCTAssertEqual(Fixtures.text(Fixtures.records(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||X|99.5"))).first), #"{"id":"X","amount":99.50}"#)
        let failure = Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||X|356.5")))
        XCTAssertEqual(failure?.reason, .schema)
        XCTAssertEqual(failure?.rule, "charge:/amount")
        XCTAssertFalse(failure!.message.contains("356"))
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||X|1.005")))?.reason, .type)
        XCTAssertEqual(Fixtures.failure(Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, "PID|1||X|abc")))?.reason, .type)
    }

    func testHL7v2TargetRoundTrip() throws {
        let mapping = try Fixtures.compile(
            """
            name: preadmit
            source: { format: json }
            targets:
              - name: ed-preadmit
                format: hl7v2
                topic: outbound.his.H1
                key: { path: $.taskId }
                message:
                  type: ADT^A05^ADT_A05
                  version: "2.5"
                  sendingApplication: MEDBUS
                  sendingFacility: { path: $.dispatchCentre }
                  receivingApplication: HIS
                  receivingFacility: { path: $.hospital }
                body:
                  "PID-3[1].1": { path: $.patient.tempId }
                  "PID-5.1": { path: $.patient.name }
                  "PID-7": { path: $.patient.birthDate, type: date }
                  "PV1-2": { const: P }
                  "PV2-8": { path: $.eta, type: datetime }
                  OBX:
                    each: $.vitals[*]
                    segment:
                      "OBX-1": { index: true }
                      "OBX-3.1": { path: "@.code" }
                      "OBX-5": { path: "@.value" }
                      "OBX-14": { path: "@.time", type: datetime }
            """)
        let input = #"{"taskId":"T1","dispatchCentre":"JN120","hospital":"H1","patient":{"tempId":"TMP9","name":"张|三","birthDate":"1990-01-01"},"eta":"2025-01-15T02:55:00Z","vitals":[{"code":"HR","value":"88","time":"20250115104000"},{"code":"SPO2","value":"97"}]}"#
        let records = Fixtures.records(Fixtures.apply(mapping, Array(input.utf8)))
        let record = try XCTUnwrap(records.first)
        XCTAssertEqual(record.contentType, "x-application/hl7-v2+er7")
        XCTAssertEqual(record.key, "T1")
        let again = Fixtures.records(Fixtures.apply(mapping, Array(input.utf8)))
        XCTAssertEqual(again.first?.value, record.value, "byte-identical for the same input")
        XCTAssertFalse(record.value.contains(0x0A))
        let message = try HL7Message(parsing: record.value)
        XCTAssertEqual(message[try HL7Path("MSH-9.1")], "ADT")
        XCTAssertEqual(message[try HL7Path("MSH-9.3")], "ADT_A05")
        XCTAssertEqual(message[try HL7Path("MSH-4")], "JN120")
        XCTAssertEqual(message[try HL7Path("MSH-7")], "20250115103000+0800")
        XCTAssertEqual(message[try HL7Path("MSH-12")], "2.5")
        XCTAssertEqual(message[try HL7Path("MSH-18")], "UNICODE UTF-8")
        let control = try XCTUnwrap(message[try HL7Path("MSH-10")])
        XCTAssertLessThanOrEqual(control.count, 20)
        XCTAssertEqual(message[try HL7Path("PID-5.1")], "张|三")
        XCTAssertEqual(message[try HL7Path("OBX[2]-3.1")], "SPO2")
        // Dates and times in HL7 form, not ISO; each OBX numbered by `index`.
        XCTAssertEqual(message[try HL7Path("PID-7")], "19900101")
        XCTAssertEqual(message[try HL7Path("PV2-8")], "20250115025500+0000")
        XCTAssertEqual(message[try HL7Path("OBX[1]-14")], "20250115104000+0800")
        XCTAssertEqual(message[try HL7Path("OBX[1]-1")], "1")
        XCTAssertEqual(message[try HL7Path("OBX[2]-1")], "2")
        XCTAssertEqual(message[try HL7Path("OBX[2]-5")], "97")
        var headers = Fixtures.headers
        headers["medbus-message-id"] = "other"
        let other = Fixtures.records(Fixtures.apply(mapping, Array(input.utf8), headers: headers))
        XCTAssertNotEqual(try HL7Message(parsing: other[0].value)[try HL7Path("MSH-10")], control)
    }

    /// `index: true`: the 1-based position in the innermost `each`, from an hl7v2 and a json source;
    /// outside `each` it is a compile error.
    func testIndexIsThePositionInTheInnermostEach() throws {
        let hl7 = try Fixtures.compile(
            """
            name: index-hl7
            source: { format: hl7v2 }
            targets:
              - name: result
                topic: t
                body:
                  observations:
                    each: OBX
                    item:
                      object:
                        setId: { index: true }
                        code: { path: OBX-3.1 }
                        ids: { each: OBX-5, item: { index: true } }
              - name: per-segment
                topic: t
                each: OBX
                key: { index: true, type: string }
                body: { n: { index: true } }
            """)
        let message = Fixtures.hl7(Fixtures.msh, "OBX|9|ST|A||x~y", "OBX|8|ST|B||z")
        let records = Fixtures.records(Fixtures.apply(hl7, message))
        XCTAssertEqual(
            records.map(Fixtures.text),
            [#"{"observations":[{"setId":1,"code":"A","ids":[1,2]},{"setId":2,"code":"B","ids":[1]}]}"#, #"{"n":1}"#, #"{"n":2}"#])
        XCTAssertEqual(records.map(\.key), [nil, "1", "2"])

        let json = try Fixtures.compile(
            """
            name: index-json
            source: { format: json }
            targets:
              - { name: v, topic: t, body: { vitals: { each: "$.vitals[*]", item: { object: { n: { index: true }, code: { path: "@.code" } } } } } }
            """)
        XCTAssertEqual(
            Fixtures.text(Fixtures.records(Fixtures.apply(json, Array(#"{"vitals":[{"code":"HR"},{"code":"BP"}]}"#.utf8))).first),
            #"{"vitals":[{"n":1,"code":"HR"},{"n":2,"code":"BP"}]}"#)

        let outside = try Fixtures.diagnostics(
            """
            name: index-outside
            source: { format: hl7v2 }
            targets:
              - { name: v, topic: t, body: { n: { index: true } } }
            """)
        XCTAssertTrue(outside.contains { $0.message.contains("inside each") }, "\(outside)")
        let notTrue = try Fixtures.diagnostics(
            """
            name: index-false
            source: { format: hl7v2 }
            targets:
              - { name: v, topic: t, body: { all: { each: OBX, item: { index: false } } } }
            """)
        XCTAssertTrue(notTrue.contains { $0.message.contains("index must be true") }, "\(notTrue)")
    }

    /// The plan an hl7v2 → json target compiles to gives what the reference evaluator gives, schema
    /// failures included (the reference names them).
    func testPlanAgreesWithReferenceOnSchemaDecisions() throws {
        let schema = #"""
            {"type":"object","required":["id"],"additionalProperties":false,"properties":{
              "id":{"type":"string","minLength":1},
              "kind":{"type":"string","enum":["male","female"]},
              "when":{"type":"string","format":"date"},
              "zip":{"type":"string","pattern":"^[0-9]{6}$"},
              "items":{"type":"array","minItems":2,"items":{"type":"string","maxLength":3}}}}
            """#
        let mapping = try Fixtures.compile(
            """
            name: plan-test
            source: { format: hl7v2 }
            codeTables:
              sex: { file: ../codes/sex.csv, onMissing: passThrough }
            targets:
              - name: p
                topic: t
                schema: ../schemas/p.schema.json
                body:
                  id: { path: PID-3 }
                  kind: { path: PID-8, code: sex }
                  when: { path: PID-7 }
                  zip: { path: PID-11.5 }
                  items: { each: PID-13, item: { path: PID-13.1 } }
            """, extra: ["schemas/p.schema.json": schema])
        XCTAssertNotNil(mapping.plans[0], "compiled to a plan")
        func apply(_ pid: String) -> Result<MappingOutcome, MappingFailure> { Fixtures.apply(mapping, Fixtures.hl7(Fixtures.msh, pid)) }
        XCTAssertEqual(
            Fixtures.text(Fixtures.records(apply("PID|1||X||||1990-01-01|F|||^^^^250001||a~bc")).first),
            #"{"id":"X","kind":"female","when":"1990-01-01","zip":"250001","items":["a","bc"]}"#)
        XCTAssertEqual(Fixtures.failure(apply("PID|1||X|||||Q"))?.rule, "p:/kind")
        XCTAssertEqual(Fixtures.failure(apply("PID|1||X||||19900101"))?.rule, "p:/when")
        XCTAssertEqual(Fixtures.failure(apply("PID|1||X||||||||^^^^2500"))?.rule, "p:/zip")
        XCTAssertEqual(Fixtures.failure(apply("PID|1||X||||||||||a"))?.rule, "p:/items")
        XCTAssertEqual(Fixtures.failure(apply("PID|1||X||||||||||a~long"))?.rule, "p:/items/1")
        XCTAssertEqual(Fixtures.failure(apply("PID|1||||||||Q"))?.rule, "p:/id", "required before a member's violation")
    }

    /// Every json target of the shipped hl7v2 mappings runs as a plan, not on the reference path.
    func testShippedHL7MappingsCompileToPlans() throws {
        for file in ["his/adt-patient-encounter.yaml", "his/oru-result.yaml", "his/rde-prescription.yaml", "his/dft-charge-settlement.yaml"] {
            let url = Fixtures.repositoryRoot.appendingPathComponent("Mappings/\(file)")
            let mapping = try Mapping.compile(try MappingBundle.load(mappingFile: url))
            XCTAssertEqual(mapping.plans.filter { $0 != nil }.count, mapping.targets.count, file)
        }
    }
}
