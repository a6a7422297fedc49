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
    /// hl7v2: the segment an enclosing `each` iterates (packed id, 1-based occurrence).
    var segment: (id: UInt32, occurrence: Int)?
    /// hl7v2: the field repetition an enclosing `each` over a repeating field iterates.
    var repetition: Repetition?
    /// json: `@`.
    var jsonCurrent: JSONValue = .null
    /// hl7v3: the node relative paths start from.
    var xmlCurrent: XMLNode?

    /// Repetition `number` of field `field` of the `occurrence`-th segment `segment`.
    struct Repetition {
        var segment: UInt32
        var occurrence: Int
        var field: Int
        var number: Int
        var element: HL7Source.Element
    }

    init(document: SourceDocument, headers: [String: String]) {
        self.document = document
        self.headers = headers
        if case .xml(let root) = document { xmlCurrent = root }
        if case .json(let root) = document { jsonCurrent = root }
    }
}
