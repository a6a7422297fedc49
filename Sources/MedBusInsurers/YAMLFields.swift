import Foundation
import MedBusCore
import Yams

/// An error in a policy, persons or manifest file, pointing at `file:line:column`.
public struct InsurerConfigError: Error, CustomStringConvertible {
    public var file: String
    public var line: Int?
    public var column: Int?
    public var message: String

    public var description: String {
        guard let line else { return "\(file): \(message)" }
        return "\(file):\(line):\(column ?? 1): \(message)"
    }
}

/// Reads YAML as composed nodes, never through Yams' typed decoding: `0.85` must stay the text
/// "0.85" (read exactly by `Ratio`), never become a `Double`.
struct YAMLFields {
    let node: Node
    let file: String
    /// Dotted path for messages, e.g. `insutypes.390.deductible`.
    let path: String

    static func load(path file: String) throws -> YAMLFields {
        guard let data = FileManager.default.contents(atPath: file) else {
            throw InsurerConfigError(file: file, message: "cannot read file")
        }
        return try parse(String(decoding: data, as: UTF8.self), file: file)
    }

    static func parse(_ text: String, file: String) throws -> YAMLFields {
        let node: Node?
        do { node = try Yams.compose(yaml: text) } catch {
            throw InsurerConfigError(file: file, message: "not valid YAML: \(error)")
        }
        guard let node, node.mapping != nil else { throw InsurerConfigError(file: file, message: "expected a mapping at the top level") }
        return YAMLFields(node: node, file: file, path: "")
    }

    func failure(_ message: String, at node: Node? = nil) -> InsurerConfigError {
        let mark = (node ?? self.node).mark
        let prefix = path.isEmpty ? "" : "\(path): "
        return InsurerConfigError(file: file, line: mark?.line, column: mark?.column, message: prefix + message)
    }

    func child(_ key: String) -> YAMLFields? {
        guard let value = node.mapping?[Node(key)] else { return nil }
        return YAMLFields(node: value, file: file, path: path.isEmpty ? key : "\(path).\(key)")
    }

    func required(_ key: String) throws -> YAMLFields {
        guard let value = child(key) else { throw failure("'\(key)' is required") }
        return value
    }

    /// Refuses keys the format does not know, so a typo is an error instead of a silent default.
    func checkKeys(_ known: Set<String>) throws {
        for (key, _) in node.mapping ?? [:] {
            guard let name = key.scalar?.string, known.contains(name) else {
                throw failure("unknown key '\(key.scalar?.string ?? "?")' (known: \(known.sorted().joined(separator: ", ")))", at: key)
            }
        }
    }

    var scalarText: String? { node.scalar?.string }

    func string() throws -> String {
        guard let text = scalarText, !text.isEmpty else { throw failure("expected a text value") }
        return text
    }

    func money() throws -> Money {
        guard let text = scalarText, let amount = Money(yuan: text), amount >= .zero else { throw failure("expected an amount in yuan (at most two decimals, not negative)") }
        return amount
    }

    func ratio() throws -> Ratio {
        guard let text = scalarText, let ratio = Ratio(text) else { throw failure("expected a ratio between 0 and 1 (e.g. 0.85 or 85%)") }
        return ratio
    }

    func int() throws -> Int {
        guard let text = scalarText, let value = Int(text) else { throw failure("expected an integer") }
        return value
    }

    func bool() throws -> Bool {
        switch scalarText?.lowercased() {
        case "true", "yes": return true
        case "false", "no": return false
        default: throw failure("expected true or false")
        }
    }

    /// The entries of a mapping, in file order.
    func entries() throws -> [(key: String, value: YAMLFields)] {
        guard let mapping = node.mapping else { throw failure("expected a mapping") }
        return mapping.map { key, value in
            let name = key.scalar?.string ?? ""
            return (name, YAMLFields(node: value, file: file, path: path.isEmpty ? name : "\(path).\(name)"))
        }
    }

    func items() throws -> [YAMLFields] {
        guard let sequence = node.sequence else { throw failure("expected a list") }
        return sequence.enumerated().map { index, value in YAMLFields(node: value, file: file, path: "\(path)[\(index)]") }
    }
}
