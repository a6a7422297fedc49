import MedBusCore
import MedBusHL7

/// A json target of an hl7v2 mapping, compiled into a plan that writes each record's bytes straight from
/// the message's bytes.
///
/// Why: evaluating rules into a `JSONValue` tree, validating the tree and then writing it cost a String
/// per value, a tree per record and the retains of both: about 40 µs a message against 3 µs for the
/// parse. A plan copies a value's bytes from the message (or from a code table) into the record,
/// JSON-escaped, and checks the schema as it writes. What the schema says about each field is resolved
/// when the plan is built, and what can be proven then is not checked per record: a code table whose
/// every target the field's enum accepts, a `type: date` value under `format: date`, a constant or a
/// `default`.
///
/// A rule does not navigate the message: every path it reads is a slot of the mapping's `HL7Layout`,
/// filled for all targets by one scan of each field read (per `each` element for the paths an `each`
/// captures), so a value is an index into the slot table and its bytes go from there into the record.
///
/// Rules are plain values (integers, flags, ranges into the plan's flat arrays) so that reading one
/// retains nothing; what has references (strings, tables, conditions) sits in side arrays read only
/// when a rule needs it. The plan is a class so that a record's writer holds it with one retain, not one
/// per array; the rules and what every record reads are plain memory it owns.
///
/// The plan only decides whether a record is valid. For an invalid one (rare: an error path) the
/// reference path, `Evaluator` and `JSONSchemaValidator` on a `JSONValue` tree, runs again to name the
/// first violation exactly as it always has; it also maps json and hl7v3 sources and hl7v2 targets. A
/// target using something the plan does not compile (`code` or `type` on an object or array, a schema
/// `enum`/`const` on an object or array, more than 64 fields in one object) keeps the reference path.
final class HL7JSONPlan: @unchecked Sendable {  // its memory is written once, in `init`
    /// The scope of the target's `each` (its records), or the root's (one record).
    let scope: Int
    let when: HL7Condition?
    let key: Int?
    let body: Int
    /// Flat storage the rules refer to by index or range. The rules and what every record reads
    /// (slots, members, member keys) are plain memory: reading a rule out of an array copied the whole
    /// rule and retained the array, per rule and record.
    let rules: UnsafeMutablePointer<Rule>
    let slots: UnsafeMutablePointer<Int>
    let members: UnsafeMutablePointer<Int>
    let memberKeys: UnsafeMutablePointer<UInt8>
    let pieces: [Piece]
    let literals: [UInt8]
    let headerNames: [String]
    let constants: [Constant]
    let failures: [MappingFailure]
    let conditions: [HL7Condition]
    let tables: [CodeTableIndex]
    /// Per rule with a code table and no `type`: whether the schema accepts each entry's target.
    let tableTargets: [[Bool]]
    /// The compiled rules, for the names and messages of errors.
    let references: [ValueRule]
    let schema: JSONSchemaValidator?
    let time: TimeConversion

    /// A code table with its byte-keyed entries.
    struct CodeTableIndex: Sendable {
        let table: CodeTable
        let bytes: ByteCodeTable
    }

    /// One value rule. Objects and `each` refer to their members and item by index.
    struct Rule: Sendable {
        var source: Source
        var when: Int?
        /// `"name":` (a range of `memberKeys`) for an object's member; empty otherwise.
        var memberKey: Range<Int>
        var table: Int?
        /// `default`, rendered (an index into `constants`).
        var fallback: Int?
        var reference: Int
        var trim: Bool
        var textCase: TextCase?
        var type: ValueType?
        var required: Bool
        var check: ValueCheck
        /// A path (or paths) with no case, code or type: its text can go from the message to the record
        /// without passing through `scratch`.
        var direct: Bool
    }

    enum Source: Sendable {
        /// `path` and `paths`: a range of `slots` (indexes of the mapping's `HL7Layout` slots).
        case paths(Range<Int>)
        /// A range of `pieces`.
        case format(Range<Int>)
        case header(Int)
        case index
        /// What the constant gives once the rule's modifiers applied (`constants`), or the failure they
        /// raise (`failures`); neither: no value.
        case constant(Int?, failure: Int?)
        /// A range of `members`.
        case object(Range<Int>)
        /// `scope`: the `HL7Layout` scope of its elements.
        case each(scope: Int, item: Int)
    }

    enum Piece: Sendable {
        /// A range of `literals`.
        case literal(Range<Int>)
        /// A slot of the layout.
        case path(Int)
    }

    /// A value known when the plan is built.
    struct Constant: Sendable {
        /// The JSON text.
        let json: [UInt8]
        /// For a record key.
        let scalarText: String?
        /// Whether the schema accepts it where the rule writes it.
        let valid: Bool
    }

    /// What the schema requires of a rule's value.
    struct ValueCheck: Sendable {
        /// The schema node the value is checked against; nil: nothing to check.
        var node: Int?
        /// A member that its object's schema does not allow: any value is a violation.
        var forbidden = false
        var string = StringCheck.accept
        /// An index into `tableTargets`.
        var tableTargets: Int?
        var objectAllowed = true
        var arrayAllowed = true
        /// Objects: members (by position) the schema requires; `requiredElsewhere`: it requires a name no
        /// member writes.
        var requiredMembers: UInt64 = 0
        var requiredElsewhere = false
        var minItems = 0
    }

    /// A text value's check, decided when the plan is built as far as it can be.
    enum StringCheck: Sendable {
        case accept, reject
        /// `minLength: 1` alone.
        case nonEmpty
        /// Through `JSONSchemaValidator` (enum, pattern, lengths, a format the rule's type does not prove).
        case full
        /// A `pattern` that `CompiledRegex` matches on bytes (`minLength` at most 1); when the bytes do not
        /// certainly match, as `full`.
        case pattern
    }

    typealias Unsupported = HL7Layout.Unsupported

    /// Compiles the target, its reads into `layout` (the mapping's, shared by its targets).
    init(target: Target, time: TimeConversion, layout: inout HL7Layout.Builder) throws(Unsupported) {
        var builder = Builder(schema: target.schema, time: time, layout: layout)
        if let each = target.each { (scope, builder.frame) = try builder.layout.scope(each, in: .root) } else { scope = 0 }
        when = target.when.map { HL7Condition($0, &builder.layout, builder.frame) }
        key = try target.key.map { rule throws(Unsupported) in try builder.add(rule, name: nil, check: ValueCheck()) }
        body = try builder.addBody(target.body)
        layout = builder.layout
        rules = Self.allocate(builder.rules)
        slots = Self.allocate(builder.slots)
        members = Self.allocate(builder.members)
        memberKeys = Self.allocate(builder.memberKeys)
        pieces = builder.pieces
        literals = builder.literals
        headerNames = builder.headerNames
        constants = builder.constants
        failures = builder.failures
        conditions = builder.conditions
        tables = builder.tables
        tableTargets = builder.tableTargets
        references = builder.references
        schema = target.schema
        self.time = time
    }

    deinit {
        rules.deallocate()
        slots.deallocate()
        members.deallocate()
        memberKeys.deallocate()
    }

    /// Plain values (no references: nothing to deinitialize) in memory of their own.
    static func allocate<T>(_ values: [T]) -> UnsafeMutablePointer<T> {
        let memory = UnsafeMutablePointer<T>.allocate(capacity: max(values.count, 1))
        memory.initialize(from: values, count: values.count)
        return memory
    }

    // MARK: building

    private struct Builder {
        let schema: JSONSchemaValidator?
        let time: TimeConversion
        var layout: HL7Layout.Builder
        /// What the enclosing `each` selectors iterate where rules are being added.
        var frame = HL7Layout.Frame.root
        var rules: [Rule] = []
        var slots: [Int] = []
        var pieces: [Piece] = []
        var literals: [UInt8] = []
        var memberKeys: [UInt8] = []
        var members: [Int] = []
        var headerNames: [String] = []
        var constants: [Constant] = []
        var failures: [MappingFailure] = []
        var conditions: [HL7Condition] = []
        var tables: [CodeTableIndex] = []
        var tableTargets: [[Bool]] = []
        var references: [ValueRule] = []

        init(schema: JSONSchemaValidator?, time: TimeConversion, layout: HL7Layout.Builder) {
            self.schema = schema
            self.time = time
            self.layout = layout
        }

        /// The body: an object rule at the schema's root, written even when empty.
        mutating func addBody(_ fields: [RuleField]) throws(Unsupported) -> Int {
            let rule = ValueRule(
                name: "", source: .object(fields), type: nil, code: nil, defaultValue: nil, required: false, when: nil, textCase: nil,
                trim: true)
            return try add(rule, name: nil, check: try check(node: schema == nil ? nil : 0, for: rule))
        }

        /// Adds a rule (and what it contains); `name` is its member name inside an object.
        mutating func add(_ rule: ValueRule, name: String?, check: ValueCheck) throws(Unsupported) -> Int {
            var check = check
            let source: Source
            switch rule.source {
            case .path(let path): source = .paths(try slots([path]))
            case .paths(let paths): source = .paths(try slots(paths))
            case .format(let parts):
                var compiled: [Piece] = []
                for part in parts {
                    switch part {
                    case .literal(let text):
                        let start = literals.count
                        literals.append(contentsOf: text.utf8)
                        compiled.append(.literal(start..<literals.count))
                    case .path(let path):
                        compiled.append(.path(slots[try slots([path]).lowerBound]))
                    }
                }
                source = .format(pieces.count..<(pieces.count + compiled.count))
                pieces.append(contentsOf: compiled)
            case .header(let name):
                headerNames.append(name)
                source = .header(headerNames.count - 1)
            case .index:
                source = .index
            case .const(let value):
                do throws(MappingFailure) {
                    if let adjusted = try Evaluator(time: time).adjust(value, rule) {
                        constants.append(constant(adjusted, check))
                        source = .constant(constants.count - 1, failure: nil)
                    } else {
                        source = .constant(nil, failure: nil)
                    }
                } catch {
                    failures.append(error)
                    source = .constant(nil, failure: failures.count - 1)
                }
            case .object(let fields):
                guard rule.code == nil, rule.type == nil, fields.count <= 64 else { throw Unsupported() }
                var added: [Int] = []
                for (position, field) in fields.enumerated() {
                    var memberCheck = ValueCheck()
                    if let schema, let node = check.node {
                        let object = schema.resolve(node)
                        if let property = object.property(field.name) {
                            memberCheck = try self.check(node: property, for: field.rule)
                        } else {
                            memberCheck.forbidden = !object.additionalProperties
                        }
                        if object.required.contains(field.name) { check.requiredMembers |= 1 << UInt64(position) }
                    }
                    added.append(try add(field.rule, name: field.name, check: memberCheck))
                }
                if let schema, let node = check.node {
                    check.requiredElsewhere = schema.resolve(node).required.contains { name in !fields.contains { $0.name == name } }
                }
                source = .object(members.count..<(members.count + added.count))
                members.append(contentsOf: added)
            case .each(let selector, let item):
                guard rule.code == nil, rule.type == nil else { throw Unsupported() }
                let itemNode = check.node.flatMap { schema?.resolve($0).items }
                let outer = frame
                let scope: Int
                (scope, frame) = try layout.scope(selector, in: outer)
                let itemRule = try add(item, name: nil, check: try self.check(node: itemNode, for: item))
                frame = outer
                source = .each(scope: scope, item: itemRule)
            }
            var table: Int?
            if let code = rule.code {
                let index = tables.firstIndex { $0.table.name == code.name } ?? tables.count
                if index == tables.count { tables.append(CodeTableIndex(table: code, bytes: code.byBytes)) }
                table = index
                if rule.type == nil, let schema, let node = check.node {
                    tableTargets.append(tables[index].bytes.targets.map { schema.accepts(.string($0), node: node) })
                    check.tableTargets = tableTargets.count - 1
                }
            }
            var fallback: Int?
            if let value = rule.defaultValue {
                constants.append(constant(value, check))
                fallback = constants.count - 1
            }
            var when: Int?
            if let condition = rule.when {
                conditions.append(HL7Condition(condition, &layout, frame))
                when = conditions.count - 1
            }
            let keyStart = memberKeys.count
            if let name {
                JSONWriter.writeString(name, into: &memberKeys)
                memberKeys.append(UInt8(ascii: ":"))
            }
            references.append(rule)
            rules.append(
                Rule(
                    source: source, when: when, memberKey: keyStart..<memberKeys.count, table: table, fallback: fallback,
                    reference: references.count - 1, trim: rule.trim, textCase: rule.textCase, type: rule.type, required: rule.required,
                    check: check, direct: rule.textCase == nil && rule.code == nil && rule.type == nil && { if case .paths = source { true } else { false } }()))
            return rules.count - 1
        }

        /// The paths' slots, appended to `slots`.
        mutating func slots(_ paths: [SourcePath]) throws(Unsupported) -> Range<Int> {
            let start = slots.count
            for path in paths {
                guard case .hl7v2(let address) = path else { throw Unsupported() }
                slots.append(layout.slot(address, in: frame))
            }
            return start..<slots.count
        }

        /// What the schema node at `index` requires of the value `rule` gives.
        func check(node index: Int?, for rule: ValueRule) throws(Unsupported) -> ValueCheck {
            var check = ValueCheck(node: index)
            guard let schema, let index else { return check }
            let node = schema.resolve(index)
            switch rule.source {
            case .object, .each:
                guard node.enumValues == nil, node.constValue == nil else { throw Unsupported() }
            default: break
            }
            let kinds = node.typeMask ?? .max
            check.objectAllowed = kinds & JSONSchemaValidator.JSONKind.object != 0
            check.arrayAllowed = kinds & JSONSchemaValidator.JSONKind.array != 0
            check.minItems = node.minItems ?? 0
            let provenFormat = (rule.type == .date && node.format == "date") || (rule.type == .datetime && node.format == "date-time")
            if kinds & JSONSchemaValidator.JSONKind.string == 0 {
                check.string = .reject
            } else if node.enumValues != nil || node.constValue != nil || node.maxLength != nil || (node.minLength ?? 0) > 1
                || (node.format != nil && !provenFormat)
            {
                check.string = .full
            } else if node.pattern?.simple != nil {
                check.string = .pattern
            } else if node.pattern != nil {
                check.string = .full
            } else if (node.minLength ?? 0) == 1 {
                check.string = .nonEmpty
            }
            return check
        }

        func constant(_ value: JSONValue, _ check: ValueCheck) -> Constant {
            let valid = !check.forbidden && (check.node.map { schema?.accepts(value, node: $0) ?? true } ?? true)
            return Constant(json: JSONWriter.compact(value), scalarText: value.scalarText, valid: valid)
        }
    }

    // MARK: records

    /// Where a record (or an `each` element) reads: the cursor, and its 1-based position in the
    /// innermost `each`.
    struct Position {
        var cursor = HL7Cursor()
        var index: Int?
    }

    enum Written {
        case record(key: String?, value: [UInt8])
        /// The record breaks its schema: the reference path names the violation.
        case schemaViolation
    }

    /// Writes the target's records, one per element of its `each` (else one) where its `when` holds,
    /// from the message's slots (`table`, its root filled).
    func records(
        _ table: HL7Table, headers: [String: String], _ emit: (Position, Written) throws(MappingFailure) -> Void
    ) throws(MappingFailure) {
        let writer = Writer(plan: self, table: table, headers: headers)
        var output = Writer.Output()
        defer { output.out.deallocate() }
        func record(_ position: Position) throws(MappingFailure) {
            if let when, !when.holds(table, position.cursor) { return }
            output.reset()
            let key = try self.key.flatMap { rule throws(MappingFailure) in try writer.keyText(&output, rule, position) }
            try writer.writeBody(&output, body, position)
            try emit(position, output.valid ? .record(key: key, value: output.out.array) : .schemaViolation)
        }
        guard scope != 0 else { return try record(Position()) }
        try table.forEach(scope, from: HL7Cursor()) { cursor, index throws(MappingFailure) in try record(Position(cursor: cursor, index: index)) }
    }
}

/// Writes one record of a plan: values go from the message into `scratch`, are adjusted there (trim,
/// case, code, type) and are then escaped into `out`.
///
/// The writer itself never changes (what changes is the `Output` passed along), so the plan's arrays are
/// read in place. A class: the closures that iterate `each` elements capture it with one retain, not
/// one per reference it holds.
private final class Writer {
    let plan: HL7JSONPlan
    let table: HL7Table
    let headers: [String: String]

    init(plan: HL7JSONPlan, table: HL7Table, headers: [String: String]) {
        self.plan = plan
        self.table = table
        self.headers = headers
    }

    struct Output {
        var out = RecordBytes(capacity: 2048)
        var scratch: [UInt8] = []
        /// Whether everything written so far satisfies the schema.
        var valid = true

        init() {
            scratch.reserveCapacity(64)
        }

        /// Ready for the next record of the same target.
        mutating func reset() {
            out.truncate(to: 0)
            valid = true
        }
    }

    enum Kind { case string, number, bool }

    /// What a scalar rule gave: text in `scratch`, or a constant.
    enum Produced {
        case none
        /// `entry`: the code table entry the text is the target of, when no `type` converted it.
        case text(Kind, entry: Int?)
        case constant(Int)
    }

    func keyText(_ o: inout Output, _ index: Int, _ position: HL7JSONPlan.Position) throws(MappingFailure) -> String? {
        let rule = UnsafePointer(plan.rules + index)
        switch try produce(&o, rule, position) {
        case .text: return String(decoding: o.scratch, as: UTF8.self)
        case .constant(let constant): return plan.constants[constant].scalarText
        case .none:
            if let fallback = rule.pointee.fallback { return plan.constants[fallback].scalarText }
            if rule.pointee.required { throw Evaluator.missingRequired(plan.references[rule.pointee.reference]) }
            return nil
        }
    }

    /// The body: an object even when no member has a value.
    func writeBody(_ o: inout Output, _ index: Int, _ position: HL7JSONPlan.Position) throws(MappingFailure) {
        o.out.append(UInt8(ascii: "{"))
        _ = try members(&o, plan.rules + index, position)
        o.out.append(UInt8(ascii: "}"))
    }

    /// Writes the rule's member key and value, or nothing when it has no value.
    func member(_ o: inout Output, _ index: Int, _ position: HL7JSONPlan.Position) throws(MappingFailure) -> Bool {
        let rule = UnsafePointer(plan.rules + index)
        if rule.pointee.when == nil || plan.conditions[rule.pointee.when!].holds(table, position.cursor) {
            switch rule.pointee.source {
            case .object:
                let mark = o.out.count
                appendKey(&o, rule)
                o.out.append(UInt8(ascii: "{"))
                if try members(&o, rule, position) {
                    o.out.append(UInt8(ascii: "}"))
                    return true
                }
                o.out.truncate(to: mark)
            case .each(let scope, let item):
                let mark = o.out.count
                appendKey(&o, rule)
                if try elements(&o, rule, scope, item, position) { return true }
                o.out.truncate(to: mark)
            default:
                if rule.pointee.direct, let wrote = direct(&o, rule, position) {
                    if wrote { return true }
                    break
                }
                switch try produce(&o, rule, position) {
                case .none: break
                case .text(let kind, let entry):
                    appendKey(&o, rule)
                    emit(&o, kind, entry: entry, rule.pointee.check)
                    return true
                case .constant(let constant):
                    appendKey(&o, rule)
                    o.out.append(plan.constants[constant].json)
                    o.valid = o.valid && plan.constants[constant].valid
                    return true
                }
            }
        }
        if let fallback = rule.pointee.fallback {
            appendKey(&o, rule)
            o.out.append(plan.constants[fallback].json)
            o.valid = o.valid && plan.constants[fallback].valid
            return true
        }
        if rule.pointee.required { throw Evaluator.missingRequired(plan.references[rule.pointee.reference]) }
        return false
    }

    private func appendKey(_ o: inout Output, _ rule: UnsafePointer<HL7JSONPlan.Rule>) {
        guard !rule.pointee.memberKey.isEmpty else { return }
        o.out.append(UnsafeBufferPointer(start: plan.memberKeys + rule.pointee.memberKey.lowerBound, count: rule.pointee.memberKey.count))
    }

    /// An object's members after its `{`; false (nothing closed) when none has a value.
    private func members(_ o: inout Output, _ rule: UnsafePointer<HL7JSONPlan.Rule>, _ position: HL7JSONPlan.Position) throws(MappingFailure) -> Bool {
        guard case .object(let range) = rule.pointee.source else { return false }
        var written: UInt64 = 0
        for i in range {
            let mark = o.out.count
            if written != 0 { o.out.append(UInt8(ascii: ",")) }
            if try member(&o, plan.members[i], position) { written |= 1 << UInt64(i - range.lowerBound) } else { o.out.truncate(to: mark) }
        }
        let check = rule.pointee.check
        o.valid = o.valid && !check.forbidden && check.objectAllowed && !check.requiredElsewhere
            && written & check.requiredMembers == check.requiredMembers
        return written != 0
    }

    private func elements(
        _ o: inout Output, _ rule: UnsafePointer<HL7JSONPlan.Rule>, _ scope: Int, _ item: Int, _ position: HL7JSONPlan.Position
    ) throws(MappingFailure) -> Bool {
        o.out.append(UInt8(ascii: "["))
        var count = 0
        try table.forEach(scope, from: position.cursor) { cursor, index throws(MappingFailure) in
            let mark = o.out.count
            if count > 0 { o.out.append(UInt8(ascii: ",")) }
            if try member(&o, item, HL7JSONPlan.Position(cursor: cursor, index: index)) { count += 1 } else { o.out.truncate(to: mark) }
        }
        guard count > 0 else { return false }
        o.out.append(UInt8(ascii: "]"))
        let check = rule.pointee.check
        o.valid = o.valid && !check.forbidden && check.arrayAllowed && count >= check.minItems
        return true
    }

    // MARK: scalars

    /// A `direct` rule's value, escaped from the message's bytes into `out` after its key: true when
    /// written, false when it has none, nil when its text has escapes (then `produce` decodes it).
    private func direct(_ o: inout Output, _ rule: UnsafePointer<HL7JSONPlan.Rule>, _ position: HL7JSONPlan.Position) -> Bool? {
        guard case .paths(let range) = rule.pointee.source else { return nil }
        for i in range {
            let leaf = table[plan.slots[i]]
            switch leaf.state {
            case .none: continue
            case .escaped: return nil
            case .bytes:
                let text = UnsafeBufferPointer(rebasing: table.bytes[leaf.start..<leaf.end])
                let value = rule.pointee.trim ? UnsafeBufferPointer(rebasing: text[ByteText.trimmed(text)]) : text
                guard !value.isEmpty else { return false }
                o.valid = o.valid && accepts(value, .string, entry: nil, rule.pointee.check)
                appendKey(&o, rule)
                o.out.append(UInt8(ascii: "\""))
                o.out.appendEscaped(value)
                o.out.append(UInt8(ascii: "\""))
                return true
            }
        }
        return false
    }

    /// A scalar rule's source and modifiers (not `when`, `default`, `required`).
    private func produce(_ o: inout Output, _ rule: UnsafePointer<HL7JSONPlan.Rule>, _ position: HL7JSONPlan.Position) throws(MappingFailure) -> Produced {
        o.scratch.removeAll(keepingCapacity: true)
        var kind = Kind.string
        switch rule.pointee.source {
        case .paths(let range):
            guard range.contains(where: { read(&o, plan.slots[$0], position.cursor) }) else { return .none }
        case .format(let range):
            var any = false
            for piece in plan.pieces[range] {
                switch piece {
                case .literal(let bytes): o.scratch.append(contentsOf: plan.literals[bytes])
                case .path(let address):
                    let start = o.scratch.count
                    guard read(&o, address, position.cursor) else { continue }
                    trim(&o, from: start)
                    if o.scratch.count > start { any = true }
                }
            }
            guard any else { return .none }
        case .header(let name):
            guard let value = headers[plan.headerNames[name]] else { return .none }
            o.scratch.append(contentsOf: value.utf8)
        case .index:
            guard let index = position.index else { return .none }
            o.scratch.append(contentsOf: String(index).utf8)
            kind = .number
        case .constant(let constant, let failure):
            if let failure { throw plan.failures[failure] }
            return constant.map(Produced.constant) ?? .none
        case .object, .each:
            return .none
        }
        if kind == .string {
            if rule.pointee.trim { trim(&o, from: 0) }
            if let textCase = rule.pointee.textCase { changeCase(&o, textCase) }
            if o.scratch.isEmpty { return .none }
        }
        var entry: Int?
        if let table = rule.pointee.table {
            entry = try translate(&o, table, rule)
            kind = .string
        }
        if let type = rule.pointee.type {
            kind = try convert(&o, to: type, from: kind, rule)
            entry = nil
        }
        return .text(kind, entry: entry)
    }

    /// Appends the text of `slot` to `scratch`; false when it has none.
    private func read(_ o: inout Output, _ slot: Int, _ cursor: HL7Cursor) -> Bool {
        switch table.text(slot, cursor) {
        case .none: return false
        case .bytes(let range): o.scratch.append(contentsOf: UnsafeBufferPointer(rebasing: table.bytes[range]))
        case .decoded(let bytes): o.scratch.append(contentsOf: bytes)
        }
        return true
    }

    /// Trims white space (as `trimmingSpaces`) off `scratch[start...]`.
    private func trim(_ o: inout Output, from start: Int) {
        let kept = o.scratch.withUnsafeBufferPointer { ByteText.trimmed(UnsafeBufferPointer(rebasing: $0[start...])) }
        if kept.upperBound + start < o.scratch.count { o.scratch.removeSubrange((kept.upperBound + start)...) }
        if kept.lowerBound > 0 { o.scratch.removeSubrange(start..<(start + kept.lowerBound)) }
    }

    private func changeCase(_ o: inout Output, _ textCase: TextCase) {
        if o.scratch.allSatisfy({ $0 < 0x80 }) {
            let (from, to): (UInt8, UInt8) = textCase == .upper ? (0x61, 0x7A) : (0x41, 0x5A)
            for i in o.scratch.indices where o.scratch[i] >= from && o.scratch[i] <= to { o.scratch[i] ^= 0x20 }
        } else {
            let text = String(decoding: o.scratch, as: UTF8.self)
            replaceScratch(&o, with: (textCase == .upper ? text.uppercased() : text.lowercased()).utf8)
        }
    }

    /// Replaces the code in `scratch` by its target; the entry, when the target is a table entry's.
    private func translate(_ o: inout Output, _ table: Int, _ rule: UnsafePointer<HL7JSONPlan.Rule>) throws(MappingFailure) -> Int? {
        if case .entry(let entry) = o.scratch.withUnsafeBufferPointer({ plan.tables[table].bytes.lookup($0) }) {
            replaceScratch(&o, with: plan.tables[table].bytes.targetBytes[entry])
            return entry
        }
        // Missing (the policy decides) or not decidable on bytes.
        let code = String(decoding: o.scratch, as: UTF8.self)
        guard let target = plan.tables[table].table.translate(code) else {
            throw Evaluator.missingCode(code, plan.tables[table].table, plan.references[rule.pointee.reference])
        }
        replaceScratch(&o, with: target.utf8)
        return nil
    }

    /// Converts `scratch` to `type`: dates on the bytes, the rest as `ValueConversion` does.
    private func convert(_ o: inout Output, to type: ValueType, from kind: Kind, _ rule: UnsafePointer<HL7JSONPlan.Rule>) throws(MappingFailure) -> Kind {
        switch type {
        case .date, .datetime:
            guard let fields = o.scratch.withUnsafeBufferPointer({ TimeConversion.parse(bytes: $0) }) else {
                throw Evaluator.typeFailure(type, plan.references[rule.pointee.reference])
            }
            o.scratch.removeAll(keepingCapacity: true)
            if type == .date { TimeConversion.appendDate(fields, to: &o.scratch) } else { plan.time.appendRFC3339(fields, to: &o.scratch) }
            return .string
        default:
            if type == .decimal, let plain = o.scratch.withUnsafeBufferPointer({ DecimalText.normalizedPlain($0) }) {
                replaceScratch(&o, with: plain)
                return .number
            }
            let text = String(decoding: o.scratch, as: UTF8.self)
            switch ValueConversion.convert(kind == .number ? .number(text) : .string(text), to: type, time: plan.time) {
            case .string(let converted)?:
                replaceScratch(&o, with: converted.utf8)
                return .string
            case .number(let converted)?:
                replaceScratch(&o, with: converted.utf8)
                return .number
            case .bool(let converted)?:
                replaceScratch(&o, with: (converted ? "true" : "false").utf8)
                return .bool
            default:
                throw Evaluator.typeFailure(type, plan.references[rule.pointee.reference])
            }
        }
    }

    /// Keeps `scratch`'s own buffer (assigning another array to it would share that one, and the next
    /// write would copy it).
    private func replaceScratch(_ o: inout Output, with bytes: some Sequence<UInt8>) {
        o.scratch.removeAll(keepingCapacity: true)
        o.scratch.append(contentsOf: bytes)
    }

    /// Writes `scratch` as a JSON value of `kind` after checking it against the schema.
    private func emit(_ o: inout Output, _ kind: Kind, entry: Int?, _ check: HL7JSONPlan.ValueCheck) {
        o.valid = o.valid && o.scratch.withUnsafeBufferPointer { accepts($0, kind, entry: entry, check) }
        switch kind {
        case .string:
            o.out.append(UInt8(ascii: "\""))
            o.scratch.withUnsafeBufferPointer { o.out.appendEscaped($0) }
            o.out.append(UInt8(ascii: "\""))
        case .number, .bool:
            o.out.append(o.scratch)
        }
    }

    private func accepts(_ value: UnsafeBufferPointer<UInt8>, _ kind: Kind, entry: Int?, _ check: HL7JSONPlan.ValueCheck) -> Bool {
        if check.forbidden { return false }
        guard let node = check.node, let schema = plan.schema else { return true }
        switch kind {
        case .string:
            if let entry, let targets = check.tableTargets { return plan.tableTargets[targets][entry] }
            switch check.string {
            case .accept: return true
            case .reject: return false
            case .nonEmpty: return !value.isEmpty
            case .full: return schema.accepts(.string(String(decoding: value, as: UTF8.self)), node: node)
            case .pattern:
                if !value.isEmpty, schema.resolve(node).pattern!.certainlyMatchesWhole(value) { return true }
                return schema.accepts(.string(String(decoding: value, as: UTF8.self)), node: node)
            }
        case .number: return schema.accepts(.number(String(decoding: value, as: UTF8.self)), node: node)
        case .bool: return schema.accepts(.bool(value.first == UInt8(ascii: "t")), node: node)
        }
    }
}

/// A condition of an hl7v2 mapping, its paths compiled into slots of the mapping's `HL7Layout`.
indirect enum HL7Condition: Sendable {
    case exists(Int)
    case equals(Int, Expected)
    case oneOf(Int, [Expected], Set<String>)
    case matches(Int, CompiledRegex)
    case all([HL7Condition])
    case any([HL7Condition])
    case not(HL7Condition)

    struct Expected: Sendable {
        let text: String
        /// nil when the text is not ASCII.
        let ascii: [UInt8]?

        init(_ text: String) {
            self.text = text
            ascii = text.utf8.allSatisfy { $0 < 0x80 } ? Array(text.utf8) : nil
        }
    }

    /// A condition of an hl7v2 mapping (whose paths are all hl7v2 paths), read in `frame`.
    init(_ condition: Condition, _ layout: inout HL7Layout.Builder, _ frame: HL7Layout.Frame) {
        func slot(_ path: SourcePath) -> Int {
            guard case .hl7v2(let address) = path else { preconditionFailure("an hl7v2 mapping has hl7v2 paths") }
            return layout.slot(address, in: frame)
        }
        switch condition {
        case .exists(let path): self = .exists(slot(path))
        case .equals(let path, let expected): self = .equals(slot(path), Expected(expected))
        case .oneOf(let path, let expected): self = .oneOf(slot(path), expected.sorted().map(Expected.init), expected)
        case .matches(let path, let regex): self = .matches(slot(path), regex)
        case .all(let conditions): self = .all(conditions.map { HL7Condition($0, &layout, frame) })
        case .any(let conditions): self = .any(conditions.map { HL7Condition($0, &layout, frame) })
        case .not(let inner): self = .not(HL7Condition(inner, &layout, frame))
        }
    }

    func holds(_ table: HL7Table, _ cursor: HL7Cursor) -> Bool {
        switch self {
        case .exists(let slot):
            return Self.withText(slot, table, cursor) { $0 != nil }
        case .equals(let slot, let expected):
            return Self.withText(slot, table, cursor) { text in
                guard let text else { return false }
                if let ascii = expected.ascii, text.allSatisfy({ $0 < 0x80 }) { return text.elementsEqual(ascii) }
                return String(decoding: text, as: UTF8.self) == expected.text
            }
        case .oneOf(let slot, let expected, let set):
            return Self.withText(slot, table, cursor) { text in
                guard let text else { return false }
                if text.allSatisfy({ $0 < 0x80 }) && expected.allSatisfy({ $0.ascii != nil }) {
                    return expected.contains { text.elementsEqual($0.ascii!) }
                }
                return set.contains(String(decoding: text, as: UTF8.self))
            }
        case .matches(let slot, let regex):
            return Self.withText(slot, table, cursor) { text in text.map { regex.matchesWhole(String(decoding: $0, as: UTF8.self)) } ?? false }
        case .all(let conditions): return conditions.allSatisfy { $0.holds(table, cursor) }
        case .any(let conditions): return conditions.contains { $0.holds(table, cursor) }
        case .not(let inner): return !inner.holds(table, cursor)
        }
    }

    /// The trimmed text of `slot` (nil when it has none) to `body`.
    private static func withText(_ slot: Int, _ table: HL7Table, _ cursor: HL7Cursor, _ body: (UnsafeBufferPointer<UInt8>?) -> Bool) -> Bool {
        func trimmed(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
            let kept = ByteText.trimmed(text)
            return body(kept.isEmpty ? nil : UnsafeBufferPointer(rebasing: text[kept]))
        }
        switch table.text(slot, cursor) {
        case .none: return body(nil)
        case .bytes(let range): return trimmed(UnsafeBufferPointer(rebasing: table.bytes[range]))
        case .decoded(let bytes): return bytes.withUnsafeBufferPointer { trimmed($0) }
        }
    }
}

/// Text operations on valid UTF-8 bytes.
enum ByteText {
    /// The range left when white space is trimmed off both ends, as `String.trimmingSpaces` does
    /// (Unicode White_Space scalars), deciding on the end bytes alone when they are printable ASCII.
    static func trimmed(_ text: UnsafeBufferPointer<UInt8>) -> Range<Int> {
        var lower = 0
        var upper = text.count
        guard let first = text.first, let last = text.last else { return 0..<0 }
        if (0x21...0x7F).contains(first) && (0x21...0x7F).contains(last) { return 0..<upper }
        while lower < upper {
            let (scalar, length) = scalar(in: text, at: lower)
            guard scalar.isWhiteSpace else { break }
            lower += length
        }
        while lower < upper {
            var start = upper - 1
            while start > lower, text[start] & 0xC0 == 0x80 { start -= 1 }
            guard scalar(in: text, at: start).0.isWhiteSpace else { break }
            upper = start
        }
        return lower..<upper
    }

    /// The scalar starting at `i` and its length in bytes.
    private static func scalar(in text: UnsafeBufferPointer<UInt8>, at i: Int) -> (Unicode.Scalar, Int) {
        let lead = text[i]
        if lead < 0x80 { return (Unicode.Scalar(lead), 1) }
        let length = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : 2
        var value = UInt32(lead) & (0xFF >> (length + 1))
        for k in 1..<length where i + k < text.count { value = value << 6 | UInt32(text[i + k] & 0x3F) }
        return (Unicode.Scalar(value) ?? "\u{FFFD}", length)
    }
}
