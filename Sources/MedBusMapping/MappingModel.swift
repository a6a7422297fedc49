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

    /// The pattern as a sequence of ASCII classes with counts, when it is that simple and anchored at both
    /// ends (`^[0-9]{6}$`, `^[A-Z][0-9]+$`); nil otherwise.
    let simple: [SimpleAtom]?

    struct SimpleAtom: Sendable {
        /// Bit b set: ASCII byte b is in the class.
        var members: (UInt64, UInt64)
        var min: Int
        var max: Int
    }

    init(_ pattern: String) throws {
        self.pattern = pattern
        expression = try NSRegularExpression(pattern: pattern)
        simple = Self.simpleForm(Array(pattern.utf8))
    }

    /// Whether the whole text certainly matches, decided on bytes: true is certain (a greedy match is a
    /// match); false only means the byte matcher could not tell, and the caller asks `NSRegularExpression`.
    /// Why: a schema `pattern` is checked for every record written, and a String plus an ICU match per
    /// value cost more than the rest of the value's rule.
    func certainlyMatchesWhole(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        guard let simple else { return false }
        var i = 0
        for atom in simple {
            var count = 0
            while count < atom.max, i < text.count, Self.contains(atom.members, text[i]) {
                i += 1
                count += 1
            }
            if count < atom.min { return false }
        }
        return i == text.count
    }

    private static func contains(_ members: (UInt64, UInt64), _ byte: UInt8) -> Bool {
        byte < 64 ? members.0 >> byte & 1 == 1 : byte < 128 ? members.1 >> (byte - 64) & 1 == 1 : false
    }

    /// `^` atoms `$`, each atom a plain ASCII letter or digit, `\d`, or a bracket class of ASCII letters,
    /// digits and ranges of them, with an optional `{n}`, `{m,n}`, `+`, `*` or `?`.
    private static func simpleForm(_ p: [UInt8]) -> [SimpleAtom]? {
        guard p.count >= 2, p.first == UInt8(ascii: "^"), p.last == UInt8(ascii: "$") else { return nil }
        func plain(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        func add(_ members: inout (UInt64, UInt64), _ b: UInt8) { if b < 64 { members.0 |= 1 << b } else { members.1 |= 1 << (b - 64) } }
        var atoms: [SimpleAtom] = []
        var i = 1
        let end = p.count - 1
        while i < end {
            var members: (UInt64, UInt64) = (0, 0)
            if p[i] == UInt8(ascii: "[") {
                i += 1
                while i < end, p[i] != UInt8(ascii: "]") {
                    guard plain(p[i]) else { return nil }
                    if i + 2 < end, p[i + 1] == UInt8(ascii: "-"), plain(p[i + 2]), p[i] <= p[i + 2] {
                        for b in p[i]...p[i + 2] { add(&members, b) }
                        i += 3
                    } else {
                        add(&members, p[i])
                        i += 1
                    }
                }
                guard i < end else { return nil }
                i += 1
            } else if p[i] == UInt8(ascii: "\\"), i + 1 < end, p[i + 1] == UInt8(ascii: "d") {
                for b in UInt8(ascii: "0")...UInt8(ascii: "9") { add(&members, b) }
                i += 2
            } else if plain(p[i]) {
                add(&members, p[i])
                i += 1
            } else {
                return nil
            }
            var atom = SimpleAtom(members: members, min: 1, max: 1)
            if i < end {
                switch p[i] {
                case UInt8(ascii: "+"): (atom.min, atom.max, i) = (1, .max, i + 1)
                case UInt8(ascii: "*"): (atom.min, atom.max, i) = (0, .max, i + 1)
                case UInt8(ascii: "?"): (atom.min, atom.max, i) = (0, 1, i + 1)
                case UInt8(ascii: "{"):
                    guard let close = p[i...].firstIndex(of: UInt8(ascii: "}")), close < end else { return nil }
                    let bounds = String(decoding: p[(i + 1)..<close], as: UTF8.self).split(separator: ",", omittingEmptySubsequences: false)
                    guard bounds.count <= 2, let low = Int(bounds[0]), low >= 0 else { return nil }
                    let high = bounds.count == 2 ? Int(bounds[1]) : low
                    guard let high, high >= low else { return nil }
                    (atom.min, atom.max, i) = (low, high, close + 1)
                default: break
                }
            }
            atoms.append(atom)
        }
        return atoms
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
