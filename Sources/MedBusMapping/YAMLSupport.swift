import MedBusCore
import Yams

/// Reading YAML nodes with positions, and YAML scalars as JSON values under the YAML 1.2 core schema
/// (so `N` and `no` stay strings: HL7 codes must not turn into booleans).
enum YAMLSupport {
    static func diagnostic(for error: any Error, file: String) -> MappingDiagnostic {
        if let yaml = error as? YamlError {
            switch yaml {
            case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _), .composer(_, let problem, let mark, _):
                return MappingDiagnostic(file: file, line: mark.line, column: mark.column, message: "YAML syntax error: \(problem)")
            default: break
            }
        }
        return MappingDiagnostic(file: file, line: 1, column: 1, message: "YAML syntax error")
    }

    static func json(_ node: Node) -> JSONValue {
        switch node {
        case .scalar(let scalar):
            return scalarJSON(scalar)
        case .sequence(let sequence):
            return .array(sequence.map(json))
        case .mapping(let mapping):
            return .object(mapping.map { ($0.key.scalar?.string ?? "", json($0.value)) })
        case .alias:
            return .null
        }
    }

    static func scalarJSON(_ scalar: Node.Scalar) -> JSONValue {
        let text = scalar.string
        guard scalar.style == .plain else { return .string(text) }
        switch text {
        case "", "~", "null", "Null", "NULL": return .null
        case "true", "True", "TRUE": return .bool(true)
        case "false", "False", "FALSE": return .bool(false)
        default:
            if DecimalText.parse(text) != nil, text.first != "+", text.first != ".", !text.hasSuffix("."), let first = text.first,
                first == "-" || first.isASCIIDigit, isJSONNumber(text)
            {
                return .number(text)
            }
            return .string(text)
        }
    }

    private static func isJSONNumber(_ text: String) -> Bool {
        (try? JSONParser.parse(text)).map { if case .number = $0 { true } else { false } } ?? false
    }
}
