import MedBusCore
import MedBusHL7

/// A terser path as plain integers, its segment id packed as `HL7Source` indexes it (compared as one
/// integer): copying one retains nothing, which matters in a plan that reads a hundred per message.
struct HL7Address: Sendable {
    let segment: UInt32
    let occurrence: Int
    let field: Int
    let repetition: Int
    let component: Int?
    let subcomponent: Int?

    init(_ path: HL7Path) {
        // HL7Path accepts three-byte segment ids only.
        segment = HL7Source.pack(path.segmentID)!
        occurrence = path.segmentOccurrence
        field = path.field
        repetition = path.repetition
        component = path.component
        subcomponent = path.subcomponent
    }

    /// The path again, for reading through `HL7Message` (the one escape `HL7Source` does not decode).
    var path: HL7Path {
        let id = String(decoding: [UInt8(segment >> 16 & 0xFF), UInt8(segment >> 8 & 0xFF), UInt8(segment & 0xFF)], as: UTF8.self)
        // The fields came from a valid path.
        return try! HL7Path(segment: id, occurrence: occurrence, field: field, repetition: repetition, component: component, subcomponent: subcomponent)
    }
}

/// A path into the source, compiled for its format. Reading gives the first value as a JSON value
/// (text for HL7 and XML; JSON keeps numbers, booleans and structures).
enum SourcePath: Sendable {
    case hl7v2(HL7Address)
    case json(JSONPath)
    case xml(XPath)

    enum Format: String, Sendable { case hl7v2, json, hl7v3 }

    struct SyntaxError: Error { var message: String }

    static func compile(_ text: String, format: Format) throws(SyntaxError) -> SourcePath {
        switch format {
        case .hl7v2:
            do { return .hl7v2(HL7Address(try HL7Path(text))) } catch {
                throw SyntaxError(message: "'\(text)' is not an HL7 v2 terser path (e.g. PID-3[1].1)")
            }
        case .json:
            do { return .json(try JSONPath(text)) } catch { throw SyntaxError(message: "'\(text)' is not a json path: \(error.message)") }
        case .hl7v3:
            do { return .xml(try XPath(text)) } catch { throw SyntaxError(message: "'\(text)' is not a supported XPath: \(error.message)") }
        }
    }

    func read(_ context: SourceContext) -> JSONValue? {
        // One switch per enum (not over a tuple of both): matching a tuple copies, and retains, the document.
        switch self {
        case .hl7v2(let address):
            guard case .hl7v2(let source) = context.document else { return nil }
            return Self.hl7Text(address, source: source, cursor: context.hl7).map(JSONValue.string)
        case .json(let path):
            guard case .json(let root) = context.document else { return nil }
            return path.first(root: root, current: context.jsonCurrent)
        case .xml(let path):
            guard case .xml(let root) = context.document else { return nil }
            return path.strings(root: root, context: context.xmlCurrent ?? root).first.map(JSONValue.string)
        }
    }

    /// The text at a terser path; nil when absent or HL7 null.
    static func hl7Text(_ address: HL7Address, source: HL7Source, cursor: HL7Cursor) -> String? {
        source.string(hl7Element(address, source: source, cursor: cursor)) {
            hl7Element(address.path, message: source.message, cursor: cursor)
        }
    }

    /// The element a terser path names, with the iterated segment or repetition standing in for the one the
    /// path would otherwise address.
    static func hl7Element(_ address: HL7Address, source: HL7Source, cursor: HL7Cursor) -> HL7Source.Element {
        if let repetition = cursor.repetition, repetition.segment == address.segment, repetition.field == address.field {
            var element = repetition.element
            if let component = address.component { element = source.component(component, of: element) }
            if let subcomponent = address.subcomponent { element = source.subcomponent(subcomponent, of: element) }
            return element
        }
        var occurrence = address.occurrence
        if let segment = cursor.segment, segment.id == address.segment, occurrence == 1 { occurrence = segment.occurrence }
        return source.element(address, occurrence: occurrence)
    }

    /// The same element through `HL7Message` (the reference reading), for the values `HL7Source` does not
    /// decode itself.
    static func hl7Element(_ path: HL7Path, message: HL7Message, cursor: HL7Cursor) -> HL7Element {
        var occurrence = path.segmentOccurrence
        var repetition = path.repetition
        if let current = cursor.repetition, current.segment == HL7Source.pack(path.segmentID), current.field == path.field {
            occurrence = current.occurrence
            repetition = current.number
        } else if let segment = cursor.segment, segment.id == HL7Source.pack(path.segmentID), occurrence == 1 {
            occurrence = segment.occurrence
        }
        guard let segment = message.segment(withID: path.segmentID, occurrence: occurrence) else { return message.element(at: path) }
        var element = segment.field(path.field).repetition(repetition)
        if let component = path.component { element = element.component(component) }
        if let subcomponent = path.subcomponent { element = element.subcomponent(subcomponent) }
        return element
    }
}
