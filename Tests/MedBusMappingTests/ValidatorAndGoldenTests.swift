import XCTest

@testable import MedBusMapping

final class ValidatorAndGoldenTests: XCTestCase {
    func position(_ diagnostics: [MappingDiagnostic], containing text: String) -> String? {
        diagnostics.first { $0.message.contains(text) }.map { "\($0.line):\($0.column)" }
    }

    let base = """
        name: v
        source: { format: hl7v2 }
        codeTables:
          sex: { file: ../codes/sex.csv }
        targets:
          - name: t
            topic: t
            body:

        """

    func testDiagnosticsCarryLineAndColumn() throws {
        let unknownKey = try Fixtures.diagnostics(base + "      a: { path: PID-3, colour: red }\n")
        XCTAssertEqual(position(unknownKey, containing: "unknown key 'colour'"), "9:25")
        let badPath = try Fixtures.diagnostics(base + "      a: { path: PID-x }\n")
        XCTAssertEqual(position(badPath, containing: "terser path"), "9:18")
        let unknownTable = try Fixtures.diagnostics(base + "      a: { path: PID-8, code: gender }\n")
        XCTAssertEqual(position(unknownTable, containing: "unknown code table 'gender'"), "9:31")
        let badMoney = try Fixtures.diagnostics(base + "      a: { const: abc, type: money }\n")
        XCTAssertEqual(position(badMoney, containing: "money"), "9:19")
        let twoSources = try Fixtures.diagnostics(base + "      a: { path: PID-3, const: x }\n")
        XCTAssertEqual(position(twoSources, containing: "exactly one source key"), "9:25")
        let noSource = try Fixtures.diagnostics(base + "      a: { type: money }\n")
        XCTAssertNotNil(position(noSource, containing: "needs a source key"))
        let missingFile = try Fixtures.diagnostics(base.replacingOccurrences(of: "sex.csv", with: "nope.csv") + "      a: { path: PID-8 }\n")
        XCTAssertEqual(position(missingFile, containing: "nope.csv"), "4:16")
        let duplicate = try Fixtures.diagnostics(base + "      a: { path: PID-8, code: sex }\n", extra: ["codes/sex.csv": "code,target,display\nM,male,\nF,female,\nM,man,\n"])
        let dup = try XCTUnwrap(duplicate.first { $0.message.contains("duplicate code") })
        XCTAssertEqual(dup.line, 4)
        XCTAssertTrue(dup.file.hasSuffix("codes/sex.csv"), dup.file)
        let syntax = try Fixtures.diagnostics("name: [\n")
        XCTAssertTrue(syntax.first?.message.contains("YAML") ?? false)
        XCTAssertEqual(try Fixtures.diagnostics(base + "      a: { path: PID-8, code: sex }\n"), [])
    }

    func testSchemaClosedFieldIsACompileError() throws {
        let schema = #"{"type":"object","properties":{"id":{"type":"string"}},"additionalProperties":false}"#
        let diagnostics = try Fixtures.diagnostics(
            """
            name: s
            source: { format: hl7v2 }
            targets:
              - name: t
                topic: t
                schema: ../schemas/x.schema.json
                body:
                  id: { path: PID-3 }
                  nickname: { path: PID-5 }
            """, extra: ["schemas/x.schema.json": schema])
        XCTAssertEqual(position(diagnostics, containing: "nickname"), "9:7")
    }

    func testGoldenRunnerPassAndFailWithDiff() throws {
        let mapping = """
            name: g
            source: { format: hl7v2 }
            codeTables:
              sex: { file: ../codes/sex.csv }
            filter: { exists: PID-3 }
            targets:
              - name: patient
                topic: canonical.patient
                key: { path: "PID-3[1].1" }
                body:
                  patientId: { path: "PID-3[1].1" }
                  gender: { path: PID-8, code: sex }
            """
        func test(_ expectedGender: String) -> String {
            """
            mapping: ../g.yaml
            cases:
              - name: admit
                input: { file: ../../samples/adt.hl7 }
                headers: { medbus-source: his.H1 }
                expect:
                  - target: patient
                    topic: canonical.patient
                    key: ZY2025000123
                    body: { patientId: ZY2025000123, gender: \(expectedGender) }
              - name: unknown sex
                input: { text: "MSH|^~\\\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\\rPID|1||X|||||Q" }
                expectError: { reason: missing-code, rule: patient.gender }
              - name: no id
                input: { text: "MSH|^~\\\\&|A|B|C|D|20250101||ADT^A01|1|P|2.5\\rPID|1" }
                expectFiltered: true
            """
        }
        let dir = try Fixtures.directory([
            "area/g.yaml": mapping, "codes/sex.csv": Fixtures.sexCSV, "area/tests/pass.yaml": test("male"),
            "area/tests/fail.yaml": test("female"),
            "samples/adt.hl7": String(decoding: try Fixtures.sample("adt_a01.hl7"), as: UTF8.self),
        ])
        let found = GoldenTests.discover(root: dir)
        XCTAssertEqual(found.map(\.lastPathComponent), ["fail.yaml", "pass.yaml"])
        let pass = GoldenTests.run(testFile: dir.appendingPathComponent("area/tests/pass.yaml"))
        XCTAssertTrue(pass.passed, pass.rendered)
        XCTAssertEqual(pass.cases.count, 3)
        let fail = GoldenTests.run(testFile: dir.appendingPathComponent("area/tests/fail.yaml"))
        XCTAssertFalse(fail.passed)
        XCTAssertEqual(fail.cases.map(\.passed), [false, true, true])
        XCTAssertTrue(fail.rendered.contains("-      \"gender\": \"female\","), fail.rendered)
        XCTAssertTrue(fail.rendered.contains("+      \"gender\": \"male\","), fail.rendered)
        let sample = GoldenTests.runSample(
            mappingFile: dir.appendingPathComponent("area/g.yaml"), sample: dir.appendingPathComponent("samples/adt.hl7"), headers: [:], expect: nil)
        XCTAssertTrue(sample.passed, sample.rendered)
        XCTAssertTrue(MappingValidator.validate(files: [dir.appendingPathComponent("area/tests/pass.yaml"), dir.appendingPathComponent("area/g.yaml")]).isEmpty)
    }

    /// The shipped mapping files: reports which golden tests pass (not an assertion on the other team's work).
    func testShippedGoldenTests() throws {
        let root = Fixtures.repositoryRoot.appendingPathComponent("Mappings")
        for file in GoldenTests.discover(root: root) {
            let report = GoldenTests.run(testFile: file)
            print("GOLDEN \(report.passed ? "PASS" : "FAIL") \(report.rendered)")
        }
    }
}
