import Foundation
import MedBusCore

/// The JSON Schema subset the canonical schemas use, compiled once per schema file: `type` (integer and
/// number accept decimal text), `properties`, `required`, `additionalProperties` (boolean), `items`,
/// `enum`, `const`, `pattern`, `minLength`, `maxLength`, `minItems`, `minimum`/`maximum` (compared as
/// decimals), `format` date / date-time, and `$ref` to `#/$defs/…` in the same file.
///
/// Violations name the JSON pointer and the keyword, never the value.
struct JSONSchemaValidator: Sendable {
    struct Violation: Error, Sendable, Hashable {
        var pointer: String
        var message: String
    }

    struct CompileError: Error { var message: String }

    final class Node: Sendable {
        let types: [String]?
        /// `types` as bits of `JSONKind` (compared per value without string comparisons).
        let typeMask: UInt8?
        let properties: [(String, Int)]
        let required: [String]
        let additionalProperties: Bool
        let items: Int?
        let enumValues: [JSONValue]?
        let constValue: JSONValue?
        let pattern: CompiledRegex?
        let minLength: Int?
        let maxLength: Int?
        let minItems: Int?
        let minimum: String?
        let maximum: String?
        let format: String?
        /// Set for a node that is only a `$ref`.
        let reference: Int?

        init(
            types: [String]?, properties: [(String, Int)], required: [String], additionalProperties: Bool, items: Int?,
            enumValues: [JSONValue]?, constValue: JSONValue?, pattern: CompiledRegex?, minLength: Int?, maxLength: Int?,
            minItems: Int?, minimum: String?, maximum: String?, format: String?, reference: Int?
        ) {
            self.types = types
            self.typeMask = types.map { $0.reduce(0) { $0 | JSONKind.bits(for: $1) } }
            self.properties = properties
            self.required = required
            self.additionalProperties = additionalProperties
            self.items = items
            self.enumValues = enumValues
            self.constValue = constValue
            self.pattern = pattern
            self.minLength = minLength
            self.maxLength = maxLength
            self.minItems = minItems
            self.minimum = minimum
            self.maximum = maximum
            self.format = format
            self.reference = reference
        }

        func property(_ name: String) -> Int? {
            for (key, index) in properties where key == name { return index }
            return nil
        }
    }

    let nodes: [Node]
    private let time = TimeConversion(timeZone: .gmt)

    init(schemaText: String) throws(CompileError) {
        let document: JSONValue
        do { document = try JSONParser.parse(schemaText) } catch { throw CompileError(message: "schema is not valid JSON: \(error.message)") }
        var compiler = Compiler(document: document)
        _ = try compiler.compile(document)
        nodes = compiler.nodes.map { $0! }
    }

    /// The root's top-level property names, and whether others are refused (for compile-time checks).
    var rootProperties: (names: [String], closed: Bool) {
        let root = resolve(0)
        return (root.properties.map(\.0), !root.additionalProperties)
    }

    /// The node at `index` with `$ref`s followed.
    func resolve(_ index: Int) -> Node {
        var node = nodes[index]
        var hops = 0
        while let reference = node.reference, hops < 64 {
            node = nodes[reference]
            hops += 1
        }
        return node
    }

    func validate(_ value: JSONValue) -> Violation? {
        guard var violation = validate(value, node: 0) else { return nil }
        if violation.pointer.isEmpty { violation.pointer = "/" }
        return violation
    }

    /// Whether `value` satisfies the schema node at `index` (for checks decided when a plan is built).
    func accepts(_ value: JSONValue, node index: Int) -> Bool { validate(value, node: index) == nil }

    /// The first violation, its pointer relative to `value` ("" for `value` itself). Pointers are only
    /// built for a violation, on the way out: a valid record (the usual case) builds none.
    private func validate(_ value: JSONValue, node index: Int) -> Violation? {
        let node = resolve(index)
        if let mask = node.typeMask, !JSONKind.matches(value, mask), let types = node.types {
            return Violation(pointer: "", message: "expected type \(types.joined(separator: " or "))")
        }
        if let constValue = node.constValue, !constValue.semanticallyEquals(value) {
            return Violation(pointer: "", message: "value differs from the schema's const")
        }
        if let enumValues = node.enumValues, !enumValues.contains(where: { $0.semanticallyEquals(value) }) {
            return Violation(pointer: "", message: "value is not one of the schema's enum values")
        }
        switch value {
        case .string(let text):
            if let message = checkString(text, node) { return Violation(pointer: "", message: message) }
        case .number(let text):
            if let minimum = node.minimum, let order = DecimalText.compare(text, minimum), order < 0 {
                return Violation(pointer: "", message: "below minimum \(minimum)")
            }
            if let maximum = node.maximum, let order = DecimalText.compare(text, maximum), order > 0 {
                return Violation(pointer: "", message: "above maximum \(maximum)")
            }
        case .array(let elements):
            if let minItems = node.minItems, elements.count < minItems { return Violation(pointer: "", message: "fewer than minItems \(minItems)") }
            if let items = node.items {
                for (i, element) in elements.enumerated() {
                    if var violation = validate(element, node: items) {
                        violation.pointer = "/\(i)" + violation.pointer
                        return violation
                    }
                }
            }
        case .object(let members):
            for name in node.required where !members.contains(where: { $0.0 == name }) {
                return Violation(pointer: "/" + Self.escape(name), message: "required property is missing")
            }
            for (name, member) in members {
                if let property = node.property(name) {
                    if var violation = validate(member, node: property) {
                        violation.pointer = "/" + Self.escape(name) + violation.pointer
                        return violation
                    }
                } else if !node.additionalProperties {
                    return Violation(pointer: "/" + Self.escape(name), message: "property is not allowed by the schema")
                }
            }
        default: break
        }
        return nil
    }

    /// The string keywords: lengths (in Characters, as `String.count` counts), `pattern`, `format`.
    private func checkString(_ text: String, _ node: Node) -> String? {
        if node.minLength != nil || node.maxLength != nil {
            // A Character is at least one UTF-8 byte, so short texts need no grapheme walk for the common
            // `minLength: 1`: non-empty means at least one Character.
            let length = node.maxLength == nil && node.minLength! <= 1 ? (text.isEmpty ? 0 : 1) : text.count
            if let minLength = node.minLength, length < minLength { return "shorter than minLength \(minLength)" }
            if let maxLength = node.maxLength, length > maxLength { return "longer than maxLength \(maxLength)" }
        }
        if let pattern = node.pattern, !pattern.matchesSomewhere(text) { return "does not match the schema's pattern" }
        switch node.format {
        case "date"?:
            if text.utf8.count != 10 || time.parse(text) == nil { return "not a date (format date)" }
        case "date-time"?:
            guard let fields = time.parse(text), text.utf8.contains(UInt8(ascii: "T")) || text.utf8.contains(UInt8(ascii: "t")), fields.offsetMinutes != nil else {
                return "not an RFC 3339 date-time (format date-time)"
            }
        default: break
        }
        return nil
    }

    private static func escape(_ name: String) -> String {
        name.replacingOccurrences(of: "~", with: "~0").replacingOccurrences(of: "/", with: "~1")
    }

    /// JSON Schema's type names as bits; `integer` is a number whose text is a whole number.
    enum JSONKind {
        static let null: UInt8 = 1, boolean: UInt8 = 2, string: UInt8 = 4, array: UInt8 = 8, object: UInt8 = 16, number: UInt8 = 32
        static let integer: UInt8 = 64

        static func bits(for type: String) -> UInt8 {
            switch type {
            case "null": null
            case "boolean": boolean
            case "string": string
            case "array": array
            case "object": object
            case "number": number
            case "integer": integer
            default: 0
            }
        }

        static func matches(_ value: JSONValue, _ mask: UInt8) -> Bool {
            switch value {
            case .null: mask & null != 0
            case .bool: mask & boolean != 0
            case .string: mask & string != 0
            case .array: mask & array != 0
            case .object: mask & object != 0
            case .number(let text): mask & number != 0 || (mask & integer != 0 && DecimalText.integer(text) != nil)
            }
        }
    }

    private struct Compiler {
        let document: JSONValue
        var nodes: [Node?] = []
        var references: [String: Int] = [:]

        init(document: JSONValue) { self.document = document }

        mutating func compile(_ schema: JSONValue) throws(CompileError) -> Int {
            let index = nodes.count
            nodes.append(nil)
            if case .bool(let allow) = schema {
                // `true` accepts anything; `false` nothing (an empty enum).
                nodes[index] = Node(
                    types: nil, properties: [], required: [], additionalProperties: true, items: nil, enumValues: allow ? nil : [],
                    constValue: nil, pattern: nil, minLength: nil, maxLength: nil, minItems: nil, minimum: nil, maximum: nil, format: nil,
                    reference: nil)
                return index
            }
            guard case .object = schema else { throw CompileError(message: "a schema must be an object") }
            var reference: Int?
            if case .string(let ref)? = schema["$ref"] { reference = try resolve(ref) }
            var types: [String]?
            switch schema["type"] {
            case .string(let t)?: types = [t]
            case .array(let list)?: types = list.compactMap(\.scalarText)
            default: types = nil
            }
            var properties: [(String, Int)] = []
            if case .object(let members)? = schema["properties"] {
                for (name, sub) in members { properties.append((name, try compile(sub))) }
            }
            var required: [String] = []
            if case .array(let list)? = schema["required"] { required = list.compactMap(\.scalarText) }
            var additional = true
            if case .bool(let b)? = schema["additionalProperties"] { additional = b }
            var items: Int?
            if let sub = schema["items"] { items = try compile(sub) }
            var enumValues: [JSONValue]?
            if case .array(let list)? = schema["enum"] { enumValues = list }
            var pattern: CompiledRegex?
            if case .string(let p)? = schema["pattern"] {
                do { pattern = try CompiledRegex(p) } catch { throw CompileError(message: "invalid pattern in schema") }
            }
            func int(_ key: String) -> Int? { schema[key]?.scalarText.flatMap { Int($0) } }
            func number(_ key: String) -> String? { if case .number(let n)? = schema[key] { return n } else { return nil } }
            var format: String?
            if case .string(let f)? = schema["format"] { format = f }
            nodes[index] = Node(
                types: types, properties: properties, required: required, additionalProperties: additional, items: items,
                enumValues: enumValues, constValue: schema["const"], pattern: pattern, minLength: int("minLength"),
                maxLength: int("maxLength"), minItems: int("minItems"), minimum: number("minimum"), maximum: number("maximum"),
                format: format, reference: reference)
            return index
        }

        mutating func resolve(_ ref: String) throws(CompileError) -> Int {
            if let known = references[ref] { return known }
            if ref == "#" { return 0 }
            let prefixes = ["#/$defs/", "#/definitions/"]
            guard let prefix = prefixes.first(where: { ref.hasPrefix($0) }) else {
                throw CompileError(message: "unsupported $ref '\(ref)' (only #/$defs/… in the same file)")
            }
            let name = String(ref.dropFirst(prefix.count))
            let container = prefix == "#/$defs/" ? "$defs" : "definitions"
            guard let target = document[container]?[name] else { throw CompileError(message: "$ref '\(ref)' names no definition") }
            // Placeholder first so recursive definitions terminate.
            let index = nodes.count
            references[ref] = index
            nodes.append(nil)
            let compiled = try compile(target)
            nodes[index] = Node(
                types: nil, properties: [], required: [], additionalProperties: true, items: nil, enumValues: nil, constValue: nil,
                pattern: nil, minLength: nil, maxLength: nil, minItems: nil, minimum: nil, maximum: nil, format: nil, reference: compiled)
            return index
        }
    }
}
