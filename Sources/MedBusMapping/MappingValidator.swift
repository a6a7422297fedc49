import Foundation
import MedBusCore
import Yams

/// `medbus mapping validate`: every problem in the given files, as `file:line:column: message`.
///
/// Mapping files are loaded with the files they reference and compiled; golden test files are checked
/// for their mapping reference; code tables (CSV) and schemas (JSON) are parsed on their own.
public enum MappingValidator {
    public static func validate(files: [URL]) -> [MappingDiagnostic] {
        var diagnostics: [MappingDiagnostic] = []
        for file in files {
            let display = file.path
            switch file.pathExtension.lowercased() {
            case "csv":
                guard let text = try? String(contentsOf: file, encoding: .utf8) else {
                    diagnostics.append(MappingDiagnostic(file: display, line: 0, column: 0, message: "cannot read file"))
                    continue
                }
                do { _ = try CodeTable.parseCSV(text) } catch {
                    diagnostics.append(MappingDiagnostic(file: display, line: error.line, column: error.column, message: error.message))
                }
            case "json":
                guard let text = try? String(contentsOf: file, encoding: .utf8) else {
                    diagnostics.append(MappingDiagnostic(file: display, line: 0, column: 0, message: "cannot read file"))
                    continue
                }
                if file.lastPathComponent.hasSuffix(".schema.json"), !file.lastPathComponent.hasPrefix("mapping."),
                    !file.lastPathComponent.hasPrefix("golden-test.")
                {
                    do { _ = try JSONSchemaValidator(schemaText: text) } catch {
                        diagnostics.append(MappingDiagnostic(file: display, line: 1, column: 1, message: error.message))
                    }
                } else if (try? JSONParser.parse(text)) == nil {
                    diagnostics.append(MappingDiagnostic(file: display, line: 1, column: 1, message: "not valid JSON"))
                }
            default:
                if isGoldenTest(file) {
                    diagnostics.append(contentsOf: GoldenTests.check(testFile: file))
                } else {
                    do {
                        let bundle = try MappingBundle.load(mappingFile: file)
                        _ = try Mapping.compile(bundle)
                    } catch {
                        diagnostics.append(contentsOf: error.diagnostics)
                    }
                }
            }
        }
        return diagnostics
    }

    static func isGoldenTest(_ file: URL) -> Bool {
        if file.deletingLastPathComponent().lastPathComponent == "tests" { return true }
        guard let text = try? String(contentsOf: file, encoding: .utf8), let root = try? Yams.compose(yaml: text) else { return false }
        return root.mapping?["cases"] != nil && root.mapping?["mapping"] != nil
    }
}
