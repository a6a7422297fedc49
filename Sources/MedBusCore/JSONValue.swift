/// A JSON value as MedBus carries it: numbers stay the decimal text they were written as, so an amount
/// read from a payload and written to a canonical record never passes through binary floating point.
///
/// Objects keep their members in order (mapping order on output, document order on input), so a
/// message can be rewritten in one field and sent on otherwise byte-for-byte as it came; lookups take
/// the first member with a name, as most JSON readers do. `object(_:)` with a dictionary sorts the
/// keys, so a value built from a dictionary always writes the same bytes.
///
/// Parse with `JSONParser` (or `JSONValue.parse`), write with `JSONWriter` (or `jsonText`/`jsonBytes`).
public enum JSONValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// The number's text exactly as written (valid JSON number syntax).
    case number(String)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    public static func == (lhs: JSONValue, rhs: JSONValue) -> Bool {
        switch (lhs, rhs) {
        case (.null, .null): return true
        case (.bool(let a), .bool(let b)): return a == b
        case (.number(let a), .number(let b)): return a == b
        case (.string(let a), .string(let b)): return a == b
        case (.array(let a), .array(let b)): return a == b
        case (.object(let a), .object(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    public func hash(into hasher: inout Hasher) {
        switch self {
        case .null: hasher.combine(0)
        case .bool(let b): hasher.combine(b)
        case .number(let n): hasher.combine(n)
        case .string(let s): hasher.combine(s)
        case .array(let a): hasher.combine(a)
        case .object(let members):
            hasher.combine(members.count)
            for (key, value) in members {
                hasher.combine(key)
                hasher.combine(value)
            }
        }
    }

    /// The first member with this name.
    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (name, value) in members where name == key { return value }
        return nil
    }

    /// The text of a scalar (a number's text, `true`/`false`); nil for null, arrays and objects.
    public var scalarText: String? {
        switch self {
        case .string(let s): s
        case .number(let n): n
        case .bool(let b): b ? "true" : "false"
        default: nil
        }
    }

    // MARK: Building

    /// An object from a dictionary, members sorted by key (stable bytes for the same fields).
    public static func object(_ fields: [String: JSONValue]) -> JSONValue {
        .object(fields.sorted { $0.key < $1.key }.map { ($0.key, $0.value) })
    }

    /// A money amount with exactly two decimals (`356.50`).
    public static func money(_ amount: Money) -> JSONValue { .number(amount.description) }

    /// An integer.
    public static func int(_ value: Int) -> JSONValue { .number(String(value)) }

    /// `.string` for a value, `.null` for nil.
    public static func optional(_ value: String?) -> JSONValue { value.map(JSONValue.string) ?? .null }

    /// The same object with `key` set (replaced in place, or appended); other values unchanged.
    public func setting(_ key: String, _ value: JSONValue) -> JSONValue {
        guard case .object(var members) = self else { return self }
        if let index = members.firstIndex(where: { $0.0 == key }) { members[index].1 = value } else { members.append((key, value)) }
        return .object(members)
    }

    // MARK: Reading

    public var arrayValue: [JSONValue]? {
        if case .array(let items) = self { return items }
        return nil
    }

    /// A string, or a number's text (platforms differ on whether codes are quoted).
    public var stringValue: String? {
        switch self {
        case .string(let text), .number(let text): text
        default: nil
        }
    }

    /// A number (or a numeric string) read exactly as money; nil below the fen.
    public var moneyValue: Money? { stringValue.flatMap { Money($0) } }

    /// An integer number or numeric string (`infcode`).
    public var intValue: Int? { stringValue.flatMap { Int($0) } }

    public var isNull: Bool { if case .null = self { true } else { false } }

    // MARK: Parsing and writing

    /// Parses JSON bytes (see `JSONParser`).
    public static func parse(_ bytes: [UInt8]) throws(JSONParser.Failure) -> JSONValue { try JSONParser.parse(bytes) }

    /// Parses JSON text (see `JSONParser`).
    public static func parse(_ text: String) throws(JSONParser.Failure) -> JSONValue { try JSONParser.parse(text) }

    /// Compact JSON, UTF-8 unescaped except where JSON requires it.
    public var jsonBytes: [UInt8] { JSONWriter.compact(self) }

    /// Compact JSON as text.
    public var jsonText: String { String(decoding: JSONWriter.compact(self), as: UTF8.self) }
}
