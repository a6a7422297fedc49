import MedBusCore
import MedBusHL7

/// Evaluates compiled rules and conditions against one parsed message.
struct Evaluator: Sendable {
    let time: TimeConversion

    /// A rule's value: source, then `when`, text adjustments, code lookup, type, `default`, `required`.
    func value(_ rule: ValueRule, _ context: SourceContext) throws(MappingFailure) -> JSONValue? {
        var result: JSONValue?
        if rule.when == nil || holds(rule.when!, context) {
            result = try adjust(try sourceValue(rule, context), rule)
        }
        return try settle(result, rule)
    }

    /// The modifiers that transform a source value: text adjustments, code lookup, type.
    func adjust(_ source: JSONValue?, _ rule: ValueRule) throws(MappingFailure) -> JSONValue? {
        var result = source
        if case .string(var text)? = result {
            if rule.trim { text = text.trimmingSpaces }
            switch rule.textCase {
            case .upper?: text = text.uppercased()
            case .lower?: text = text.lowercased()
            case nil: break
            }
            result = text.isEmpty ? nil : .string(text)
        }
        if let table = rule.code, let current = result {
            guard let code = current.scalarText else {
                throw MappingFailure(reason: .type, rule: rule.name, message: "code table '\(table.name)' needs a scalar value")
            }
            guard let translated = table.translate(code) else { throw Self.missingCode(code, table, rule) }
            result = .string(translated)
        }
        if let type = rule.type, let current = result {
            guard let converted = ValueConversion.convert(current, to: type, time: time) else { throw Self.typeFailure(type, rule) }
            result = converted
        }
        return result
    }

    /// `default`, then `required`.
    func settle(_ value: JSONValue?, _ rule: ValueRule) throws(MappingFailure) -> JSONValue? {
        if let value = value ?? rule.defaultValue { return value }
        if rule.required { throw Self.missingRequired(rule) }
        return nil
    }

    static func missingCode(_ code: String, _ table: CodeTable, _ rule: ValueRule) -> MappingFailure {
        MappingFailure(reason: .missingCode, rule: rule.name, message: "code '\(code)' is not in code table '\(table.name)'")
    }

    static func typeFailure(_ type: ValueType, _ rule: ValueRule) -> MappingFailure {
        MappingFailure(reason: .type, rule: rule.name, message: "value is not \(ValueConversion.describe(type))")
    }

    static func missingRequired(_ rule: ValueRule) -> MappingFailure {
        MappingFailure(reason: .missingRequired, rule: rule.name, message: "required value is missing")
    }

    private func sourceValue(_ rule: ValueRule, _ context: SourceContext) throws(MappingFailure) -> JSONValue? {
        switch rule.source {
        case .path(let path):
            return nonEmpty(path.read(context))
        case .paths(let paths):
            for path in paths {
                if let value = nonEmpty(path.read(context)) { return value }
            }
            return nil
        case .const(let value):
            return value
        case .header(let name):
            return context.headers[name].map(JSONValue.string)
        case .index:
            return context.index.map { .number(String($0)) }
        case .format(let pieces):
            var text = ""
            var any = false
            for piece in pieces {
                switch piece {
                case .literal(let literal): text += literal
                case .path(let path):
                    if let part = path.read(context)?.scalarText?.trimmingSpaces, !part.isEmpty {
                        text += part
                        any = true
                    }
                }
            }
            return any ? .string(text) : nil
        case .object(let fields):
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(fields.count)
            for field in fields {
                if let value = try value(field.rule, context) { members.append((field.name, value)) }
            }
            return members.isEmpty ? nil : .object(members)
        case .each(let selector, let item):
            var elements: [JSONValue] = []
            for element in iterate(selector, context) {
                if let value = try value(item, element) { elements.append(value) }
            }
            return elements.isEmpty ? nil : .array(elements)
        }
    }

    private func nonEmpty(_ value: JSONValue?) -> JSONValue? {
        switch value {
        case .string(let s)? where s.isEmpty: return nil
        case .null?: return nil
        default: return value
        }
    }

    /// The text a condition tests (trimmed); nil when there is none.
    private func text(_ path: SourcePath, _ context: SourceContext) -> String? {
        guard let text = path.read(context)?.scalarText?.trimmingSpaces, !text.isEmpty else { return nil }
        return text
    }

    func holds(_ condition: Condition, _ context: SourceContext) -> Bool {
        switch condition {
        case .exists(let path):
            guard let value = path.read(context) else { return false }
            if let text = value.scalarText { return !text.trimmingSpaces.isEmpty }
            return value != .null
        case .equals(let path, let expected): return text(path, context) == expected
        case .oneOf(let path, let expected): return text(path, context).map(expected.contains) ?? false
        case .matches(let path, let regex): return text(path, context).map(regex.matchesWhole) ?? false
        case .all(let conditions): return conditions.allSatisfy { holds($0, context) }
        case .any(let conditions): return conditions.contains { holds($0, context) }
        case .not(let inner): return !holds(inner, context)
        }
    }

    /// One context per occurrence the selector finds, each knowing its 1-based position (`index: true`).
    func iterate(_ selector: Selector, _ context: SourceContext) -> [SourceContext] {
        var contexts: [SourceContext] = []
        func add(_ set: (inout SourceContext) -> Void) {
            var inner = context
            set(&inner)
            inner.index = contexts.count + 1
            contexts.append(inner)
        }
        switch (selector, context.document) {
        case (.segments(let id), .hl7v2(let source)):
            for cursor in context.hl7.segments(id, in: source) { add { $0.hl7 = cursor } }
        case (.repetitions(let address), .hl7v2(let source)):
            for cursor in context.hl7.repetitions(address, in: source) { add { $0.hl7 = cursor } }
        case (.json(let path), .json(let root)):
            for element in path.select(root: root, current: context.jsonCurrent) { add { $0.jsonCurrent = element } }
        case (.xml(let path), .xml(let root)):
            for node in path.nodes(root: root, context: context.xmlCurrent ?? root) { add { $0.xmlCurrent = node } }
        default:
            break
        }
        return contexts
    }
}
