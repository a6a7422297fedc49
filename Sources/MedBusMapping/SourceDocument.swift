import MedBusCore
import MedBusHL7

/// A parsed input: parsed once by the catalog, read by every mapping that applies to it.
enum SourceDocument: Sendable {
    case hl7v2(HL7Source)
    case json(JSONValue)
    case xml(XMLNode)
}

/// Where evaluation stands: the document plus what enclosing `each` selectors iterate.
///
/// Copied once per `each` element, so the HL7 parts are plain integers and byte ranges (no Strings, no
/// references to retain).
struct SourceContext {
    let document: SourceDocument
    let headers: [String: String]
    /// hl7v2: the segment or field repetition enclosing `each` selectors iterate.
    var hl7 = HL7Cursor()
    /// json: `@`.
    var jsonCurrent: JSONValue = .null
    /// hl7v3: the node relative paths start from.
    var xmlCurrent: XMLNode?
    /// The 1-based position of the current element in the innermost `each` (`index: true`); nil outside `each`.
    var index: Int?

    init(document: SourceDocument, headers: [String: String]) {
        self.document = document
        self.headers = headers
        if case .xml(let root) = document { xmlCurrent = root }
        if case .json(let root) = document { jsonCurrent = root }
    }
}

/// What enclosing `each` selectors over an HL7 v2 message iterate: relative reads resolve against it.
struct HL7Cursor: Sendable {
    /// The segment an enclosing `each` iterates (packed id, 1-based occurrence).
    var segment: (id: UInt32, occurrence: Int)?
    /// The field repetition an enclosing `each` over a repeating field iterates.
    var repetition: Repetition?

    /// Repetition `number` of field `field` of the `occurrence`-th segment `segment`.
    struct Repetition: Sendable {
        var segment: UInt32
        var occurrence: Int
        var field: Int
        var number: Int
        var element: HL7Source.Element
    }
}

extension HL7Cursor {
    /// One cursor per segment with this id, in message order.
    func segments(_ id: UInt32, in source: HL7Source) -> [HL7Cursor] {
        (0..<source.count(of: id)).map { index in HL7Cursor(segment: (id, index + 1), repetition: nil) }
    }

    /// One cursor per non-empty repetition of the field `address` names (of the iterated segment when it
    /// is that one); just this cursor when it already iterates that field.
    func repetitions(_ address: HL7Address, in source: HL7Source) -> [HL7Cursor] {
        if let repetition, repetition.segment == address.segment, repetition.field == address.field { return [self] }
        var occurrence = address.occurrence
        if let segment, segment.id == address.segment, occurrence == 1 { occurrence = segment.occurrence }
        guard let index = source.segmentIndex(id: address.segment, occurrence: occurrence) else { return [] }
        let field = source.field(address.field, ofSegment: index)
        var cursors: [HL7Cursor] = []
        for (offset, element) in source.repetitions(of: field).enumerated() where !element.isEmpty {
            var inner = self
            inner.repetition = .init(segment: address.segment, occurrence: occurrence, field: address.field, number: offset + 1, element: element)
            cursors.append(inner)
        }
        return cursors
    }
}
