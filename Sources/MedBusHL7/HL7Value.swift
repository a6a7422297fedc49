/// What a field (or component, or sub-component) holds.
///
/// HL7 distinguishes a value that is not sent from one sent as `""`: the first means "no information,
/// keep what you have", the second "delete the stored value".
public enum HL7Value: Hashable, Sendable {
    /// Nothing was sent.
    case absent
    /// HL7 null, `""` on the wire: the sender asks the receiver to delete its value.
    case null
    /// Text with escape sequences resolved.
    case text(String)

    /// The text, or nil when absent or null.
    public var string: String? {
        if case .text(let text) = self { text } else { nil }
    }
}

/// HL7 escape sequences (v2 §2.7): decoded when a value is read, produced when one is written.
///
/// Read: `\F\ \S\ \T\ \R\ \E\` become the delimiters, `\P\` the truncation character (v2.7+), `\Xhh…\` the
/// bytes it spells in the message's character set, `\.br\` a line feed. Every other sequence (`\H\`, `\N\`,
/// `\Zxx\`, `\.sp\`, `\Cxxyy\`, …) and any malformed one is kept verbatim, escape characters included.
///
/// Write: the delimiters and the escape character are escaped, line breaks (CR LF, CR or LF) become
/// `\.br\` (`\X0A\` when `.` is a delimiter), other control characters `\Xhh\`, and a text that is just
/// `""` (which would read as null) gets its first quote as `\X22\`. So reading what was written gives back
/// the text, with line breaks as LF. A verbatim sequence is escaped like any text when written back: only
/// a byte-level copy keeps formatting sequences active.
enum Escaping {
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters, charset: HL7Charset) -> String {
        let escape = delimiters.escape
        guard bytes.contains(escape) else { return String(decoding: bytes, as: UTF8.self) }
        var output: [UInt8] = []
        output.reserveCapacity(bytes.count)
        var i = 0
        while i < bytes.count {
            let byte = bytes[i]
            guard byte == escape, let close = bytes[(i + 1)...].firstIndex(of: escape), close > i + 1 else {
                output.append(byte)
                i += 1
                continue
            }
            let sequence = UnsafeBufferPointer(rebasing: bytes[(i + 1)..<close])
            if let decoded = decodeSequence(sequence, delimiters: delimiters, charset: charset) {
                output.append(contentsOf: decoded)
            } else {
                output.append(contentsOf: bytes[i...close])
            }
            i = close + 1
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// The bytes an escape sequence (without its escape characters) stands for; nil keeps it verbatim.
    private static func decodeSequence(_ sequence: UnsafeBufferPointer<UInt8>, delimiters: HL7Delimiters, charset: HL7Charset) -> [UInt8]? {
        if sequence.count == 1 {
            switch sequence[0] {
            case UInt8(ascii: "F"): return [delimiters.field]
            case UInt8(ascii: "S"): return [delimiters.component]
            case UInt8(ascii: "T"): return [delimiters.subcomponent]
            case UInt8(ascii: "R"): return [delimiters.repetition]
            case UInt8(ascii: "E"): return [delimiters.escape]
            case UInt8(ascii: "P"): return delimiters.truncation.map { [$0] }
            default: return nil
            }
        }
        if sequence.elementsEqual(".br".utf8) { return [0x0A] }
        guard sequence[0] == UInt8(ascii: "X"), sequence.count >= 3, sequence.count % 2 == 1 else { return nil }
        var raw: [UInt8] = []
        var k = 1
        while k < sequence.count {
            guard let high = hexValue(sequence[k]), let low = hexValue(sequence[k + 1]) else { return nil }
            raw.append(high << 4 | low)
            k += 2
        }
        // The hex spells bytes in the message's own character set, which may not be UTF-8.
        guard case .converted(let utf8) = Transcoder.decode(raw, from: charset) else { return nil }
        return utf8
    }

    /// `text` as it goes on the wire (still UTF-8; the character set is applied when serializing).
    static func encode(_ text: String, delimiters: HL7Delimiters) -> [UInt8] {
        let escape = delimiters.escape
        if text == "\"\"" {
            // Two quotes alone on the wire are HL7 null; spell the first one in hex to keep it text.
            return [escape] + Array("X22".utf8) + [escape, UInt8(ascii: "\"")]
        }
        var output: [UInt8] = []
        output.reserveCapacity(text.utf8.count)
        var previousWasCR = false
        for byte in text.utf8 {
            defer { previousWasCR = byte == 0x0D }
            let letter: UInt8?
            switch byte {
            case delimiters.field: letter = UInt8(ascii: "F")
            case delimiters.component: letter = UInt8(ascii: "S")
            case delimiters.subcomponent: letter = UInt8(ascii: "T")
            case delimiters.repetition: letter = UInt8(ascii: "R")
            case escape: letter = UInt8(ascii: "E")
            case delimiters.truncation: letter = UInt8(ascii: "P")
            default: letter = nil
            }
            if let letter {
                output.append(contentsOf: [escape, letter, escape])
            } else if byte == 0x0A && previousWasCR {
                continue  // CR LF is one line break, already written for the CR
            } else if byte == 0x0A || byte == 0x0D {
                // `.` may be a delimiter (it is legal as one), and then `\.br\` would be split apart.
                let lineBreak = delimiters.isReserved(UInt8(ascii: ".")) ? "X0A" : ".br"
                output.append(escape)
                output.append(contentsOf: lineBreak.utf8)
                output.append(escape)
            } else if (byte < 0x20 && byte != 0x09) || byte == 0x7F {
                output.append(contentsOf: [escape, UInt8(ascii: "X"), hexDigit(byte >> 4), hexDigit(byte & 0xF), escape])
            } else {
                output.append(byte)
            }
        }
        return output
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        default: nil
        }
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "A") + value - 10
    }
}
