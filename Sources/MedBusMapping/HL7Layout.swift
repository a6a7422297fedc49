import MedBusHL7

/// Where an hl7v2 mapping reads, compiled: every leaf that its filter, its plans' conditions and its
/// plans' rules read gets a slot, and per message one scan of each field that holds slots fills them
/// all. A rule then reads its value from its slot: an index, no navigation.
///
/// Why: navigating per read (find the segment, the field, the repetition, scan to the component, then
/// to the end of the leaf) cost ~100 ns a rule, ~80 rules a message; the fields a mapping reads are
/// few, and scanning each once, recording the leaves as the scan passes them, costs about what one
/// navigation did.
///
/// Slots belong to scopes, each filled where the reference path (`SourcePath.hl7Element`) would read:
/// the root (the message), an `each` over segments (filled per segment: reads of that segment id with
/// occurrence 1), an `each` over a field's repetitions (filled per repetition: reads of that field).
/// A read any enclosing `each` does not capture is a root slot, filled once per message for every
/// target of the mapping.
final class HL7Layout: @unchecked Sendable {  // its memory is written once, in `init`
    /// Scopes, their fields and the fields' leaves, as plain memory (see `HL7JSONPlan.rules`).
    let scopes: UnsafeMutablePointer<Scope>
    let fields: UnsafeMutablePointer<Field>
    let leaves: UnsafeMutablePointer<Leaf>
    let scopeCount: Int
    /// Segments the root reads: id and occurrence.
    let segments: [SegmentNeed]
    /// The address of each slot, for the one escape only `HL7Message` decodes.
    let slotAddresses: [HL7Address]

    struct SegmentNeed: Hashable, Sendable {
        var id: UInt32
        var occurrence: Int
    }

    /// Where a field lives: in a segment the root locates, or in the segment an `each` scope iterates.
    enum SegmentRef: Hashable, Sendable {
        case root(Int)
        case scope(Int)
    }

    struct Scope: Sendable {
        enum Kind: Sendable {
            case root
            case segments(UInt32)
            /// The repetitions of `address`'s field in the segment `segment` locates.
            case repetitions(HL7Address, segment: SegmentRef)
        }

        var kind: Kind
        /// The fields read in this scope (a range of `fields`; for repetitions: the repetition itself,
        /// field 0).
        var fields: Range<Int>
    }

    struct Field: Sendable {
        var segment: SegmentRef
        var number: Int
        /// The leaves wanted, sorted: a range of `leaves`.
        var leaves: Range<Int>
    }

    /// Sub-component `subcomponent` of component `component` of repetition `repetition`: the leaf every
    /// terser path reads (a path that stops above the leaves reads the first one below it).
    struct Leaf: Hashable, Comparable, Sendable {
        var repetition: Int
        var component: Int
        var subcomponent: Int
        var slot: Int

        static func < (a: Leaf, b: Leaf) -> Bool {
            (a.repetition, a.component, a.subcomponent) < (b.repetition, b.component, b.subcomponent)
        }
    }

    init(_ builder: Builder) {
        var scopes: [Scope] = [], fields: [Field] = [], leaves: [Leaf] = []
        for (kind, scopeFields) in builder.scopes {
            let first = fields.count
            for (segment, number, wanted) in scopeFields {
                let start = leaves.count
                leaves.append(contentsOf: wanted.sorted())
                fields.append(Field(segment: segment, number: number, leaves: start..<leaves.count))
            }
            scopes.append(Scope(kind: kind, fields: first..<fields.count))
        }
        self.scopes = HL7JSONPlan.allocate(scopes)
        self.fields = HL7JSONPlan.allocate(fields)
        self.leaves = HL7JSONPlan.allocate(leaves)
        scopeCount = scopes.count
        segments = builder.segments
        slotAddresses = builder.slotAddresses
    }

    deinit {
        scopes.deallocate()
        fields.deallocate()
        leaves.deallocate()
    }

    var slotCount: Int { slotAddresses.count }

    // MARK: compiling

    /// What enclosing `each` selectors iterate where a rule sits: the compile-time image of `HL7Cursor`.
    struct Frame: Sendable {
        var segment: (id: UInt32, scope: Int)?
        var repetition: (segment: UInt32, field: Int, scope: Int)?

        static let root = Frame()
    }

    struct Unsupported: Error {}

    /// A value type, so that a plan that turns out not to compile leaves no slots behind (its caller
    /// keeps the copy from before).
    struct Builder: Sendable {
        var scopes: [(kind: Scope.Kind, fields: [(segment: SegmentRef, number: Int, leaves: [Leaf])])] = [(.root, [])]
        var segments: [SegmentNeed] = []
        var slotAddresses: [HL7Address] = []
        private var slotsByLocation: [Location: Int] = [:]

        private struct Location: Hashable {
            var scope: Int
            var segment: SegmentRef
            var field: Int
            var repetition: Int
            var component: Int
            var subcomponent: Int
        }

        init() {}

        /// The slot of the leaf `address` reads in `frame` (as `SourcePath.hl7Element` resolves it).
        mutating func slot(_ address: HL7Address, in frame: Frame) -> Int {
            let component = address.component ?? 1
            let subcomponent = address.subcomponent ?? 1
            let location: Location
            if let repetition = frame.repetition, repetition.segment == address.segment, repetition.field == address.field {
                location = Location(scope: repetition.scope, segment: .scope(repetition.scope), field: 0, repetition: 1, component: component, subcomponent: subcomponent)
            } else if let segment = frame.segment, segment.id == address.segment, address.occurrence == 1 {
                location = Location(
                    scope: segment.scope, segment: .scope(segment.scope), field: address.field, repetition: address.repetition, component: component,
                    subcomponent: subcomponent)
            } else {
                location = Location(
                    scope: 0, segment: .root(need(address.segment, address.occurrence)), field: address.field, repetition: address.repetition,
                    component: component, subcomponent: subcomponent)
            }
            if let slot = slotsByLocation[location] { return slot }
            let slot = slotAddresses.count
            slotAddresses.append(address)
            slotsByLocation[location] = slot
            let leaf = Leaf(repetition: location.repetition, component: location.component, subcomponent: location.subcomponent, slot: slot)
            if let field = scopes[location.scope].fields.firstIndex(where: { $0.segment == location.segment && $0.number == location.field }) {
                scopes[location.scope].fields[field].leaves.append(leaf)
            } else {
                scopes[location.scope].fields.append((location.segment, location.field, [leaf]))
            }
            return slot
        }

        /// A scope for an `each` over `selector` inside `frame`, and the frame its item is read in.
        mutating func scope(_ selector: Selector, in frame: Frame) throws(Unsupported) -> (Int, Frame) {
            let index = scopes.count
            switch selector {
            case .segments(let id):
                scopes.append((.segments(id), []))
                return (index, Frame(segment: (id, index), repetition: nil))
            case .repetitions(let address):
                // An `each` over the field already iterated, or over MSH-1/MSH-2 (never split): the reference path.
                if let repetition = frame.repetition, repetition.segment == address.segment, repetition.field == address.field { throw Unsupported() }
                if address.field <= 2, [HL7Source.msh, HL7Source.fhs, HL7Source.bhs].contains(address.segment) { throw Unsupported() }
                let segment: SegmentRef
                if let current = frame.segment, current.id == address.segment, address.occurrence == 1 {
                    segment = .scope(current.scope)
                } else {
                    segment = .root(need(address.segment, address.occurrence))
                }
                scopes.append((.repetitions(address, segment: segment), []))
                return (index, Frame(segment: frame.segment, repetition: (address.segment, address.field, index)))
            case .json, .xml:
                throw Unsupported()
            }
        }

        private mutating func need(_ id: UInt32, _ occurrence: Int) -> Int {
            let need = SegmentNeed(id: id, occurrence: occurrence)
            if let index = segments.firstIndex(of: need) { return index }
            segments.append(need)
            return segments.count - 1
        }
    }
}

/// One slot's leaf in the message's bytes.
struct HL7Slot {
    enum State: UInt8 {
        /// Absent, empty or HL7 null (`""`).
        case none
        case bytes
        /// Has the escape character: decoded when read.
        case escaped
    }

    var start: Int
    var end: Int
    var state: State
}

/// The slots of one message: the root filled once, an `each` scope's slots refilled per element.
///
/// Written through pointers, so a `let` table can be refilled while the plan's writer (which never
/// changes) reads it. Owned by one `apply`, which deallocates it.
struct HL7Table {
    let layout: HL7Layout
    let source: HL7Source
    /// A copy of `source.bytes` the table owns: reading it retains nothing.
    let bytes: UnsafeBufferPointer<UInt8>
    private let slots: UnsafeMutablePointer<HL7Slot>
    /// Per root segment need, its index in `source.segments` (-1: absent).
    private let segmentIndex: UnsafeMutablePointer<Int>
    /// Per scope over segments, the segment it is at.
    private let scopeSegment: UnsafeMutablePointer<Int>

    init(_ layout: HL7Layout, _ source: HL7Source) {
        self.layout = layout
        self.source = source
        slots = .allocate(capacity: max(layout.slotCount, 1))
        segmentIndex = .allocate(capacity: max(layout.segments.count, 1))
        scopeSegment = .allocate(capacity: layout.scopeCount)
        let bytes = UnsafeMutableBufferPointer<UInt8>.allocate(capacity: source.bytes.count)
        _ = bytes.initialize(from: source.bytes)
        self.bytes = UnsafeBufferPointer(bytes)
        for (i, need) in layout.segments.enumerated() {
            segmentIndex[i] = source.segmentIndex(id: need.id, occurrence: need.occurrence) ?? -1
        }
        fill(scope: 0)
    }

    func deallocate() {
        slots.deallocate()
        segmentIndex.deallocate()
        scopeSegment.deallocate()
        bytes.deallocate()
    }

    subscript(slot: Int) -> HL7Slot { slots[slot] }

    // MARK: scopes

    /// Runs `body` per element of the `each` scope, its slots filled, with the cursor and 1-based index
    /// the reference path gives that element (`HL7Cursor.segments`, `.repetitions`).
    func forEach<E: Error>(_ scope: Int, from cursor: HL7Cursor, _ body: (HL7Cursor, Int) throws(E) -> Void) throws(E) {
        switch layout.scopes[scope].kind {
        case .root:
            try body(cursor, 1)
        case .segments(let id):
            var occurrence = 0
            for index in source.segments.indices where source.segments[index].id == id {
                occurrence += 1
                scopeSegment[scope] = index
                fill(scope: scope)
                try body(HL7Cursor(segment: (id, occurrence), repetition: nil), occurrence)
            }
        case .repetitions(let address, let segment):
            let index = self.segment(segment)
            guard index >= 0 else { return }
            var occurrence = address.occurrence
            if let current = cursor.segment, current.id == address.segment, occurrence == 1 { occurrence = current.occurrence }
            let field = source.field(address.field, ofSegment: index)
            let separator = source.delimiters.repetition
            var start = field.range.lowerBound
            var number = 0
            var position = 0
            var i = start
            while true {
                let end = i == field.range.upperBound
                if end || bytes[i] == separator {
                    number += 1
                    if i > start {
                        position += 1
                        let element = HL7Source.Element(range: start..<i, level: .repetition)
                        let fields = layout.scopes[scope].fields
                        if !fields.isEmpty { fill(layout.fields[fields.lowerBound].leaves, in: element) }
                        var inner = cursor
                        inner.repetition = .init(segment: address.segment, occurrence: occurrence, field: address.field, number: number, element: element)
                        try body(inner, position)
                    }
                    if end { return }
                    start = i + 1
                }
                i += 1
            }
        }
    }

    /// The index in `source.segments` of the segment `ref` locates; -1 when it is absent.
    private func segment(_ ref: HL7Layout.SegmentRef) -> Int {
        switch ref {
        case .root(let need): segmentIndex[need]
        case .scope(let owner): scopeSegment[owner]
        }
    }

    private func fill(scope: Int) {
        for f in layout.scopes[scope].fields {
            let field = layout.fields[f]
            let index = segment(field.segment)
            if index < 0 {
                for leaf in field.leaves { slots[layout.leaves[leaf].slot].state = .none }
            } else {
                fill(field.leaves, in: source.field(field.number, ofSegment: index))
            }
        }
    }

    /// One scan of the element, recording each wanted leaf as the scan passes it.
    private func fill(_ wanted: Range<Int>, in element: HL7Source.Element) {
        let leaves = UnsafeBufferPointer(start: layout.leaves + wanted.lowerBound, count: wanted.count)
        if element.isLiteral {
            // MSH-1, MSH-2: the whole text is the first leaf; nothing below it.
            for leaf in leaves {
                let first = leaf.repetition == 1 && leaf.component == 1 && leaf.subcomponent == 1 && !element.isEmpty
                slots[leaf.slot] = HL7Slot(start: element.range.lowerBound, end: element.range.upperBound, state: first ? .bytes : .none)
            }
            return
        }
        let d = source.delimiters
        var next = 0
        var repetition = 1, component = 1, subcomponent = 1
        var start = element.range.lowerBound
        var escaped = false
        /// The piece (repetition, component, subcomponent) ends at `end`: record it if wanted (the wanted
        /// leaves before it are absent) and step past the separator; false once every leaf is found.
        func piece(endingAt end: Int, separator: UInt8) -> Bool {
            while next < leaves.count, (leaves[next].repetition, leaves[next].component, leaves[next].subcomponent) < (repetition, component, subcomponent) {
                slots[leaves[next].slot].state = .none
                next += 1
            }
            if next < leaves.count, leaves[next].repetition == repetition, leaves[next].component == component, leaves[next].subcomponent == subcomponent {
                let null = end - start == 2 && bytes[start] == UInt8(ascii: "\"") && bytes[start + 1] == UInt8(ascii: "\"")
                slots[leaves[next].slot] = HL7Slot(start: start, end: end, state: end == start || null ? .none : escaped ? .escaped : .bytes)
                next += 1
            }
            if separator == d.repetition {
                (repetition, component, subcomponent) = (repetition + 1, 1, 1)
            } else if separator == d.component {
                (component, subcomponent) = (component + 1, 1)
            } else {
                subcomponent += 1
            }
            start = end + 1
            escaped = false
            return next < leaves.count
        }
        // Eight bytes at a time: a mask of the bytes that are a separator or the escape (exact, SWAR),
        // visited lowest first; the bytes between them are never looked at one by one.
        let low: UInt64 = 0x7F7F_7F7F_7F7F_7F7F
        let ones: UInt64 = 0x0101_0101_0101_0101
        let patterns = (ones &* UInt64(d.repetition), ones &* UInt64(d.component), ones &* UInt64(d.subcomponent), ones &* UInt64(d.escape))
        func zeroBytes(_ x: UInt64) -> UInt64 { ~(((x & low) &+ low) | x | low) }
        var i = element.range.lowerBound
        let upper = element.range.upperBound
        while i < upper {
            var word: UInt64 = 0
            let count = min(8, upper - i)
            if count == 8 {
                word = UnsafeRawPointer(bytes.baseAddress! + i).loadUnaligned(as: UInt64.self)
            } else {
                for k in 0..<count { word |= UInt64(bytes[i + k]) << (8 * k) }
            }
            var marks = zeroBytes(word ^ patterns.0) | zeroBytes(word ^ patterns.1) | zeroBytes(word ^ patterns.2) | zeroBytes(word ^ patterns.3)
            if count < 8 { marks &= (1 << (8 * count)) - 1 }
            while marks != 0 {
                let at = i + marks.trailingZeroBitCount / 8
                marks &= marks - 1
                let byte = bytes[at]
                if byte == d.escape {
                    escaped = true
                } else if !piece(endingAt: at, separator: byte) {
                    return
                }
            }
            i += count
        }
        // The element's end closes the last piece.
        _ = piece(endingAt: upper, separator: d.repetition)
        while next < leaves.count {
            slots[leaves[next].slot].state = .none
            next += 1
        }
    }

    // MARK: reading

    /// A slot's text: its bytes in `source.bytes`, or decoded when it has escapes.
    enum Text {
        case none
        case bytes(Range<Int>)
        case decoded([UInt8])
    }

    /// The slot's text as `HL7Source.leaf` gives it (escapes resolved; the one `HL7Source` does not
    /// decode read through `HL7Message` at `cursor`); `none` when it is empty.
    func text(_ slot: Int, _ cursor: HL7Cursor) -> Text {
        let value = slots[slot]
        switch value.state {
        case .none: return .none
        case .bytes: return .bytes(value.start..<value.end)
        case .escaped:
            switch source.decode(value.start..<value.end) {
            case .decoded(let bytes): return bytes.isEmpty ? .none : .decoded(bytes)
            case .bytes(let range): return .bytes(range)
            case .none: return .none
            case .needsMessage:
                let path = layout.slotAddresses[slot].path
                guard let text = SourcePath.hl7Element(path, message: source.message, cursor: cursor).string, !text.isEmpty else { return .none }
                return .decoded(Array(text.utf8))
            }
        }
    }
}
