import Foundation
import MedBusCore
import MedBusHL7

// The compiled form of a mapping file: everything a message needs is resolved here once (paths parsed,
// code tables in dictionaries, regular expressions and schemas compiled), so applying only reads.

enum ValueType: String, Sendable, CaseIterable {
    case string, integer, decimal, money, boolean, date, datetime
}

enum TextCase: String, Sendable { case upper, lower }

/// What an `each` iterates.
enum Selector: Sendable {
    /// hl7v2: every segment with this id (packed as `HL7Source` indexes it).
    case segments(UInt32)
    /// hl7v2: every repetition of a field (of the iterated segment when inside `each` over that segment).
    case repetitions(HL7Address)
    case json(JSONPath)
    case xml(XPath)
}

enum FormatPiece: Sendable {
    case literal(String)
    case path(SourcePath)
}

indirect enum RuleSource: Sendable {
    case path(SourcePath)
    case paths([SourcePath])
    case const(JSONValue)
    case format([FormatPiece])
    case header(String)
    /// `index: true`: the 1-based position in the innermost `each`.
    case index
    case object([RuleField])
    case each(Selector, ValueRule)
}

struct RuleField: Sendable {
    var name: String
    var rule: ValueRule
}

/// One value rule with its modifiers. A class so rules can nest (objects, `each` items) cheaply.
final class ValueRule: Sendable {
    /// `target.field.sub`: what errors name.
    let name: String
    let source: RuleSource
    /// nil: keep the source's own kind (a JSON number stays a number; HL7 and XML give text).
    let type: ValueType?
    let code: CodeTable?
    /// Already converted to `type`.
    let defaultValue: JSONValue?
    let required: Bool
    let when: Condition?
    let textCase: TextCase?
    let trim: Bool

    init(
        name: String, source: RuleSource, type: ValueType?, code: CodeTable?, defaultValue: JSONValue?, required: Bool,
        when: Condition?, textCase: TextCase?, trim: Bool
    ) {
        self.name = name
        self.source = source
        self.type = type
        self.code = code
        self.defaultValue = defaultValue
        self.required = required
        self.when = when
        self.textCase = textCase
        self.trim = trim
    }
}

/// A regular expression compiled once. NSRegularExpression is documented as thread-safe for matching.
final class CompiledRegex: @unchecked Sendable {
    let expression: NSRegularExpression
    let pattern: String

    init(_ pattern: String) throws {
        self.pattern = pattern
        expression = try NSRegularExpression(pattern: pattern)
    }

    /// Whether the pattern matches the whole text.
    func matchesWhole(_ text: String) -> Bool {
        let range = NSRange(text.startIndex..<text.endIndex, in: text)
        guard let match = expression.firstMatch(in: text, options: [.anchored], range: range) else { return false }
        return match.range.location == 0 && match.range.length == range.length
    }

    /// Whether the pattern matches somewhere (JSON Schema `pattern` semantics).
    func matchesSomewhere(_ text: String) -> Bool {
        expression.firstMatch(in: text, options: [], range: NSRange(text.startIndex..<text.endIndex, in: text)) != nil
    }
}

indirect enum Condition: Sendable {
    case exists(SourcePath)
    case equals(SourcePath, String)
    case oneOf(SourcePath, Set<String>)
    case matches(SourcePath, CompiledRegex)
    case all([Condition])
    case any([Condition])
    case not(Condition)
}

enum TargetFormat: String, Sendable { case json, hl7v2 }

struct HL7TargetSpec: Sendable {
    enum Entry: Sendable {
        case field(HL7Path, ValueRule)
        case segments(id: String, selector: Selector, fields: [(HL7Path, ValueRule)])
    }
    /// MSH-9's components, e.g. [ADT, A05, ADT_A05].
    var messageType: [String]
    var version: String
    var processingID: String
    var sendingApplication: ValueRule?
    var sendingFacility: ValueRule?
    var receivingApplication: ValueRule?
    var receivingFacility: ValueRule?
    var entries: [Entry]
}

struct Target: Sendable {
    var name: String
    var format: TargetFormat
    var topic: String
    var key: ValueRule?
    var when: Condition?
    var each: Selector?
    var body: [RuleField]
    var schema: JSONSchemaValidator?
    var hl7: HL7TargetSpec?
}

struct SourceSpec: Sendable {
    var format: SourcePath.Format
    var messageTypes: [Glob]
    var senders: [Glob]
    /// Prefixes of MSH-12; empty = any.
    var versions: [String]
    var typePath: JSONPath?
}
