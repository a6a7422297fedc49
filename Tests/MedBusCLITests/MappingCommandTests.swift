import Foundation
import MedBusKafka
import XCTest

/// `medbus mapping …` as an operator runs it: on a copy of the shipped Mappings folder, so the
/// tests can break and change files.
final class MappingCommandTests: XCTestCase {
    /// A copy of Mappings/ and Adapters/samples/ in a temporary directory (tests refer to the
    /// samples by relative path, so both keep their places).
    private func workingCopy() throws -> String {
        let root = temporaryDirectory()
        try FileManager.default.copyItem(atPath: packageRoot.appendingPathComponent("Mappings").path, toPath: root + "/Mappings")
        try FileManager.default.createDirectory(atPath: root + "/Adapters", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: packageRoot.appendingPathComponent("Adapters/samples").path, toPath: root + "/Adapters/samples")
        return root
    }

    private func edit(_ path: String, replacing old: String, with new: String) throws {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(text.contains(old), "\(path) contains \(old)")
        try text.replacingOccurrences(of: old, with: new).write(toFile: path, atomically: true, encoding: .utf8)
    }

    /// Line (1-based) of the first line of `path` containing `text`.
    private func line(of text: String, in path: String) throws -> Int {
        let lines = try String(contentsOfFile: path, encoding: .utf8).components(separatedBy: "\n")
        return try XCTUnwrap(lines.firstIndex { $0.contains(text) }) + 1
    }

    func testShippedMappingsValidateAndPassTheirGoldenTests() throws {
        let validate = try medbus(["mapping", "validate"] + ["his/adt-patient-encounter.yaml", "his/oru-result.yaml", "hl7v3/prpa-patient.yaml"].map { "Mappings/" + $0 })
        XCTAssertEqual(validate.status, 0, validate.stderr)
        let test = try medbus(["mapping", "test", "--all"])
        XCTAssertEqual(test.status, 0, test.stdout + test.stderr)
        XCTAssertTrue(test.stdout.contains("8 of 8 test files passed") || test.stdout.range(of: #"(\d+) of \1 test files passed"#, options: .regularExpression) != nil, test.stdout)
    }

    func testBrokenMappingFailsWithFileLineColumn() throws {
        let root = try workingCopy()
        let file = root + "/Mappings/his/oru-result.yaml"
        try edit(file, replacing: "  format: hl7v2", with: "  format: hl7v2\n  colour: blue")
        let unknownKeyLine = try line(of: "colour: blue", in: file)
        let result = try medbus(["mapping", "validate", file])
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.stderr.contains("\(file):\(unknownKeyLine):3:"), "names file:line:column of the unknown key: \(result.stderr)")
        XCTAssertTrue(result.stderr.contains("colour"), result.stderr)

        // A code table the mapping does not declare.
        let fixed = try String(contentsOfFile: file, encoding: .utf8).replacingOccurrences(of: "\n  colour: blue", with: "")
        try fixed.replacingOccurrences(of: "code: resultStatus", with: "code: noSuchTable").write(toFile: file, atomically: true, encoding: .utf8)
        let unknownTable = try medbus(["mapping", "validate", file])
        XCTAssertEqual(unknownTable.status, 1)
        XCTAssertTrue(unknownTable.stderr.contains("\(file):\(try line(of: "noSuchTable", in: file)):"), unknownTable.stderr)
        XCTAssertTrue(unknownTable.stderr.contains("noSuchTable"), unknownTable.stderr)
    }

    func testWrongExpectationPrintsReadableDiffAndFails() throws {
        let root = try workingCopy()
        let testFile = root + "/Mappings/his/tests/oru-result.yaml"
        try edit(testFile, replacing: "referenceRange: 3.5-9.5", with: "referenceRange: 4.0-10.0")
        let result = try medbus(["mapping", "test", testFile])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertTrue(result.stdout.contains("FAIL"), result.stdout)
        let diffLines = result.stdout.components(separatedBy: "\n")
        XCTAssertTrue(diffLines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("-") && $0.contains("4.0-10.0") }, "expected side shown: \(result.stdout)")
        XCTAssertTrue(diffLines.contains { $0.trimmingCharacters(in: .whitespaces).hasPrefix("+") && $0.contains("3.5-9.5") }, "actual side shown: \(result.stdout)")
        XCTAssertTrue(result.stdout.contains("0 of 1 test files passed"), result.stdout)
    }

    func testSampleRunPrintsOutputAndChecksAnExpectation() throws {
        let root = try workingCopy()
        let run = try medbus(["mapping", "test", "Mappings/his/oru-result.yaml", "--sample", "Adapters/samples/oru_r01.hl7",
                              "--header", "medbus-received-at=2025-01-15T06:30:00.250Z", "--header", "medbus-source=his.H37010200001"])
        XCTAssertEqual(run.status, 0, run.stdout + run.stderr)
        XCTAssertTrue(run.stdout.contains("F2025011500877"), run.stdout)
        try #"{"resultId": "WRONG"}"#.write(toFile: root + "/expect.json", atomically: true, encoding: .utf8)
        let mismatch = try medbus(["mapping", "test", "Mappings/his/oru-result.yaml", "--sample", "Adapters/samples/oru_r01.hl7",
                                   "--header", "medbus-received-at=2025-01-15T06:30:00.250Z", "--header", "medbus-source=his.H37010200001",
                                   "--expect", root + "/expect.json"])
        XCTAssertNotEqual(mismatch.status, 0)
        XCTAssertTrue(mismatch.stdout.contains("WRONG"), mismatch.stdout)
    }

    /// publish → list → publish v2 → diff → history → show → rollback, against an embedded cluster.
    func testPublishDiffHistoryShowRollback() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        try cluster.createTopic("medbus.mappings", partitions: 1)
        let root = try workingCopy()
        let data = root + "/data"
        let file = root + "/Mappings/his/oru-result.yaml"
        func cli(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
            try medbus(arguments + ["--data-dir", data] + (["publish", "rollback"].contains(arguments[1]) ? ["--brokers", cluster.bootstrapServers] : []))
        }

        let first = try cli(["mapping", "publish", file, "--note", "first", "--author", "ops-zhang"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("published oru-result@1"), first.stdout)
        let unchanged = try cli(["mapping", "publish", file, "--note", "again"])
        XCTAssertNotEqual(unchanged.status, 0, "same content is refused")

        let csv = root + "/Mappings/codes/result-status.csv"
        try String(contentsOfFile: csv, encoding: .utf8).appending("Z,final,test code\n").write(toFile: csv, atomically: true, encoding: .utf8)
        let second = try cli(["mapping", "publish", file, "--note", "code Z", "--author", "ops-li"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("oru-result@2"), second.stdout)

        let diff = try cli(["mapping", "diff", "oru-result", "1", "2"])
        XCTAssertEqual(diff.status, 0, diff.stderr)
        XCTAssertTrue(diff.stdout.contains("+Z,final,test code"), "a code table change shows in the diff: \(diff.stdout)")
        let againstFile = try cli(["mapping", "diff", "oru-result", file])
        XCTAssertTrue(againstFile.stdout.contains("no differences"), againstFile.stdout)

        let rollback = try cli(["mapping", "rollback", "oru-result", "--to", "1", "--note", "bad code", "--author", "ops-wang"])
        XCTAssertEqual(rollback.status, 0, rollback.stderr)
        let list = try cli(["mapping", "list"])
        XCTAssertTrue(list.stdout.contains("oru-result\t1\t"), list.stdout)
        let history = try cli(["mapping", "history", "oru-result"])
        let rows = history.stdout.split(separator: "\n").dropFirst().map { $0.split(separator: "\t").map(String.init) }
        XCTAssertEqual(rows.map { [$0[1], $0[2], $0[3]] }, [["publish", "1", "ops-zhang"], ["publish", "2", "ops-li"], ["rollback", "1", "ops-wang"]])
        let show = try cli(["mapping", "show", "oru-result", "--version", "2"])
        XCTAssertTrue(show.stdout.contains("oru-result@2") && show.stdout.contains("name: oru-result"), show.stdout)
        let missing = try cli(["mapping", "show", "oru-result", "--version", "9"])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("no version 9"), missing.stderr)
    }
}
