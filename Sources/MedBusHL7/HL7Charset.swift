import Glibc

/// The character sets a message may declare in MSH-18 that this module reads and writes.
///
/// Text is held as UTF-8 once parsed; the message remembers its character set so that serializing writes
/// the bytes back in it.
public enum HL7Charset: Hashable, Sendable, CustomStringConvertible {
    /// `UNICODE UTF-8`; also the default when MSH-18 is empty (configurable, see `HL7ParseOptions`).
    case utf8
    /// `ASCII`: any byte above 0x7F is an error.
    case ascii
    /// `GB 18030-2000` and the other spellings Chinese HIS vendors write. GBK and GB2312 are byte-for-byte
    /// subsets of GB18030, so messages declaring them are read with the same decoder.
    case gb18030

    /// Recognizes an MSH-18 value. Case, spaces, hyphens, underscores and dots are ignored, so
    /// `UNICODE UTF-8`, `UTF-8`, `utf8`; `ASCII`, `US-ASCII`; `GB 18030-2000`, `GB18030-2005`,
    /// `GB18030`, `GBK`, `GB2312`, `GB 2312`, `CP936` are all recognized. Plain `UNICODE` (UCS-2 in old
    /// versions) is not.
    public init?(hl7Name: some StringProtocol) {
        self.init(nameBytes: hl7Name.utf8)
    }

    /// The same on bytes, so that parsing makes no String for MSH-18.
    init?(nameBytes: some Collection<UInt8>) {
        guard let charset = Self.names[Self.key(nameBytes)] else { return nil }
        self = charset
    }

    private static let names: [[UInt8]: HL7Charset] = [
        "UNICODEUTF8": .utf8, "UTF8": .utf8, "ASCII": .ascii, "USASCII": .ascii,
        "GB18030": .gb18030, "GB180302000": .gb18030, "GB180302005": .gb18030, "GB180302022": .gb18030,
        "GBK": .gb18030, "GB2312": .gb18030, "CP936": .gb18030,
    ].reduce(into: [:]) { $0[Array($1.key.utf8)] = $1.value }

    /// Character set names this module knows but does not decode: HL7 table 0211 and common IANA names.
    /// Only these are repeated in an error; MSH-18 is free text and a broken sender may put anything there.
    static func isKnownUnsupportedName(_ name: some StringProtocol) -> Bool {
        let known: Set<String> = [
            "UNICODE", "UNICODEUTF16", "UNICODEUTF32", "UTF16", "UTF16LE", "UTF16BE", "UTF32", "BIG5", "BIG5HKSCS",
            "ISOIR6", "ISOIR14", "ISOIR58", "ISOIR87", "ISOIR159", "ISOIR100", "ISOIR192", "KSX1001", "CNS116431992",
            "WINDOWS1252", "CP1252", "SHIFTJIS", "EUCJP", "EUCKR", "EUCCN", "HZ",
        ]
        let key = String(decoding: Self.key(name.utf8), as: UTF8.self)
        // HL7's `8859/1`…`8859/15`, IANA's `ISO-8859-1`…
        let latin = ["8859/", "ISO8859"].first { key.hasPrefix($0) }.map { key.dropFirst($0.count) }
        return known.contains(key) || latin.map { (1...2).contains($0.count) && $0.allSatisfy(\.isASCII) && Int($0) != nil } == true
    }

    /// Case, spaces, hyphens, underscores and dots do not matter in a name.
    private static func key(_ name: some Collection<UInt8>) -> [UInt8] {
        var key: [UInt8] = []
        key.reserveCapacity(name.count)
        for byte in name where ![UInt8(ascii: " "), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ".")].contains(byte) {
            key.append((UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) ? byte - 0x20 : byte)
        }
        return key
    }

    /// The HL7 table 0211 value, as written into MSH-18 of a message this module creates.
    public var hl7Name: String {
        switch self {
        case .utf8: "UNICODE UTF-8"
        case .ascii: "ASCII"
        case .gb18030: "GB 18030-2000"
        }
    }

    public var description: String {
        switch self {
        case .utf8: "UTF-8"
        case .ascii: "ASCII"
        case .gb18030: "GB18030"
        }
    }
}

/// Conversion between a message's character set and the UTF-8 the parsed message holds.
enum Transcoder {
    enum Outcome {
        case converted([UInt8])
        /// The input byte at this offset starts an invalid or incomplete sequence.
        case invalid(byteOffset: Int)
        /// iconv has no converter for this pair on this system.
        case unavailable
    }

    /// Decodes `bytes` to UTF-8. UTF-8 and ASCII input is only validated: the same array comes back.
    static func decode(_ bytes: [UInt8], from charset: HL7Charset) -> Outcome {
        switch charset {
        case .utf8:
            firstInvalidUTF8(in: bytes).map { .invalid(byteOffset: $0) } ?? .converted(bytes)
        case .ascii:
            bytes.firstIndex { $0 >= 0x80 }.map { .invalid(byteOffset: $0) } ?? .converted(bytes)
        case .gb18030:
            // glibc's converter, not Foundation's: on Linux Foundation's GB18030 support is incomplete.
            iconv(bytes, from: "GB18030", to: "UTF-8")
        }
    }

    /// Encodes valid UTF-8 into `charset`; `.invalid` at the first character it cannot represent.
    static func encode(_ utf8: [UInt8], to charset: HL7Charset) -> Outcome {
        switch charset {
        case .utf8:
            .converted(utf8)
        case .ascii:
            utf8.firstIndex { $0 >= 0x80 }.map { .invalid(byteOffset: $0) } ?? .converted(utf8)
        case .gb18030:
            iconv(utf8, from: "UTF-8", to: "GB18030")
        }
    }

    /// Offset of the first byte that does not start a well-formed UTF-8 sequence (no overlongs, no
    /// surrogates, nothing above U+10FFFF), or nil when all of `bytes` is valid.
    static func firstInvalidUTF8(in bytes: [UInt8]) -> Int? {
        bytes.withUnsafeBufferPointer { buffer -> Int? in
            guard let base = buffer.baseAddress else { return nil }
            let count = buffer.count
            var i = 0
            while i < count {
                // Most HL7 text is ASCII: test eight bytes at a time.
                if i + 8 <= count, UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self) & 0x8080_8080_8080_8080 == 0 {
                    i += 8
                    continue
                }
                let lead = base[i]
                if lead < 0x80 {
                    i += 1
                    continue
                }
                let length: Int
                let second: ClosedRange<UInt8>
                switch lead {
                case 0xC2...0xDF: (length, second) = (2, 0x80...0xBF)
                case 0xE0: (length, second) = (3, 0xA0...0xBF)
                case 0xED: (length, second) = (3, 0x80...0x9F)
                case 0xE1...0xEF: (length, second) = (3, 0x80...0xBF)
                case 0xF0: (length, second) = (4, 0x90...0xBF)
                case 0xF1...0xF3: (length, second) = (4, 0x80...0xBF)
                case 0xF4: (length, second) = (4, 0x80...0x8F)
                default: return i
                }
                guard i + length <= count, second.contains(base[i + 1]) else { return i }
                for k in 2..<length where base[i + k] & 0xC0 != 0x80 { return i }
                i += length
            }
            return nil
        }
    }

    private static func iconv(_ input: [UInt8], from source: String, to target: String) -> Outcome {
        guard !input.isEmpty else { return .converted([]) }
        let descriptor = iconv_open(target, source)
        guard let descriptor, Int(bitPattern: descriptor) != -1 else { return .unavailable }
        defer { iconv_close(descriptor) }

        // GB18030 → UTF-8 grows at most 3/2 (two bytes become three); UTF-8 → GB18030 at most 2 (é: 2 → 4).
        var output = [UInt8](repeating: 0, count: input.count * 2 + 16)
        var produced = 0
        var consumed = 0
        while true {
            let failure: Int32? = input.withUnsafeBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(mutating: inBuffer.baseAddress! + consumed)
                        .assumingMemoryBound(to: CChar.self)
                    var inLeft = inBuffer.count - consumed
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress! + produced)
                        .assumingMemoryBound(to: CChar.self)
                    var outLeft = outBuffer.count - produced
                    let result = Glibc.iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft)
                    let error = result == -1 ? errno : nil
                    consumed = inBuffer.count - inLeft
                    produced = outBuffer.count - outLeft
                    return error
                }
            }
            switch failure {
            case nil:
                output.removeSubrange(produced...)
                return .converted(output)
            case E2BIG:
                output.append(contentsOf: repeatElement(0, count: output.count))
            default:  // EILSEQ (invalid sequence) or EINVAL (incomplete sequence at the end)
                return .invalid(byteOffset: consumed)
            }
        }
    }
}
