import Foundation
import MedBusCore
import MedBusHL7
import Yams

/// Mapping file (YAML) → `Mapping`. Checks as it goes and keeps going after a problem, so one run
/// reports every diagnostic, each at the line and column of the offending key or value.
struct MappingCompiler {
    let bundle: MappingBundle
    var diagnostics: [MappingDiagnostic] = []
    var format: SourcePath.Format = .hl7v2
    var codeTables: [String: CodeTable] = [:]
    var time = TimeConversion(timeZone: TimeZone(identifier: "Asia/Shanghai") ?? .gmt)
    /// How many `each` (a target's, a rule's, an hl7v2 segment's) enclose the rule being compiled: `index`
    /// needs one.
    var eachDepth = 0

    static let sourceKeys: Set<String> = ["path", "paths", "const", "format", "header", "index", "object", "each"]
    static let modifierKeys: Set<String> = ["type", "code", "default", "required", "when", "case", "trim"]

    static func compile(_ bundle: MappingBundle, version: Int?) throws(MappingDiagnostics) -> Mapping {
        var compiler = MappingCompiler(bundle: bundle)
        let mapping = compiler.run(version: version)
        guard compiler.diagnostics.isEmpty, let mapping else {
            throw MappingDiagnostics(compiler.diagnostics.isEmpty ? [compiler.at(nil, "invalid mapping")] : compiler.diagnostics)
        }
        return mapping
    }

    // MARK: diagnostics

    func at(_ node: Node?, _ message: String) -> MappingDiagnostic {
        MappingDiagnostic(file: bundle.mappingFile, line: node?.mark?.line ?? 1, column: node?.mark?.column ?? 1, message: message)
    }

    mutating func report(_ node: Node?, _ message: String) { diagnostics.append(at(node, message)) }

    /// The mapping's entries, reporting keys outside `allowed`.
    mutating func entries(_ node: Node, allowed: Set<String>, what: String) -> [(key: String, keyNode: Node, value: Node)] {
        guard let mapping = node.mapping else {
            report(node, "\(what) must be a mapping")
            return []
        }
        var result: [(String, Node, Node)] = []
        var seen: Set<String> = []
        for (key, value) in mapping {
            guard let name = key.scalar?.string else {
                report(key, "keys must be text")
                continue
            }
            guard allowed.contains(name) else {
                report(key, "unknown key '\(name)' in \(what)")
                continue
            }
            if !seen.insert(name).inserted { report(key, "duplicate key '\(name)'") }
            result.append((name, key, value))
        }
        return result
    }

    mutating func string(_ node: Node?, _ what: String) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else {
            report(node, "\(what) must be a scalar")
            return nil
        }
        return scalar.string
    }

    mutating func strings(_ node: Node?, _ what: String) -> [String]? {
        guard let node else { return nil }
        guard let sequence = node.sequence else {
            report(node, "\(what) must be a list")
            return nil
        }
        return sequence.compactMap { string($0, what) }
    }

    // MARK: top level

    mutating func run(version: Int?) -> Mapping? {
        let root: Node?
        do { root = try Yams.compose(yaml: bundle.mappingText) } catch {
            diagnostics.append(YAMLSupport.diagnostic(for: error, file: bundle.mappingFile))
            return nil
        }
        guard let root else {
            report(nil, "empty mapping file")
            return nil
        }
        let top = entries(root, allowed: ["name", "description", "source", "timeZone", "codeTables", "filter", "targets"], what: "a mapping")
        let lookup = Dictionary(top.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        var name = bundle.name
        if let entry = lookup["name"], let text = string(entry.value, "name") {
            if text.isEmpty || !text.unicodeScalars.allSatisfy({ ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "-" }) {
                report(entry.value, "name must match [a-z0-9-]+")
            }
            name = text
        } else if lookup["name"] == nil {
            report(root, "missing key 'name'")
        }
        guard let sourceEntry = lookup["source"] else {
            report(root, "missing key 'source'")
            return nil
        }
        guard let source = compileSource(sourceEntry.value) else { return nil }
        format = source.format
        if let entry = lookup["timeZone"], let text = string(entry.value, "timeZone") {
            if let zone = TimeZone(identifier: text) { time = TimeConversion(timeZone: zone) } else { report(entry.value, "unknown time zone '\(text)'") }
        }
        if let entry = lookup["codeTables"] { compileCodeTables(entry.value) }
        let filter = lookup["filter"].flatMap { compileCondition($0.value) }
        var targets: [Target] = []
        if let entry = lookup["targets"] {
            if let sequence = entry.value.sequence, !sequence.isEmpty {
                var names: Set<String> = []
                for node in sequence {
                    if let target = compileTarget(node) {
                        if !names.insert(target.name).inserted { report(node, "duplicate target name '\(target.name)'") }
                        targets.append(target)
                    }
                }
            } else {
                report(entry.value, "targets must be a non-empty list")
            }
        } else {
            report(root, "missing key 'targets'")
        }
        return Mapping(name: name, version: version, source: source, filter: filter, targets: targets, timeZone: time.timeZone)
    }

    mutating func compileSource(_ node: Node) -> SourceSpec? {
        let items = entries(node, allowed: ["format", "messageTypes", "senders", "versions", "typePath"], what: "source")
        let lookup = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        guard let formatEntry = lookup["format"] else {
            report(node, "source needs a format (hl7v2 | hl7v3 | json)")
            return nil
        }
        guard let text = string(formatEntry.value, "format"), let format = SourcePath.Format(rawValue: text) else {
            report(formatEntry.value, "source format must be hl7v2, hl7v3 or json")
            return nil
        }
        var spec = SourceSpec(format: format, messageTypes: [], senders: [Glob("*")], versions: [], typePath: nil)
        if let entry = lookup["messageTypes"], let list = strings(entry.value, "messageTypes") { spec.messageTypes = list.map(Glob.init) }
        if let entry = lookup["senders"], let list = strings(entry.value, "senders") { spec.senders = list.map(Glob.init) }
        if let entry = lookup["versions"], let list = strings(entry.value, "versions") {
            if format != .hl7v2 { report(entry.keyNode, "versions applies to hl7v2 sources only") }
            spec.versions = list
        }
        if let entry = lookup["typePath"], let text = string(entry.value, "typePath") {
            if format != .json { report(entry.keyNode, "typePath applies to json sources only") }
            do { spec.typePath = try JSONPath(text) } catch { report(entry.value, "'\(text)' is not a json path: \(error.message)") }
        }
        return spec
    }

    mutating func compileCodeTables(_ node: Node) {
        guard let mapping = node.mapping else {
            report(node, "codeTables must be a mapping")
            return
        }
        for (key, value) in mapping {
            guard let name = key.scalar?.string else { continue }
            let items = entries(value, allowed: ["file", "onMissing", "default"], what: "code table '\(name)'")
            let lookup = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
            guard let fileEntry = lookup["file"], let file = string(fileEntry.value, "file") else {
                report(key, "code table '\(name)' needs a file")
                continue
            }
            var policy = CodeTable.Policy.error
            if let entry = lookup["onMissing"], let text = string(entry.value, "onMissing") {
                if let parsed = CodeTable.Policy(rawValue: text) { policy = parsed } else { report(entry.value, "onMissing must be error, default or passThrough") }
            }
            let defaultValue = lookup["default"].flatMap { string($0.value, "default") }
            if policy == .default && defaultValue == nil { report(key, "code table '\(name)' has onMissing: default but no default") }
            guard let text = bundle.files[file] else {
                report(fileEntry.value, "code table file '\(file)' is missing")
                continue
            }
            do {
                let entries = try CodeTable.parseCSV(text)
                codeTables[name] = CodeTable(name: name, file: file, entries: entries, policy: policy, defaultValue: defaultValue)
            } catch {
                diagnostics.append(MappingDiagnostic(file: bundle.displayPath(of: file), line: error.line, column: error.column, message: error.message))
            }
        }
    }

    // MARK: targets

    mutating func compileTarget(_ node: Node) -> Target? {
        let items = entries(node, allowed: ["name", "format", "schema", "topic", "key", "when", "each", "body", "message"], what: "a target")
        let lookup = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        guard let name = lookup["name"].flatMap({ string($0.value, "name") }) else {
            report(node, "a target needs a name")
            return nil
        }
        var targetFormat = TargetFormat.json
        if let entry = lookup["format"], let text = string(entry.value, "format") {
            if let parsed = TargetFormat(rawValue: text) { targetFormat = parsed } else { report(entry.value, "target format must be json or hl7v2") }
        }
        guard let topic = lookup["topic"].flatMap({ string($0.value, "topic") }), !topic.isEmpty else {
            report(node, "target '\(name)' needs a topic")
            return nil
        }
        var target = Target(name: name, format: targetFormat, topic: topic, key: nil, when: nil, each: nil, body: [], schema: nil, hl7: nil)
        if let entry = lookup["when"] { target.when = compileCondition(entry.value) }
        if let entry = lookup["each"], let text = string(entry.value, "each") { target.each = compileSelector(text, node: entry.value) }
        // A target's `each` encloses its key and body.
        let iterates = target.each != nil
        if iterates { eachDepth += 1 }
        defer { if iterates { eachDepth -= 1 } }
        if let entry = lookup["key"] { target.key = compileRule(entry.value, name: "\(name).key") }
        if let entry = lookup["schema"], let file = string(entry.value, "schema") {
            if targetFormat != .json { report(entry.keyNode, "schema applies to json targets only") }
            if let text = bundle.files[file] {
                do { target.schema = try JSONSchemaValidator(schemaText: text) } catch {
                    diagnostics.append(MappingDiagnostic(file: bundle.displayPath(of: file), line: 1, column: 1, message: error.message))
                }
            } else {
                report(entry.value, "schema file '\(file)' is missing")
            }
        }
        guard let body = lookup["body"] else {
            report(node, "target '\(name)' needs a body")
            return target
        }
        switch targetFormat {
        case .json:
            guard let mapping = body.value.mapping else {
                report(body.value, "a json body must be a mapping of field → value rule")
                return target
            }
            let allowed = target.schema?.rootProperties
            for (key, value) in mapping {
                guard let field = key.scalar?.string else { continue }
                if let allowed, allowed.closed, !allowed.names.contains(field) {
                    report(key, "field '\(field)' is not allowed by the target's schema")
                }
                if let rule = compileRule(value, name: "\(name).\(field)") { target.body.append(RuleField(name: field, rule: rule)) }
            }
        case .hl7v2:
            if lookup["message"] == nil { report(node, "an hl7v2 target needs a message") }
            target.hl7 = compileHL7Target(message: lookup["message"]?.value, body: body.value, target: name)
        }
        return target
    }

    mutating func compileHL7Target(message: Node?, body: Node, target: String) -> HL7TargetSpec {
        var spec = HL7TargetSpec(messageType: [], version: "2.5", processingID: "P", entries: [])
        if let message {
            let keys: Set<String> = ["type", "version", "processingId", "sendingApplication", "sendingFacility", "receivingApplication", "receivingFacility"]
            for item in entries(message, allowed: keys, what: "message") {
                switch item.key {
                case "type": spec.messageType = (string(item.value, "type") ?? "").split(separator: "^", omittingEmptySubsequences: false).map(String.init)
                case "version": spec.version = string(item.value, "version") ?? spec.version
                case "processingId": spec.processingID = string(item.value, "processingId") ?? spec.processingID
                default:
                    let rule = headerRule(item.value, name: "\(target).\(item.key)")
                    switch item.key {
                    case "sendingApplication": spec.sendingApplication = rule
                    case "sendingFacility": spec.sendingFacility = rule
                    case "receivingApplication": spec.receivingApplication = rule
                    default: spec.receivingFacility = rule
                    }
                }
            }
            if spec.messageType.isEmpty || spec.messageType[0].isEmpty { report(message, "message needs a type (MSH-9, e.g. ADT^A05^ADT_A05)") }
        }
        guard let mapping = body.mapping else {
            report(body, "an hl7v2 body must be a mapping of terser path → value rule")
            return spec
        }
        for (key, value) in mapping {
            guard let text = key.scalar?.string else { continue }
            if text.count == 3, text.allSatisfy({ $0.isUppercase || $0.isASCIIDigit }) {
                let items = entries(value, allowed: ["each", "segment"], what: "segment \(text)")
                let lookup = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
                guard let each = lookup["each"], let selectorText = string(each.value, "each"),
                    let selector = compileSelector(selectorText, node: each.value), let segment = lookup["segment"]?.value.mapping
                else {
                    report(key, "segment \(text) needs each and segment")
                    continue
                }
                var fields: [(HL7Path, ValueRule)] = []
                eachDepth += 1
                defer { eachDepth -= 1 }
                for (fieldKey, fieldValue) in segment {
                    guard let pathText = fieldKey.scalar?.string else { continue }
                    guard let path = try? HL7Path(pathText), path.segmentID == text else {
                        report(fieldKey, "'\(pathText)' is not a terser path into \(text)")
                        continue
                    }
                    if let rule = compileRule(fieldValue, name: "\(target).\(pathText)") { fields.append((path, rule)) }
                }
                spec.entries.append(.segments(id: text, selector: selector, fields: fields))
            } else {
                guard let path = try? HL7Path(text) else {
                    report(key, "'\(text)' is not an HL7 v2 terser path")
                    continue
                }
                if path.segmentID == "MSH" && path.field <= 2 { report(key, "MSH-1 and MSH-2 are the delimiters and cannot be set") }
                if let rule = compileRule(value, name: "\(target).\(text)") { spec.entries.append(.field(path, rule)) }
            }
        }
        return spec
    }

    /// A `message:` entry: a constant scalar or a value rule.
    mutating func headerRule(_ node: Node, name: String) -> ValueRule? {
        if let scalar = node.scalar {
            return ValueRule(
                name: name, source: .const(.string(scalar.string)), type: nil, code: nil, defaultValue: nil, required: false, when: nil,
                textCase: nil, trim: true)
        }
        return compileRule(node, name: name)
    }

    // MARK: value rules

    mutating func compileRule(_ node: Node, name: String) -> ValueRule? {
        guard let mapping = node.mapping else {
            report(node, "a value rule must be a mapping with one source key (path, paths, const, format, header, index, object, each)")
            return nil
        }
        var sources: [(String, Node, Node)] = []
        var modifiers: [String: (Node, Node)] = [:]
        var item: (Node, Node)?
        for (key, value) in mapping {
            guard let text = key.scalar?.string else { continue }
            if Self.sourceKeys.contains(text) {
                sources.append((text, key, value))
            } else if Self.modifierKeys.contains(text) {
                modifiers[text] = (key, value)
            } else if text == "item" {
                item = (key, value)
            } else {
                report(key, "unknown key '\(text)' in a value rule")
            }
        }
        guard sources.count == 1 else {
            if sources.isEmpty {
                report(node, "a value rule needs a source key (path, paths, const, format, header, index, object, each)")
            } else {
                report(sources[1].1, "a value rule has exactly one source key; found \(sources.map(\.0).joined(separator: " and "))")
            }
            return nil
        }
        let (kind, keyNode, value) = sources[0]
        if kind != "each", let item { report(item.0, "item goes with each") }
        var type: ValueType?
        if let (_, typeNode) = modifiers["type"], let text = string(typeNode, "type") {
            if let parsed = ValueType(rawValue: text) { type = parsed } else {
                report(typeNode, "unknown type '\(text)' (string, integer, decimal, money, boolean, date, datetime)")
            }
        }
        let source: RuleSource
        switch kind {
        case "path":
            guard let text = string(value, "path"), let path = compilePath(text, node: value) else { return nil }
            source = .path(path)
        case "paths":
            guard let list = strings(value, "paths"), !list.isEmpty else {
                report(value, "paths needs at least one path")
                return nil
            }
            let paths = list.compactMap { compilePath($0, node: value) }
            guard paths.count == list.count else { return nil }
            source = .paths(paths)
        case "const":
            let constant = YAMLSupport.json(value)
            var converted = constant
            if let type {
                if let result = ValueConversion.convert(constant, to: type, time: time) { converted = result } else {
                    report(value, "const cannot be \(type.rawValue): expected \(ValueConversion.describe(type))")
                }
            }
            source = .const(converted)
        case "format":
            guard let text = string(value, "format"), let pieces = compileFormat(text, node: value) else { return nil }
            source = .format(pieces)
        case "header":
            guard let text = string(value, "header"), !text.isEmpty else {
                report(value, "header needs a header name")
                return nil
            }
            source = .header(text)
        case "index":
            guard case .bool(true) = YAMLSupport.json(value) else {
                report(value, "index must be true")
                return nil
            }
            guard eachDepth > 0 else {
                report(keyNode, "index is the position in an enclosing each: use it inside each")
                return nil
            }
            source = .index
        case "object":
            guard let fields = value.mapping else {
                report(value, "object must be a mapping of field → value rule")
                return nil
            }
            var compiled: [RuleField] = []
            for (fieldKey, fieldValue) in fields {
                guard let field = fieldKey.scalar?.string else { continue }
                if let rule = compileRule(fieldValue, name: "\(name).\(field)") { compiled.append(RuleField(name: field, rule: rule)) }
            }
            source = .object(compiled)
        default:  // each
            guard let text = string(value, "each"), let selector = compileSelector(text, node: value) else { return nil }
            guard let item else {
                report(keyNode, "each needs an item rule")
                return nil
            }
            eachDepth += 1
            defer { eachDepth -= 1 }
            guard let itemRule = compileRule(item.1, name: name) else { return nil }
            source = .each(selector, itemRule)
        }
        var code: CodeTable?
        if let (_, codeNode) = modifiers["code"], let text = string(codeNode, "code") {
            if let table = codeTables[text] { code = table } else { report(codeNode, "unknown code table '\(text)' (declare it under codeTables)") }
        }
        var defaultValue: JSONValue?
        if let (_, defaultNode) = modifiers["default"] {
            let raw = YAMLSupport.json(defaultNode)
            if let type {
                if let converted = ValueConversion.convert(raw, to: type, time: time) { defaultValue = converted } else {
                    report(defaultNode, "default cannot be \(type.rawValue): expected \(ValueConversion.describe(type))")
                }
            } else {
                defaultValue = raw
            }
        }
        var required = false
        if let (_, node) = modifiers["required"] {
            switch YAMLSupport.json(node) {
            case .bool(let b): required = b
            default: report(node, "required must be true or false")
            }
        }
        var trim = true
        if let (_, node) = modifiers["trim"] {
            switch YAMLSupport.json(node) {
            case .bool(let b): trim = b
            default: report(node, "trim must be true or false")
            }
        }
        var textCase: TextCase?
        if let (_, node) = modifiers["case"], let text = string(node, "case") {
            if let parsed = TextCase(rawValue: text) { textCase = parsed } else { report(node, "case must be upper or lower") }
        }
        let when = modifiers["when"].flatMap { compileCondition($0.1) }
        return ValueRule(
            name: name, source: source, type: type, code: code, defaultValue: defaultValue, required: required, when: when,
            textCase: textCase, trim: trim)
    }

    mutating func compilePath(_ text: String, node: Node) -> SourcePath? {
        do { return try SourcePath.compile(text, format: format) } catch {
            report(node, error.message)
            return nil
        }
    }

    mutating func compileSelector(_ text: String, node: Node) -> Selector? {
        switch format {
        case .hl7v2:
            if text.count == 3 {
                guard (try? HL7Path(segment: text, field: 1)) != nil else {
                    report(node, "'\(text)' is not a segment id")
                    return nil
                }
                return .segments(HL7Source.pack(text)!)
            }
            guard let path = try? HL7Path(text), path.component == nil else {
                report(node, "'\(text)' is neither a segment id nor a repeating field path (e.g. PID-3)")
                return nil
            }
            return .repetitions(HL7Address(path))
        case .json:
            do { return .json(try JSONPath(text)) } catch {
                report(node, "'\(text)' is not a json path: \(error.message)")
                return nil
            }
        case .hl7v3:
            do {
                let path = try XPath(text)
                guard path.leaf == .element else {
                    report(node, "each selects elements, not attributes or text")
                    return nil
                }
                return .xml(path)
            } catch {
                report(node, "'\(text)' is not a supported XPath: \(error.message)")
                return nil
            }
        }
    }

    /// `text {path} text`, `{{` and `}}` for literal braces.
    mutating func compileFormat(_ text: String, node: Node) -> [FormatPiece]? {
        var pieces: [FormatPiece] = []
        var literal = ""
        var chars = text[...]
        while let c = chars.first {
            if chars.hasPrefix("{{") {
                literal += "{"
                chars = chars.dropFirst(2)
            } else if chars.hasPrefix("}}") {
                literal += "}"
                chars = chars.dropFirst(2)
            } else if c == "{" {
                guard let close = chars.firstIndex(of: "}") else {
                    report(node, "unclosed '{' in format")
                    return nil
                }
                let pathText = String(chars[chars.index(after: chars.startIndex)..<close]).trimmingSpaces
                guard let path = compilePath(pathText, node: node) else { return nil }
                if !literal.isEmpty { pieces.append(.literal(literal)) }
                literal = ""
                pieces.append(.path(path))
                chars = chars[chars.index(after: close)...]
            } else if c == "}" {
                report(node, "unmatched '}' in format (write }} for a brace)")
                return nil
            } else {
                literal.append(c)
                chars = chars.dropFirst()
            }
        }
        if !literal.isEmpty { pieces.append(.literal(literal)) }
        return pieces
    }

    // MARK: conditions

    mutating func compileCondition(_ node: Node) -> Condition? {
        let items = entries(node, allowed: ["exists", "path", "equals", "in", "matches", "all", "any", "not"], what: "a condition")
        let lookup = Dictionary(items.map { ($0.key, $0) }, uniquingKeysWith: { a, _ in a })
        let keys = Set(lookup.keys)
        func list(_ value: Node) -> [Condition]? {
            guard let sequence = value.sequence else {
                report(value, "expected a list of conditions")
                return nil
            }
            let compiled = sequence.compactMap { compileCondition($0) }
            return compiled.count == sequence.count ? compiled : nil
        }
        if keys == ["exists"], let entry = lookup["exists"] {
            guard let text = string(entry.value, "exists"), let path = compilePath(text, node: entry.value) else { return nil }
            return .exists(path)
        }
        if keys == ["all"], let entry = lookup["all"] { return list(entry.value).map(Condition.all) }
        if keys == ["any"], let entry = lookup["any"] { return list(entry.value).map(Condition.any) }
        if keys == ["not"], let entry = lookup["not"] { return compileCondition(entry.value).map(Condition.not) }
        if let pathEntry = lookup["path"], keys.count == 2 {
            guard let text = string(pathEntry.value, "path"), let path = compilePath(text, node: pathEntry.value) else { return nil }
            if let entry = lookup["equals"] {
                guard let expected = YAMLSupport.json(entry.value).scalarText ?? string(entry.value, "equals") else { return nil }
                return .equals(path, expected)
            }
            if let entry = lookup["in"] {
                guard let sequence = entry.value.sequence else {
                    report(entry.value, "in needs a list")
                    return nil
                }
                return .oneOf(path, Set(sequence.compactMap { $0.scalar?.string }))
            }
            if let entry = lookup["matches"], let pattern = string(entry.value, "matches") {
                do { return .matches(path, try CompiledRegex(pattern)) } catch {
                    report(entry.value, "invalid regular expression")
                    return nil
                }
            }
        }
        if !items.isEmpty || node.mapping != nil {
            report(node, "a condition is one of {exists: P}, {path: P, equals|in|matches: …}, {all: […]}, {any: […]}, {not: …}")
        }
        return nil
    }
}
