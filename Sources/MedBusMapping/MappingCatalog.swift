import MedBusCore
import MedBusHL7

/// The active mappings. Each input is parsed once, in the format its first bytes announce, and every
/// mapping whose source matches is applied to that one parse.
public struct MappingCatalog: Sendable {
    let mappings: [Mapping]
    private let formats: Set<SourcePath.Format>

    public init(_ mappings: [Mapping]) {
        self.mappings = mappings
        formats = Set(mappings.map(\.source.format))
    }

    public var targetTopics: Set<String> { Set(mappings.flatMap(\.targetTopics)) }

    public func apply(_ input: MappingInput) -> Result<MappingOutcome, MappingFailure> {
        guard let format = Self.sniff(input.payload) else {
            return .failure(MappingFailure(reason: .unparseableInput, message: "payload is not HL7 v2, XML or JSON"))
        }
        guard formats.contains(format) else {
            return .failure(MappingFailure(reason: .noMapping, message: "no mapping for \(format.rawValue) input"))
        }
        let document: SourceDocument
        switch format {
        case .hl7v2:
            do { document = .hl7v2(HL7Source(try HL7Message(parsing: input.payload))) } catch {
                return .failure(MappingFailure(reason: .unparseableInput, message: "payload is not a parseable HL7 v2 message"))
            }
        case .json:
            do { document = .json(try JSONParser.parse(input.payload)) } catch {
                return .failure(MappingFailure(reason: .unparseableInput, message: "payload is not valid JSON (\(error.message) at byte \(error.offset))"))
            }
        case .hl7v3:
            do { document = .xml(try XMLNode.parse(input.payload)) } catch {
                return .failure(MappingFailure(reason: .unparseableInput, message: "payload is not well-formed XML"))
            }
        }
        let (messageType, version) = Self.identify(document, headers: input.headers, mappings: mappings)
        let sender = input.headers["medbus-source"] ?? ""
        var records: [MappedRecord] = []
        var matched = 0
        var filtered = 0
        for mapping in mappings {
            let type = format == .json ? (mapping.source.typePath.flatMap { jsonType(document, $0) } ?? messageType) : messageType
            guard mapping.matches(format: format, messageType: type, sender: sender, version: version) else { continue }
            matched += 1
            do {
                switch try mapping.apply(document, headers: input.headers) {
                case .filtered: filtered += 1
                case .records(let produced): records.append(contentsOf: produced)
                }
            } catch {
                return .failure(error)
            }
        }
        guard matched > 0 else {
            return .failure(MappingFailure(reason: .noMapping, message: "no mapping matches this \(format.rawValue) record's type, sender and version"))
        }
        return .success(filtered == matched ? .filtered : .records(records))
    }

    private func jsonType(_ document: SourceDocument, _ path: JSONPath) -> String? {
        guard case .json(let root) = document else { return nil }
        return path.first(root: root, current: root)?.scalarText
    }

    /// The first significant byte decides: `<` XML, `{`/`[` JSON, `MSH`/`FHS`/`BHS` HL7 v2.
    static func sniff(_ payload: [UInt8]) -> SourcePath.Format? {
        var i = 0
        if payload.starts(with: [0xEF, 0xBB, 0xBF]) { i = 3 }
        while i < payload.count, payload[i] == 0x20 || payload[i] == 0x09 || payload[i] == 0x0A || payload[i] == 0x0D || payload[i] == 0x0B {
            i += 1
        }
        guard i < payload.count else { return nil }
        switch payload[i] {
        case UInt8(ascii: "<"): return .hl7v3
        case UInt8(ascii: "{"), UInt8(ascii: "["): return .json
        default:
            guard i + 3 <= payload.count else { return nil }
            let head = payload[i..<(i + 3)]
            return head.elementsEqual("MSH".utf8) || head.elementsEqual("FHS".utf8) || head.elementsEqual("BHS".utf8) ? .hl7v2 : nil
        }
    }

    /// Message type and (hl7v2) version of a parsed document, as `source` matching reads them.
    static func identify(_ document: SourceDocument, headers: [String: String], mappings: [Mapping]) -> (String?, String?) {
        switch document {
        case .hl7v2(let source):
            let message = source.message
            let msh = message.msh.segment
            let code = msh.field(9).component(1).string ?? ""
            let event = msh.field(9).component(2).string
            let type = event.map { code + "^" + $0 } ?? code
            return (type, msh.field(12).component(1).string)
        case .xml(let root):
            let interaction = root.children.first(where: { $0.name == "interactionId" })?.attribute("extension")
            return (interaction ?? root.name, nil)
        case .json:
            return (headers["medbus-message-type"], nil)
        }
    }
}
