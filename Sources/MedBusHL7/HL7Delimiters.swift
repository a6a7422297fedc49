/// The delimiters a message declares in MSH-1 and MSH-2 (or FHS/BHS-1 and -2 for a batch envelope).
///
/// Any choice the standard allows is accepted, not only `|^~\&`: each delimiter is one printable,
/// non-alphanumeric ASCII character and all of them differ. v2.7 added an optional fifth MSH-2
/// character, the truncation character (`#` by convention), which marks a value the sender cut short.
public struct HL7Delimiters: Hashable, Sendable {
    public let field: UInt8
    public let component: UInt8
    public let repetition: UInt8
    public let escape: UInt8
    public let subcomponent: UInt8
    /// The v2.7+ truncation character, or nil when MSH-2 has only four characters.
    public let truncation: UInt8?

    /// `|^~\&`, the delimiters nearly every sender uses.
    public static let standard = HL7Delimiters(
        uncheckedField: UInt8(ascii: "|"), component: UInt8(ascii: "^"), repetition: UInt8(ascii: "~"),
        escape: UInt8(ascii: "\\"), subcomponent: UInt8(ascii: "&"), truncation: nil)

    /// Delimiters for building a message.
    ///
    /// - Throws: `HL7Error.invalidDelimiters` when a character is not a single printable, non-alphanumeric
    ///   ASCII character, or two of them are the same.
    public init(
        field: Character, component: Character, repetition: Character, escape: Character,
        subcomponent: Character, truncation: Character? = nil
    ) throws(HL7Error) {
        let characters = [field, component, repetition, escape, subcomponent] + (truncation.map { [$0] } ?? [])
        let bytes = characters.compactMap { $0.isASCII ? $0.asciiValue : nil }
        guard bytes.count == characters.count,
            let delimiters = HL7Delimiters(field: bytes[0], encodingCharacters: bytes.dropFirst())
        else { throw .invalidDelimiters(segmentID: "MSH", field: 2) }
        self = delimiters
    }

    /// Reads MSH-1 and MSH-2; nil unless they form a legal set (four or five encoding characters).
    init?(field: UInt8, encodingCharacters: some Collection<UInt8>) {
        let encoding = Array(encodingCharacters)
        guard encoding.count == 4 || encoding.count == 5 else { return nil }
        let all = [field] + encoding
        guard all.allSatisfy(Self.isLegal), Set(all).count == all.count else { return nil }
        self.init(
            uncheckedField: field, component: encoding[0], repetition: encoding[1], escape: encoding[2],
            subcomponent: encoding[3], truncation: encoding.count == 5 ? encoding[4] : nil)
    }

    private init(uncheckedField field: UInt8, component: UInt8, repetition: UInt8, escape: UInt8, subcomponent: UInt8, truncation: UInt8?) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
        self.truncation = truncation
    }

    /// A delimiter is printable ASCII and neither a letter nor a digit (those would be read as data).
    static func isLegal(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"):
            false
        default:
            (0x21...0x7E).contains(byte)
        }
    }

    /// MSH-2 as written: component, repetition, escape, sub-component and the truncation character if any.
    var encodingCharacters: [UInt8] {
        [component, repetition, escape, subcomponent] + (truncation.map { [$0] } ?? [])
    }

    /// Whether `byte` is one of the characters that must be escaped inside a value.
    func isReserved(_ byte: UInt8) -> Bool {
        byte == field || byte == component || byte == repetition || byte == escape || byte == subcomponent
            || byte == truncation
    }
}
