import Foundation
import Yams

/// The publishable unit: a mapping file and every file it references (code tables, schemas), stored by
/// the reference string exactly as the mapping writes it, so a router elsewhere compiles it without the
/// Mappings folder.
public struct MappingBundle: Codable, Sendable, Hashable {
    public var name: String
    /// Display path, e.g. `his/adt-patient-encounter.yaml`; diagnostics name it.
    public var mappingFile: String
    public var mappingText: String
    public var files: [String: String]

    public init(name: String, mappingFile: String, mappingText: String, files: [String: String]) {
        self.name = name
        self.mappingFile = mappingFile
        self.mappingText = mappingText
        self.files = files
    }
}

extension MappingBundle {
    /// Reads a mapping file and the files it references. Unreadable references are reported at the
    /// position of the reference.
    public static func load(mappingFile: URL, displayPath: String? = nil) throws(MappingDiagnostics) -> MappingBundle {
        let display = displayPath ?? mappingFile.path
        guard let data = FileManager.default.contents(atPath: mappingFile.path), let text = String(data: data, encoding: .utf8) else {
            throw MappingDiagnostics([MappingDiagnostic(file: display, line: 0, column: 0, message: "cannot read mapping file (missing or not UTF-8)")])
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw MappingDiagnostics([YAMLSupport.diagnostic(for: error, file: display)])
        }
        var files: [String: String] = [:]
        var diagnostics: [MappingDiagnostic] = []
        let directory = mappingFile.deletingLastPathComponent()
        for (reference, node) in references(in: root) where files[reference] == nil {
            let url = URL(fileURLWithPath: reference, relativeTo: directory).standardizedFileURL
            if let data = FileManager.default.contents(atPath: url.path), let contents = String(data: data, encoding: .utf8) {
                files[reference] = contents
            } else {
                let mark = node.mark
                diagnostics.append(
                    MappingDiagnostic(file: display, line: mark?.line ?? 0, column: mark?.column ?? 0, message: "referenced file '\(reference)' is missing or unreadable"))
            }
        }
        if !diagnostics.isEmpty { throw MappingDiagnostics(diagnostics) }
        let name = root?.mapping?["name"]?.scalar?.string ?? mappingFile.deletingPathExtension().lastPathComponent
        return MappingBundle(name: name, mappingFile: display, mappingText: text, files: files)
    }

    /// `codeTables.*.file` and `targets[].schema`, with their nodes for positions.
    static func references(in root: Node?) -> [(String, Node)] {
        var found: [(String, Node)] = []
        if let tables = root?.mapping?["codeTables"]?.mapping {
            for (_, table) in tables {
                if let file = table.mapping?["file"], let text = file.scalar?.string { found.append((text, file)) }
            }
        }
        if let targets = root?.mapping?["targets"]?.sequence {
            for target in targets {
                if let schema = target.mapping?["schema"], let text = schema.scalar?.string { found.append((text, schema)) }
            }
        }
        return found
    }

    /// A referenced file's display path: the mapping's directory joined with the reference, normalised.
    func displayPath(of reference: String) -> String {
        var parts = mappingFile.split(separator: "/", omittingEmptySubsequences: false).dropLast().map(String.init)
        for part in reference.split(separator: "/") {
            if part == "." { continue }
            if part == "..", let last = parts.last, last != "..", !last.isEmpty { parts.removeLast() } else { parts.append(String(part)) }
        }
        let joined = parts.joined(separator: "/")
        return joined
    }
}
