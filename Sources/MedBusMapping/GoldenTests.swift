import Foundation
import MedBusCore
import Yams

/// The outcome of one golden test file (or one `--sample` run).
public struct GoldenReport: Sendable {
    public struct CaseResult: Sendable {
        public var name: String
        public var passed: Bool
        /// Why it failed (with a diff), empty when it passed.
        public var detail: String
    }

    public var file: String
    public var cases: [CaseResult]
    public var passed: Bool
    /// For people: one line per case, and for each failure its diff.
    public var rendered: String

    init(file: String, cases: [CaseResult]) {
        self.file = file
        self.cases = cases
        passed = !cases.isEmpty && cases.allSatisfy(\.passed)
        var lines = ["\(file): \(cases.filter(\.passed).count)/\(cases.count) passed"]
        for result in cases {
            lines.append("  \(result.passed ? "ok  " : "FAIL") \(result.name)")
            if !result.passed {
                lines.append(contentsOf: result.detail.split(separator: "\n", omittingEmptySubsequences: false).map { "      " + $0 })
            }
        }
        rendered = lines.joined(separator: "\n")
    }
}

/// Golden tests: `Mappings/<area>/tests/*.yaml`, each naming a mapping and cases of input → expected
/// records, error or filtering.
public enum GoldenTests {
    public static func discover(root: URL) -> [URL] {
        guard let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil) else { return [] }
        var found: [URL] = []
        for case let url as URL in walker {
            let ext = url.pathExtension.lowercased()
            if (ext == "yaml" || ext == "yml") && url.deletingLastPathComponent().lastPathComponent == "tests" {
                found.append(url.standardizedFileURL)
            }
        }
        return found.sorted { $0.path < $1.path }
    }

    public static func run(testFile: URL) -> GoldenReport {
        let display = testFile.path
        let root: Node
        do {
            let text = try String(contentsOf: testFile, encoding: .utf8)
            guard let node = try Yams.compose(yaml: text) else { return failed(display, "load", "empty test file") }
            root = node
        } catch {
            return failed(display, "load", "cannot read the test file: \(YAMLSupport.diagnostic(for: error, file: display))")
        }
        let directory = testFile.deletingLastPathComponent()
        guard let mappingReference = root.mapping?["mapping"]?.scalar?.string else { return failed(display, "load", "the test names no mapping") }
        let mappingURL = URL(fileURLWithPath: mappingReference, relativeTo: directory).standardizedFileURL
        let catalog: MappingCatalog
        do {
            let bundle = try MappingBundle.load(mappingFile: mappingURL)
            catalog = MappingCatalog([try Mapping.compile(bundle)])
        } catch {
            return failed(display, "compile", error.description)
        }
        var results: [GoldenReport.CaseResult] = []
        for (index, node) in (root.mapping?["cases"]?.sequence.map(Array.init) ?? []).enumerated() {
            let name = node.mapping?["name"]?.scalar?.string ?? "case \(index + 1)"
            results.append(runCase(node, name: name, catalog: catalog, directory: directory))
        }
        if results.isEmpty { return failed(display, "load", "the test has no cases") }
        return GoldenReport(file: display, cases: results)
    }

    public static func runSample(mappingFile: URL, sample: URL, headers: [String: String], expect: URL?) -> GoldenReport {
        let display = mappingFile.path
        let catalog: MappingCatalog
        do {
            catalog = MappingCatalog([try Mapping.compile(try MappingBundle.load(mappingFile: mappingFile))])
        } catch {
            return failed(display, "compile", error.description)
        }
        guard let data = FileManager.default.contents(atPath: sample.path) else { return failed(display, sample.lastPathComponent, "cannot read the sample") }
        let result = catalog.apply(MappingInput(payload: Array(data), headers: headers))
        var expected: JSONValue?
        if let expect {
            guard let text = try? String(contentsOf: expect, encoding: .utf8), let value = try? JSONParser.parse(text) else {
                return failed(display, sample.lastPathComponent, "cannot read the expected JSON")
            }
            if case .array = value { expected = value } else { expected = .array([.object([("body", value)])]) }
        }
        let outcome: GoldenReport.CaseResult
        switch result {
        case .failure(let failure):
            outcome = .init(name: sample.lastPathComponent, passed: false, detail: "mapping failed: \(failure)")
        case .success(.filtered):
            outcome = .init(name: sample.lastPathComponent, passed: expected == nil, detail: "the mapping filtered the sample out")
        case .success(.records(let records)):
            if let expected {
                outcome = compare(expected: expected, records: records, name: sample.lastPathComponent)
            } else {
                let rendered = JSONWriter.pretty(.array(records.map { actualJSON($0, keys: nil) }))
                outcome = .init(name: sample.lastPathComponent, passed: true, detail: rendered)
            }
        }
        var report = GoldenReport(file: display, cases: [outcome])
        if outcome.passed && expected == nil { report.rendered += "\n" + outcome.detail }
        return report
    }

    /// Validation of a golden test file's shape, for `MappingValidator`.
    static func check(testFile: URL) -> [MappingDiagnostic] {
        let display = testFile.path
        guard let text = try? String(contentsOf: testFile, encoding: .utf8) else {
            return [MappingDiagnostic(file: display, line: 0, column: 0, message: "cannot read file")]
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch { return [YAMLSupport.diagnostic(for: error, file: display)] }
        guard let mapping = root?.mapping else { return [MappingDiagnostic(file: display, line: 1, column: 1, message: "a golden test must be a mapping")] }
        var diagnostics: [MappingDiagnostic] = []
        func report(_ node: Node?, _ message: String) {
            diagnostics.append(MappingDiagnostic(file: display, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message))
        }
        for (key, _) in mapping where !["mapping", "cases", "description"].contains(key.scalar?.string ?? "") {
            report(key, "unknown key '\(key.scalar?.string ?? "")' in a golden test")
        }
        if let reference = mapping["mapping"]?.scalar?.string {
            let url = URL(fileURLWithPath: reference, relativeTo: testFile.deletingLastPathComponent()).standardizedFileURL
            if !FileManager.default.fileExists(atPath: url.path) { report(mapping["mapping"], "mapping file '\(reference)' is missing") }
        } else {
            report(root, "missing key 'mapping'")
        }
        let caseKeys: Set<String> = ["name", "description", "input", "headers", "expect", "expectError", "expectFiltered"]
        for node in mapping["cases"]?.sequence.map(Array.init) ?? [] {
            for (key, _) in node.mapping ?? [:] where !caseKeys.contains(key.scalar?.string ?? "") {
                report(key, "unknown key '\(key.scalar?.string ?? "")' in a test case")
            }
        }
        return diagnostics
    }

    // MARK: cases

    private static func runCase(_ node: Node, name: String, catalog: MappingCatalog, directory: URL) -> GoldenReport.CaseResult {
        guard let spec = node.mapping else { return .init(name: name, passed: false, detail: "a case must be a mapping") }
        let payload: [UInt8]
        if let file = spec["input"]?.mapping?["file"]?.scalar?.string {
            let url = URL(fileURLWithPath: file, relativeTo: directory).standardizedFileURL
            guard let data = FileManager.default.contents(atPath: url.path) else {
                return .init(name: name, passed: false, detail: "cannot read input file \(file)")
            }
            payload = Array(data)
        } else if let text = spec["input"]?.mapping?["text"]?.scalar?.string {
            payload = Array(text.utf8)
        } else {
            return .init(name: name, passed: false, detail: "input needs file or text")
        }
        var headers: [String: String] = [:]
        for (key, value) in spec["headers"]?.mapping ?? [:] {
            if let k = key.scalar?.string, let v = value.scalar?.string { headers[k] = v }
        }
        let result = catalog.apply(MappingInput(payload: payload, headers: headers))
        if let expectError = spec["expectError"]?.mapping {
            let reason = expectError["reason"]?.scalar?.string
            let rule = expectError["rule"]?.scalar?.string
            let want = "error \(reason ?? "*")" + (rule.map { " at \($0)" } ?? "")
            switch result {
            case .failure(let failure):
                let ok = (reason == nil || failure.reason.rawValue == reason) && (rule == nil || failure.rule == rule)
                return .init(name: name, passed: ok, detail: ok ? "" : "expected \(want)\n     got \(failure)")
            case .success(let outcome):
                return .init(name: name, passed: false, detail: "expected \(want)\n     got \(describe(outcome))")
            }
        }
        if spec["expectFiltered"].map({ YAMLSupport.json($0) == .bool(true) }) ?? false {
            if case .success(.filtered) = result { return .init(name: name, passed: true, detail: "") }
            return .init(name: name, passed: false, detail: "expected the record to be filtered out\n     got \(describe(result))")
        }
        let expected = spec["expect"].map(YAMLSupport.json) ?? .array([])
        switch result {
        case .failure(let failure): return .init(name: name, passed: false, detail: "expected records\n     got \(failure)")
        case .success(.filtered): return .init(name: name, passed: false, detail: "expected records\n     got filtered")
        case .success(.records(let records)): return compare(expected: expected, records: records, name: name)
        }
    }

    private static func describe(_ result: Result<MappingOutcome, MappingFailure>) -> String {
        switch result {
        case .failure(let failure): "\(failure)"
        case .success(let outcome): describe(outcome)
        }
    }

    private static func describe(_ outcome: MappingOutcome) -> String {
        switch outcome {
        case .filtered: "filtered"
        case .records(let records): "\(records.count) record(s): " + records.map { "\($0.target)→\($0.topic)" }.joined(separator: ", ")
        }
    }

    /// Expected and actual records as JSON, compared as values; only the fields an expectation names.
    private static func compare(expected: JSONValue, records: [MappedRecord], name: String) -> GoldenReport.CaseResult {
        guard case .array(let wanted) = expected else { return .init(name: name, passed: false, detail: "expect must be a list of records") }
        var actual: [JSONValue] = []
        for (i, record) in records.enumerated() {
            var keys: Set<String>?
            if i < wanted.count, case .object(let members) = wanted[i] { keys = Set(members.map(\.0)) }
            actual.append(actualJSON(record, keys: keys))
        }
        let normalisedWanted = wanted.map(normaliseExpected)
        let equal = normalisedWanted.count == actual.count && zip(normalisedWanted, actual).allSatisfy { $0.semanticallyEquals($1) }
        if equal { return .init(name: name, passed: true, detail: "") }
        let diff = TextDiff.unified(
            JSONWriter.pretty(.array(normalisedWanted)), JSONWriter.pretty(.array(actual)), labels: ("expected", "actual"))
        return .init(name: name, passed: false, detail: diff)
    }

    private static func normaliseExpected(_ value: JSONValue) -> JSONValue {
        guard case .object(let members) = value else { return value }
        return .object(members.map { key, member in
            if key == "body", case .string(let text) = member { return (key, .string(normaliseHL7(text))) }
            if key == "key", let text = member.scalarText { return (key, .string(text)) }
            return (key, member)
        })
    }

    private static func normaliseHL7(_ text: String) -> String {
        var lines = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\r", with: "\n")
        while lines.hasSuffix("\n") { lines.removeLast() }
        return lines
    }

    static func actualJSON(_ record: MappedRecord, keys: Set<String>?) -> JSONValue {
        let body: JSONValue
        if record.contentType == MappedRecord.jsonContentType, let parsed = try? JSONParser.parse(record.value) {
            body = parsed
        } else {
            body = .string(normaliseHL7(String(decoding: record.value, as: UTF8.self)))
        }
        let all: [(String, JSONValue)] = [
            ("target", .string(record.target)), ("topic", .string(record.topic)), ("key", record.key.map(JSONValue.string) ?? .null),
            ("body", body),
        ]
        return .object(all.filter { keys?.contains($0.0) ?? true })
    }

    private static func failed(_ file: String, _ name: String, _ detail: String) -> GoldenReport {
        GoldenReport(file: file, cases: [.init(name: name, passed: false, detail: detail)])
    }
}
