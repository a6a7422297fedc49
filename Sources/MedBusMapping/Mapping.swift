import Foundation
import MedBusCore
import MedBusHL7

/// A compiled mapping: compile once (at publish or load time), apply to any number of records from any
/// number of threads. Applying never re-parses a path, a table or a schema.
public final class Mapping: Sendable {
    public let name: String
    public let version: Int?
    let source: SourceSpec
    let filter: Condition?
    let targets: [Target]
    let evaluator: Evaluator
    /// hl7v2 mappings: where the filter and the plans read (one slot table per message), the filter
    /// read from the message's bytes, and per target its plan (nil where the reference path writes the
    /// target: hl7v2 targets, and what a plan does not compile).
    let layout: HL7Layout?
    let hl7Filter: HL7Condition?
    let plans: [HL7JSONPlan?]

    init(name: String, version: Int?, source: SourceSpec, filter: Condition?, targets: [Target], timeZone: TimeZone) {
        self.name = name
        self.version = version
        self.source = source
        self.filter = filter
        self.targets = targets
        let time = TimeConversion(timeZone: timeZone)
        self.evaluator = Evaluator(time: time)
        guard source.format == .hl7v2 else {
            layout = nil
            hl7Filter = nil
            plans = targets.map { _ in nil }
            return
        }
        var layout = HL7Layout.Builder()
        hl7Filter = filter.map { HL7Condition($0, &layout, .root) }
        plans = targets.map { target in
            guard target.format == .json else { return nil }
            // A target the plan does not compile leaves no slots behind.
            let before = layout
            do { return try HL7JSONPlan(target: target, time: time, layout: &layout) } catch {
                layout = before
                return nil
            }
        }
        // Nothing reads slots (hl7v2 targets only, no filter): no table per message.
        self.layout = hl7Filter != nil || plans.contains { $0 != nil } ? HL7Layout(layout) : nil
    }

    /// Compiles a bundle; every problem is reported at once, each at its file:line:column.
    public static func compile(_ bundle: MappingBundle, version: Int? = nil) throws(MappingDiagnostics) -> Mapping {
        try MappingCompiler.compile(bundle, version: version)
    }

    public var targetTopics: [String] { targets.map(\.topic) }

    /// Whether this mapping is for a record of this format, type, sender and version.
    func matches(format: SourcePath.Format, messageType: String?, sender: String, version: String?) -> Bool {
        guard format == source.format else { return false }
        if !source.messageTypes.isEmpty {
            guard let messageType, source.messageTypes.contains(where: { $0.matches(messageType) }) else { return false }
        }
        guard source.senders.contains(where: { $0.matches(sender) }) else { return false }
        if !source.versions.isEmpty {
            guard let version, source.versions.contains(where: { version.hasPrefix($0) }) else { return false }
        }
        return true
    }

    enum Applied {
        case records([MappedRecord])
        case filtered
    }

    /// Applies the mapping to a parsed document. Failures carry this mapping's name and version.
    func apply(_ document: SourceDocument, headers: [String: String]) throws(MappingFailure) -> Applied {
        do {
            let context = SourceContext(document: document, headers: headers)
            var table: HL7Table?
            defer { table?.deallocate() }
            if case .hl7v2(let source) = document, let layout {
                table = HL7Table(layout, source)
                if let hl7Filter, !hl7Filter.holds(table!, HL7Cursor()) { return .filtered }
            } else if let filter, !evaluator.holds(filter, context) {
                return .filtered
            }
            var records: [MappedRecord] = []
            // By index: a `Target` copied per message would retain each of its references.
            for index in targets.indices {
                if let table, let plan = plans[index] {
                    try plan.records(table, headers: headers) { position, written throws(MappingFailure) in
                        records.append(try record(index, written, position, context))
                    }
                    continue
                }
                let target = targets[index]
                let contexts = target.each.map { evaluator.iterate($0, context) } ?? [context]
                for (index, occurrence) in contexts.enumerated() {
                    if let when = target.when, !evaluator.holds(when, occurrence) { continue }
                    records.append(try record(target, occurrence, index: index))
                }
            }
            return .records(records)
        } catch {
            var failure = error
            failure.mapping = name
            failure.version = version
            throw failure
        }
    }

    /// A record through the target's plan; one the plan finds invalid goes through the reference path,
    /// which names the violation.
    private func record(
        _ target: Int, _ written: HL7JSONPlan.Written, _ position: HL7JSONPlan.Position, _ context: SourceContext
    ) throws(MappingFailure) -> MappedRecord {
        switch written {
        case .record(let key, let value):
            return MappedRecord(
                mapping: name, version: version, target: targets[target].name, topic: targets[target].topic, key: key, value: value,
                contentType: MappedRecord.jsonContentType)
        case .schemaViolation:
            var context = context
            context.hl7 = position.cursor
            context.index = position.index
            return try record(targets[target], context, index: (position.index ?? 1) - 1)
        }
    }

    private func record(_ target: Target, _ context: SourceContext, index: Int) throws(MappingFailure) -> MappedRecord {
        let key = try target.key.flatMap { rule throws(MappingFailure) in try evaluator.value(rule, context) }?.scalarText
        let value: [UInt8]
        let contentType: String
        switch target.format {
        case .json:
            var members: [(String, JSONValue)] = []
            members.reserveCapacity(target.body.count)
            for field in target.body {
                if let fieldValue = try evaluator.value(field.rule, context) { members.append((field.name, fieldValue)) }
            }
            let object = JSONValue.object(members)
            if let schema = target.schema, let violation = schema.validate(object) {
                throw MappingFailure(
                    reason: .schema, rule: "\(target.name):\(violation.pointer)",
                    message: "output violates schema at \(violation.pointer): \(violation.message)")
            }
            value = JSONWriter.compact(object)
            contentType = MappedRecord.jsonContentType
        case .hl7v2:
            guard let spec = target.hl7 else { throw MappingFailure(reason: .type, rule: target.name, message: "hl7v2 target without message") }
            let writer = HL7TargetWriter(evaluator: evaluator, spec: spec, mapping: name, target: target.name)
            value = try writer.write(context, index: index)
            contentType = MappedRecord.hl7v2ContentType
        }
        return MappedRecord(mapping: name, version: version, target: target.name, topic: target.topic, key: key, value: value, contentType: contentType)
    }
}
