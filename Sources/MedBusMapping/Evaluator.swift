import MedBusHL7

/// Evaluates compiled rules and conditions against one parsed message.
struct Evaluator: Sendable {
    let time: TimeConversion

    /// A rule's value: source, then `when`, text adjustments, code lookup, type, `default`, `required`.
    func value(_ rule: ValueRule, _ context: SourceContext) throws(MappingFailure) -> JSONValue? {
        var result: JSONValue?
        if rule.when == nil || holds(rule.when!, context) {
            result = try sourceValue(rule, context)
        }
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
            guard let translated = table.translate(code) else {
                throw MappingFailure(reason: .missingCode, rule: rule.name, message: "code '\(code)' is not in code table '\(table.name)'")
            }
            result = .string(translated)
        }
        if let type = rule.type, let current = result {
            guard let converted = ValueConversion.convert(current, to: type, time: time) else {
                throw MappingFailure(reason: .type, rule: rule.name, message: "value is not \(ValueConversion.describe(type))")
            }
            result = converted
        }
        if result == nil { result = rule.defaultValue }
        if result == nil && rule.required {
            throw MappingFailure(reason: .missingRequired, rule: rule.name, message: "required value is missing")
        }
        return result
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

    /// One context per occurrence the selector finds.
    func iterate(_ selector: Selector, _ context: SourceContext) -> [SourceContext] {
        switch (selector, context.document) {
        case (.segments(let id), .hl7v2(let source)):
            return (0..<source.count(of: id)).map { index in
                var inner = context
                inner.segment = (id, index + 1)
                inner.repetition = nil
                return inner
            }
        case (.repetitions(let address), .hl7v2(let source)):
            let path = address.path
            if let repetition = context.repetition, repetition.segment == address.segment, repetition.field == path.field {
                return [context]
            }
            // The whole field (any repetition, component in the path aside), of the iterated segment if it is this one.
            var occurrence = path.segmentOccurrence
            if let segment = context.segment, segment.id == address.segment, occurrence == 1 { occurrence = segment.occurrence }
            guard let index = source.segmentIndex(id: address.segment, occurrence: occurrence) else { return [] }
            let field = source.field(path.field, ofSegment: index)
            var contexts: [SourceContext] = []
            for (offset, element) in source.repetitions(of: field).enumerated() where !element.isEmpty {
                var inner = context
                inner.repetition = .init(segment: address.segment, occurrence: occurrence, field: path.field, number: offset + 1, element: element)
                contexts.append(inner)
            }
            return contexts
        case (.json(let path), .json(let root)):
            return path.select(root: root, current: context.jsonCurrent).map { element in
                var inner = context
                inner.jsonCurrent = element
                return inner
            }
        case (.xml(let path), .xml(let root)):
            return path.nodes(root: root, context: context.xmlCurrent ?? root).map { node in
                var inner = context
                inner.xmlCurrent = node
                return inner
            }
        default:
            return []
        }
    }
}
