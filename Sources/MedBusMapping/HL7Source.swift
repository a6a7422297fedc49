import MedBusHL7

/// A parsed HL7 v2 message as the mapping engine reads it: the message's UTF-8 bytes with the parser's
/// index of its segments and fields, so that a path read is a few byte scans and no allocation.
///
/// Why not `HL7Message.element(at:)` per read: each call walks the segment list, makes several views
/// that each retain the message storage and rescans the field, ~80 ns a read; a mapping reads 50 to 100
/// paths per message, which cost more than the parse itself. Here the parser's index is read directly
/// (`HL7Message.fieldIndex`, no copy) and every read is allocation-free until the value is written.
/// Compiled plans go further and do not navigate per read at all: `HL7Layout` scans each field they
/// read once per message; the navigation here serves the reference path and finds those fields.
///
/// The navigation below mirrors `HL7Element`'s rules exactly (MSH-1/MSH-2 literal, a primitive is its own
/// first component, a path stopping above the leaves reads the first leaf, `""` is HL7 null); the
/// differential test `HL7SourceTests` checks it against `HL7Message` on every sample and on edge cases.
final class HL7Source: Sendable {
    let message: HL7Message
    /// The message in UTF-8; segments are ranges of it.
    let bytes: [UInt8]
    let segments: [HL7Message.Segment]
    /// End (exclusive) of every piece of every segment; piece 0 is the segment id.
    let pieceEnds: [Int]
    let delimiters: HL7Delimiters

    init(_ message: HL7Message) {
        self.message = message
        delimiters = message.delimiters
        let index = message.fieldIndex
        bytes = index.bytes
        segments = index.segments
        pieceEnds = index.pieceEnds
    }

    // MARK: navigation

    /// A field, repetition, component or sub-component: a byte range of `bytes` (as `HL7Element`).
    struct Element: Sendable {
        enum Level: Int, Comparable, Sendable {
            case field, repetition, component, subcomponent
            static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
        }

        var range: Range<Int>
        var level: Level
        /// MSH-1 and MSH-2: never split, never unescaped.
        var isLiteral = false

        var isEmpty: Bool { range.isEmpty }
        var absent: Element { Element(range: range.upperBound..<range.upperBound, level: level) }
    }

    /// `pack("MSH")`, `pack("FHS")`, `pack("BHS")` as literals: a computed global is behind a lazy-init
    /// check on every read, and `field` reads these for every field.
    static let msh: UInt32 = 0x4D_5348, fhs: UInt32 = 0x46_4853, bhs: UInt32 = 0x42_4853

    /// A segment id as the index packs it; nil when it is not three bytes.
    static func pack(_ id: String) -> UInt32? {
        let utf8 = Array(id.utf8)
        guard utf8.count == 3 else { return nil }
        return utf8.reduce(0) { $0 << 8 | UInt32($1) }
    }

    /// Index into `segments` of the `occurrence`-th segment with this id.
    func segmentIndex(id: UInt32, occurrence: Int) -> Int? {
        var seen = 0
        for index in segments.indices where segments[index].id == id {
            seen += 1
            if seen == occurrence { return index }
        }
        return nil
    }

    func count(of id: UInt32) -> Int {
        var count = 0
        for segment in segments where segment.id == id { count += 1 }
        return count
    }

    /// Field `n` (1-based) of segment `index`; MSH-1 and MSH-2 whole, as literals.
    func field(_ n: Int, ofSegment index: Int) -> Element {
        let segment = segments[index]
        let isHeader = segment.id == Self.msh || segment.id == Self.fhs || segment.id == Self.bhs
        if isHeader && n == 1 && segment.pieceCount > 1 {
            return Element(range: (segment.start + 3)..<(segment.start + 4), level: .field, isLiteral: true)
        }
        let piece = isHeader ? n - 1 : n
        guard piece >= 1, piece < segment.pieceCount else { return Element(range: segment.end..<segment.end, level: .field) }
        let start = pieceEnds[segment.firstPiece + piece - 1] + 1
        return Element(range: start..<pieceEnds[segment.firstPiece + piece], level: .field, isLiteral: isHeader && n == 2)
    }

    func repetition(_ n: Int, of element: Element) -> Element { child(n, of: element, splitting: .field) }

    /// Component `n` of a repetition, or of a field's first repetition.
    func component(_ n: Int, of element: Element) -> Element {
        if element.level == .field && !element.isLiteral { return component(n, of: repetition(1, of: element)) }
        return child(n, of: element, splitting: .repetition)
    }

    /// Sub-component `n` of a component, or of the first component above it.
    func subcomponent(_ n: Int, of element: Element) -> Element {
        if element.level < .component && !element.isLiteral { return subcomponent(n, of: component(1, of: element)) }
        return child(n, of: element, splitting: .component)
    }

    /// The repetitions of a field; any other element is its own single repetition.
    func repetitions(of element: Element) -> [Element] {
        guard element.level == .field, !element.isLiteral else { return [element] }
        let separator = delimiters.repetition
        var result: [Element] = []
        var start = element.range.lowerBound
        for i in element.range where bytes[i] == separator {
            result.append(Element(range: start..<i, level: .repetition))
            start = i + 1
        }
        result.append(Element(range: start..<element.range.upperBound, level: .repetition))
        return result
    }

    private func separator(below level: Element.Level) -> UInt8? {
        switch level {
        case .field: delimiters.repetition
        case .repetition: delimiters.component
        case .component: delimiters.subcomponent
        case .subcomponent: nil
        }
    }

    /// Child `n` when the element is at `parent` level; otherwise the element stands for child 1.
    private func child(_ n: Int, of element: Element, splitting parent: Element.Level) -> Element {
        guard element.level == parent, !element.isLiteral, let separator = separator(below: parent),
            let childLevel = Element.Level(rawValue: parent.rawValue + 1)
        else { return n == 1 ? element : element.absent }
        guard n >= 1 else { return element.absent }
        return bytes.withUnsafeBufferPointer { buffer in
            var start = element.range.lowerBound
            var seen = 1
            for i in element.range where buffer[i] == separator {
                if seen == n { return Element(range: start..<i, level: childLevel) }
                seen += 1
                start = i + 1
            }
            return seen == n ? Element(range: start..<element.range.upperBound, level: childLevel) : element.absent
        }
    }

    /// What a terser path addresses (`HL7Message.element(at:)`), from segment occurrence `occurrence`.
    func element(_ address: HL7Address, occurrence: Int) -> Element {
        guard let index = segmentIndex(id: address.segment, occurrence: occurrence) else { return Element(range: 0..<0, level: .field) }
        var element = repetition(address.repetition, of: field(address.field, ofSegment: index))
        if let component = address.component { element = self.component(component, of: element) }
        if let subcomponent = address.subcomponent { element = self.subcomponent(subcomponent, of: element) }
        return element
    }

    // MARK: values

    /// The first leaf of an element as a value: its bytes in `bytes`, or decoded when it has escapes.
    enum Leaf {
        /// Absent, empty or HL7 null (`""`).
        case none
        case bytes(Range<Int>)
        case decoded([UInt8])
        /// Has a `\Xhh…\` escape, which spells bytes in the message's character set: ask `HL7Message`.
        case needsMessage
    }

    /// The element's first leaf with escape sequences resolved (MSH-1 and MSH-2 verbatim).
    func leaf(_ element: Element) -> Leaf {
        let leaf = element.isLiteral ? element.range : firstLeaf(element)
        guard !leaf.isEmpty else { return .none }
        if element.isLiteral { return .bytes(leaf) }
        return decode(leaf)
    }

    /// A non-empty leaf that is not MSH-1/MSH-2 as a value: HL7 null, its bytes, or decoded.
    func decode(_ leaf: Range<Int>) -> Leaf {
        bytes.withUnsafeBufferPointer { buffer -> Leaf in
            let text = UnsafeBufferPointer(rebasing: buffer[leaf])
            if text.count == 2 && text[0] == UInt8(ascii: "\"") && text[1] == UInt8(ascii: "\"") { return .none }
            guard text.contains(delimiters.escape) else { return .bytes(leaf) }
            guard let decoded = unescape(text) else { return .needsMessage }
            return .decoded(decoded)
        }
    }

    /// The text of the element's first leaf with escape sequences resolved; nil when absent or HL7 null.
    /// `fallback` gives the element as `HL7Message` reads it, for the one escape this does not decode.
    func string(_ element: Element, fallback: () -> HL7Element) -> String? {
        switch leaf(element) {
        case .none: return nil
        case .bytes(let range): return bytes.withUnsafeBufferPointer { String(decoding: UnsafeBufferPointer(rebasing: $0[range]), as: UTF8.self) }
        case .decoded(let decoded): return String(decoding: decoded, as: UTF8.self)
        case .needsMessage: return fallback().string
        }
    }

    /// The bytes up to the first separator of any level below the element's.
    private func firstLeaf(_ element: Element) -> Range<Int> {
        let d = delimiters
        var end = element.range.lowerBound
        let upper = element.range.upperBound
        switch element.level {
        case .field:
            while end < upper, bytes[end] != d.repetition, bytes[end] != d.component, bytes[end] != d.subcomponent { end += 1 }
        case .repetition:
            while end < upper, bytes[end] != d.component, bytes[end] != d.subcomponent { end += 1 }
        case .component:
            while end < upper, bytes[end] != d.subcomponent { end += 1 }
        case .subcomponent:
            end = upper
        }
        return element.range.lowerBound..<end
    }

    /// HL7 escape sequences as `MedBusHL7`'s reader resolves them: `\F\ \S\ \T\ \R\ \E\ \P\ \.br\`; any
    /// other sequence, and a malformed one, verbatim. Nil for `\X…\`: the caller asks `HL7Message`.
    private func unescape(_ bytes: UnsafeBufferPointer<UInt8>) -> [UInt8]? {
        let d = delimiters
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            guard byte == d.escape, let close = bytes[(i + 1)...].firstIndex(of: d.escape), close > i + 1 else {
                output.append(byte)
                i += 1
                continue
            }
            let sequence = bytes[(i + 1)..<close]
            var decoded: UInt8?
            if sequence.count == 1 {
                switch sequence.first! {
                case UInt8(ascii: "F"): decoded = d.field
                case UInt8(ascii: "S"): decoded = d.component
                case UInt8(ascii: "T"): decoded = d.subcomponent
                case UInt8(ascii: "R"): decoded = d.repetition
                case UInt8(ascii: "E"): decoded = d.escape
                case UInt8(ascii: "P"): decoded = d.truncation
                default: break
                }
            } else if sequence.elementsEqual(".br".utf8) {
                decoded = 0x0A
            } else if sequence.first == UInt8(ascii: "X") {
                return nil
            }
            if let decoded { output.append(decoded) } else { output.append(contentsOf: bytes[i...close]) }
            i = close + 1
        }
        return output
    }
}
