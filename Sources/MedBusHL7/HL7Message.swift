/// One HL7 v2 message (v2.3 to v2.8): parsed leniently into segments and fields, read by terser path or
/// through typed segment views, changed by path, and serialized back.
///
/// The message keeps its bytes (as UTF-8) and the offsets of its segments and fields; components, escape
/// sequences and Strings are only worked out for what is read. An unchanged message serializes to exactly
/// the bytes it was parsed from.
///
/// `description` names the message type and shape only: printing a message never prints patient data.
public struct HL7Message: Sendable, CustomStringConvertible {
    var storage: MessageStorage

    /// Parses one message.
    ///
    /// Delimiters come from MSH-1 and MSH-2. The character set comes from MSH-18 (or
    /// `options.defaultCharset` when it is empty) and the whole message is decoded before it is split, since
    /// GB18030 characters can contain `|` and `\` bytes. Segments end at CR; a sender that ends MSH with LF or
    /// CR LF has LF accepted as well.
    ///
    /// - Throws: `HL7Error`: `.emptyMessage`, `.noMSH`, `.truncated`, `.invalidDelimiters`,
    ///   `.unsupportedCharset`, `.invalidEncoding` (with the offending byte's offset), `.invalidSegmentID`,
    ///   or `.charsetUnavailable` when this system's iconv cannot decode GB18030.
    ///   Any input, however damaged, ends in a value or one of these errors.
    public init(parsing bytes: [UInt8], options: HL7ParseOptions = HL7ParseOptions()) throws(HL7Error) {
        storage = try Parser.parse(bytes, options: options)
    }

    init(storage: MessageStorage) {
        self.storage = storage
    }

    public var delimiters: HL7Delimiters { storage.delimiters }

    /// The character set the message was read in and is written in.
    public var charset: HL7Charset { storage.charset }

    public var segmentCount: Int { storage.segments.count }

    public var segments: [HL7Segment] { storage.segments.indices.map { HL7Segment(storage: storage, index: $0) } }

    /// All segments with this id, in order.
    public func segments(withID id: String) -> [HL7Segment] {
        guard let packed = SegmentID.pack(Array(id.utf8)) else { return [] }
        return storage.segments.indices.filter { storage.segments[$0].id == packed }.map { HL7Segment(storage: storage, index: $0) }
    }

    /// The `occurrence`-th segment with this id (1 for the first).
    public func segment(withID id: String, occurrence: Int = 1) -> HL7Segment? {
        guard let packed = SegmentID.pack(Array(id.utf8)), let index = storage.segmentIndex(id: packed, occurrence: occurrence) else {
            return nil
        }
        return HL7Segment(storage: storage, index: index)
    }

    /// The element a path addresses, at the deepest level it names: `PID-3` is PID-3's first repetition,
    /// `PID-5.1` a component. Absent (empty) when the message does not have it.
    public func element(at path: HL7Path) -> HL7Element {
        guard let index = storage.segmentIndex(id: path.packedSegmentID, occurrence: path.segmentOccurrence) else {
            return HL7Element(storage: storage, range: 0..<0, level: .field)
        }
        var element = HL7Segment(storage: storage, index: index).field(path.field).repetition(path.repetition)
        if let component = path.component { element = element.component(component) }
        if let subcomponent = path.subcomponent { element = element.subcomponent(subcomponent) }
        return element
    }

    /// The value at a path. As in HAPI's terser, a path that stops above the leaves reads the first one:
    /// `MSH-9` is `ADT` in `ADT^A01`.
    public func value(at path: HL7Path) -> HL7Value { element(at: path).value }

    /// The text at a path; nil when absent or HL7 null (use `value(at:)` to tell them apart).
    public subscript(path: HL7Path) -> String? { value(at: path).string }

    public var description: String {
        // Codes only: a sender could put anything in these fields, and descriptions end up in logs.
        func code(_ element: HL7Element) -> String? {
            let isCode = { (text: String) in text.count <= 12 && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == ".") } }
            return element.string.flatMap { isCode($0) ? $0 : nil }
        }
        let msh = self.msh.segment
        let type = [code(msh.field(9).component(1)), code(msh.field(9).component(2))].compactMap { $0 }.joined(separator: "^")
        let version = code(msh.field(12).component(1)).map { " v\($0)" } ?? ""
        return "HL7\(version) \(type.isEmpty ? "message" : type) (\(segmentCount) segments, \(storage.bytes.count) bytes, \(charset))"
    }
}
