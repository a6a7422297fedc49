/// A compiled terser-style path: which segment, field, repetition, component and sub-component.
///
/// Compile a path once and apply it to any number of messages; nothing is re-parsed per message.
/// Accepted forms (1-based like HL7):
///
/// | path | addresses |
/// |---|---|
/// | `PID-3` | first repetition of PID-3 |
/// | `PID-3[2]` or `PID-3(2)` | second repetition |
/// | `PID-3[2].1` | its first component |
/// | `PID-5.1.2` | component 1, sub-component 2 |
/// | `OBX[3]-5` | OBX-5 of the third OBX segment in the message |
/// | `MSH-9.2` | the trigger event |
///
/// `-` may stand for `.` (HAPI's `PID-5-1`), and `.` for the `-` after the segment (`PID.5.1`). Segment
/// occurrences count over the whole message: message-structure groups are not modelled.
public struct HL7Path: Hashable, Sendable, CustomStringConvertible {
    public let segmentID: String
    /// Which occurrence of the segment, 1 for the first.
    public let segmentOccurrence: Int
    public let field: Int
    /// 1 unless the path names one: a repetition is always addressed.
    public let repetition: Int
    public let component: Int?
    /// Only with a component.
    public let subcomponent: Int?
    let packedSegmentID: UInt32

    /// - Throws: `HL7Error.invalidPath` when `text` is not one of the forms above.
    public init(_ text: String) throws(HL7Error) {
        var scanner = Scanner(bytes: Array(text.utf8))
        guard let id = scanner.segmentID(),
            let occurrence = scanner.index(),
            scanner.separator(), let field = scanner.number(),
            let repetition = scanner.index()
        else { throw .invalidPath(text) }
        var component: Int?
        var subcomponent: Int?
        if scanner.separator() {
            guard let number = scanner.number() else { throw .invalidPath(text) }
            component = number
            if scanner.separator() {
                guard let number = scanner.number() else { throw .invalidPath(text) }
                subcomponent = number
            }
        }
        guard scanner.isAtEnd else { throw .invalidPath(text) }
        try self.init(
            segment: id, occurrence: occurrence ?? 1, field: field, repetition: repetition ?? 1,
            component: component, subcomponent: subcomponent)
    }

    /// - Throws: `HL7Error.invalidPath` unless `segment` is a segment id (an uppercase letter, then two
    ///   uppercase letters or digits), every number is at least 1, and a sub-component comes with a component.
    public init(
        segment: String, occurrence: Int = 1, field: Int, repetition: Int = 1, component: Int? = nil,
        subcomponent: Int? = nil
    ) throws(HL7Error) {
        let numbers = [occurrence, field, repetition, component ?? 1, subcomponent ?? 1]
        guard let packed = SegmentID.pack(Array(segment.utf8)), numbers.allSatisfy({ $0 >= 1 }),
            subcomponent == nil || component != nil
        else {
            throw .invalidPath("\(segment)[\(occurrence)]-\(field)[\(repetition)].\(component ?? 0).\(subcomponent ?? 0)")
        }
        self.segmentID = segment
        self.segmentOccurrence = occurrence
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
        self.packedSegmentID = packed
    }

    /// The canonical spelling, e.g. `OBX[3]-5[2].1`; it parses back to an equal path.
    public var description: String {
        var text = segmentID + (segmentOccurrence == 1 ? "" : "[\(segmentOccurrence)]") + "-\(field)"
        if repetition != 1 { text += "[\(repetition)]" }
        if let component { text += ".\(component)" }
        if let subcomponent { text += ".\(subcomponent)" }
        return text
    }

    /// Whether the path addresses MSH-1/MSH-2 (or the same fields of FHS/BHS), the delimiters themselves.
    var addressesDelimiters: Bool { SegmentID.isHeader(packedSegmentID) && field <= 2 }

    private struct Scanner {
        let bytes: [UInt8]
        var position = 0

        var isAtEnd: Bool { position == bytes.count }

        mutating func segmentID() -> String? {
            guard bytes.count >= position + 3 else { return nil }
            let id = Array(bytes[position..<position + 3])
            guard SegmentID.pack(id) != nil else { return nil }
            position += 3
            return String(decoding: id, as: UTF8.self)
        }

        /// `[n]` or `(n)`: .some(nil) when absent, nil when malformed.
        mutating func index() -> Int?? {
            guard position < bytes.count else { return .some(nil) }
            let close: UInt8
            switch bytes[position] {
            case UInt8(ascii: "["): close = UInt8(ascii: "]")
            case UInt8(ascii: "("): close = UInt8(ascii: ")")
            default: return .some(nil)
            }
            position += 1
            guard let number = number(), position < bytes.count, bytes[position] == close else { return nil }
            position += 1
            return .some(number)
        }

        mutating func separator() -> Bool {
            guard position < bytes.count, bytes[position] == UInt8(ascii: "-") || bytes[position] == UInt8(ascii: ".") else {
                return false
            }
            position += 1
            return true
        }

        /// 1 to 99999, no leading zero.
        mutating func number() -> Int? {
            var value = 0
            var digits = 0
            while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]), digits < 5 {
                if digits == 0 && bytes[position] == UInt8(ascii: "0") { return nil }
                value = value * 10 + Int(bytes[position] - UInt8(ascii: "0"))
                digits += 1
                position += 1
            }
            return digits == 0 ? nil : value
        }
    }
}

/// Segment ids packed into an integer so that finding a segment compares one word, not a string.
enum SegmentID {
    static let msh = pack3("MSH")
    static let fhs = pack3("FHS")
    static let bhs = pack3("BHS")
    static let bts = pack3("BTS")
    static let fts = pack3("FTS")
    static let msa = pack3("MSA")
    static let err = pack3("ERR")

    /// An uppercase letter followed by two uppercase letters or digits, as HL7 segment ids are.
    static func pack(_ bytes: some Collection<UInt8>) -> UInt32? {
        guard bytes.count == 3 else { return nil }
        var packed: UInt32 = 0
        for (i, byte) in bytes.enumerated() {
            let isUpper = (UInt8(ascii: "A")...UInt8(ascii: "Z")).contains(byte)
            let isDigit = (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            guard isUpper || (i > 0 && isDigit) else { return nil }
            packed = packed << 8 | UInt32(byte)
        }
        return packed
    }

    /// MSH, FHS and BHS: the segments whose fields 1 and 2 are the delimiters.
    static func isHeader(_ id: UInt32) -> Bool { id == msh || id == fhs || id == bhs }

    static func string(_ id: UInt32) -> String {
        String(decoding: [UInt8(id >> 16 & 0xFF), UInt8(id >> 8 & 0xFF), UInt8(id & 0xFF)], as: UTF8.self)
    }

    private static func pack3(_ text: StaticString) -> UInt32 {
        text.withUTF8Buffer { $0.reduce(0) { $0 << 8 | UInt32($1) } }
    }
}
