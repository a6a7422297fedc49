/// A view of one field, repetition, component or sub-component of a parsed message: a byte range, nothing
/// copied. Reading `value` or `encoded` makes the String.
///
/// Asking for a deeper level than a value has follows HAPI's rule that a primitive is its own first
/// component: on `Zhang` (no separators) `component(1)` is `Zhang` and `component(2)` is absent. Asking a
/// field for components reads its first repetition.
public struct HL7Element: Sendable {
    public enum Level: Int, Comparable, Sendable {
        case field, repetition, component, subcomponent

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    let storage: MessageStorage
    let range: Range<Int>
    public let level: Level
    /// MSH-1 and MSH-2 hold the delimiters themselves: never split, never unescaped.
    let isLiteral: Bool

    init(storage: MessageStorage, range: Range<Int>, level: Level, isLiteral: Bool = false) {
        self.storage = storage
        self.range = range
        self.level = level
        self.isLiteral = isLiteral
    }

    /// The first value at or below this element: for a field, its first repetition's first component's
    /// first sub-component.
    public var value: HL7Value {
        let leaf = isLiteral ? range : firstLeaf
        guard !leaf.isEmpty else { return .absent }
        return storage.bytes.withUnsafeBufferPointer { buffer in
            let bytes = UnsafeBufferPointer(rebasing: buffer[leaf])
            if isLiteral { return .text(String(decoding: bytes, as: UTF8.self)) }
            if bytes.count == 2 && bytes[0] == UInt8(ascii: "\"") && bytes[1] == UInt8(ascii: "\"") { return .null }
            return .text(Escaping.decode(bytes, delimiters: storage.delimiters, charset: storage.charset))
        }
    }

    /// `value.string`: the text, nil when absent or null.
    public var string: String? { value.string }

    /// The element as it is on the wire, escape sequences and delimiters included (as UTF-8 text).
    public var encoded: String { String(decoding: storage.bytes[range], as: UTF8.self) }

    /// Whether nothing at all was sent here (no text, no separators).
    public var isEmpty: Bool { range.isEmpty }

    /// The repetitions of a field; any other element is its own single repetition.
    public var repetitions: [HL7Element] { children(splitting: .field) }

    /// The components of a repetition (of a field's first repetition, on a field).
    public var components: [HL7Element] {
        level == .field && !isLiteral ? repetition(1).components : children(splitting: .repetition)
    }

    /// The sub-components of a component (of the first component, on a field or repetition).
    public var subcomponents: [HL7Element] {
        level < .component && !isLiteral ? component(1).subcomponents : children(splitting: .component)
    }

    /// Repetition `n` (1-based) of a field; absent when there are fewer.
    public func repetition(_ n: Int) -> HL7Element { child(n, splitting: .field) }

    /// Component `n` (1-based) of a repetition, or of a field's first repetition.
    public func component(_ n: Int) -> HL7Element {
        level == .field && !isLiteral ? repetition(1).component(n) : child(n, splitting: .repetition)
    }

    /// Sub-component `n` (1-based) of a component, or of the first component above it.
    public func subcomponent(_ n: Int) -> HL7Element {
        level < .component && !isLiteral ? component(1).subcomponent(n) : child(n, splitting: .component)
    }

    /// The n-th part one level down: components of a field or repetition, sub-components of a component.
    /// Composite data types use it so that a CX reads the same as a field (components) or inside a
    /// component (sub-components, like CX.4's HD).
    func part(_ n: Int) -> HL7Element {
        level == .component ? subcomponent(n) : component(n)
    }

    /// The separator between this element's children, or nil when it has none (a sub-component).
    private var childSeparator: UInt8? {
        let delimiters = storage.delimiters
        switch level {
        case .field: return delimiters.repetition
        case .repetition: return delimiters.component
        case .component: return delimiters.subcomponent
        case .subcomponent: return nil
        }
    }

    private func children(splitting parent: Level) -> [HL7Element] {
        guard level == parent, !isLiteral, let separator = childSeparator, let childLevel = Level(rawValue: level.rawValue + 1) else {
            return [self]
        }
        var result: [HL7Element] = []
        var start = range.lowerBound
        for i in range where storage.bytes[i] == separator {
            result.append(HL7Element(storage: storage, range: start..<i, level: childLevel))
            start = i + 1
        }
        result.append(HL7Element(storage: storage, range: start..<range.upperBound, level: childLevel))
        return result
    }

    /// Child `n` when this element is at `parent` level; otherwise this element stands for child 1.
    private func child(_ n: Int, splitting parent: Level) -> HL7Element {
        guard level == parent, !isLiteral, let separator = childSeparator, let childLevel = Level(rawValue: level.rawValue + 1) else {
            return n == 1 ? self : absent
        }
        guard n >= 1 else { return absent }
        let bytes = storage.bytes
        var start = range.lowerBound
        var seen = 1
        var i = start
        while i < range.upperBound {
            if bytes[i] == separator {
                if seen == n { return HL7Element(storage: storage, range: start..<i, level: childLevel) }
                seen += 1
                start = i + 1
            }
            i += 1
        }
        return seen == n ? HL7Element(storage: storage, range: start..<range.upperBound, level: childLevel) : absent
    }

    private var absent: HL7Element { HL7Element(storage: storage, range: range.upperBound..<range.upperBound, level: level) }

    /// The bytes up to the first separator of any level below this one.
    private var firstLeaf: Range<Int> {
        let delimiters = storage.delimiters
        let bytes = storage.bytes
        var end = range.lowerBound
        switch level {
        case .field:
            while end < range.upperBound, bytes[end] != delimiters.repetition, bytes[end] != delimiters.component,
                bytes[end] != delimiters.subcomponent
            { end += 1 }
        case .repetition:
            while end < range.upperBound, bytes[end] != delimiters.component, bytes[end] != delimiters.subcomponent { end += 1 }
        case .component:
            while end < range.upperBound, bytes[end] != delimiters.subcomponent { end += 1 }
        case .subcomponent:
            end = range.upperBound
        }
        return range.lowerBound..<end
    }
}

/// A view of one segment of a parsed message.
public struct HL7Segment: Sendable {
    let storage: MessageStorage
    /// Position in the message, 0-based.
    public let index: Int

    var record: SegmentRecord { storage.segments[index] }

    /// The segment id, e.g. `PID` or `ZPI`.
    public var id: String { SegmentID.string(record.id) }

    /// Which occurrence of its id this segment is (the third OBX is 3).
    public var occurrence: Int { storage.segments[...index].count(where: { $0.id == record.id }) }

    /// Number of fields present. For MSH (FHS, BHS) this counts MSH-1, the field separator, when there is
    /// one: a bare `MSH` line has no fields.
    public var fieldCount: Int {
        let record = record
        return SegmentID.isHeader(record.id) && record.pieceCount > 1 ? record.pieceCount : record.pieceCount - 1
    }

    /// Field `n`, 1-based; absent when the segment has fewer. MSH-1 and MSH-2 are returned whole.
    public func field(_ n: Int) -> HL7Element {
        let record = record
        let isHeader = SegmentID.isHeader(record.id)
        if isHeader && n == 1 && record.pieceCount > 1 {
            // MSH-1 is the separator right after the segment id.
            return HL7Element(storage: storage, range: (record.start + 3)..<(record.start + 4), level: .field, isLiteral: true)
        }
        // Piece 0 is the segment id, never a field.
        let piece = isHeader ? n - 1 : n
        guard piece >= 1, let range = storage.pieceRange(segment: index, piece: piece) else {
            return HL7Element(storage: storage, range: record.end..<record.end, level: .field)
        }
        return HL7Element(storage: storage, range: range, level: .field, isLiteral: isHeader && n == 2)
    }

    public subscript(_ n: Int) -> HL7Element { field(n) }

    /// Fields 1 through `fieldCount`.
    public var fields: [HL7Element] { fieldCount > 0 ? (1...fieldCount).map(field) : [] }

    /// The segment as on the wire, without its terminator.
    public var encoded: String { String(decoding: storage.bytes[record.start..<record.end], as: UTF8.self) }
}
