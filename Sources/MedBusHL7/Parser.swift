/// How a parse treats what MSH does not settle.
public struct HL7ParseOptions: Hashable, Sendable {
    /// The character set of a message whose MSH-18 is empty. UTF-8 reads plain ASCII too; set `.gb18030`
    /// for senders that send GB18030 without declaring it.
    public var defaultCharset: HL7Charset

    public init(defaultCharset: HL7Charset = .utf8) {
        self.defaultCharset = defaultCharset
    }
}

/// The lenient parser: finds the header, decodes the character set, then indexes segments and fields in
/// one pass. Components and below are found later, only in the fields that are read.
enum Parser {
    static let cr: UInt8 = 0x0D
    static let lf: UInt8 = 0x0A

    /// What the first segment (MSH, or FHS/BHS of a batch envelope) says before any decoding.
    struct Header {
        /// First byte of the segment id.
        let start: Int
        /// End of the segment, before its terminator.
        let end: Int
        let id: UInt32
        let delimiters: HL7Delimiters
        let lineFeedTerminates: Bool
    }

    struct Index {
        var segments: [SegmentRecord] = []
        var pieceEnds: [Int] = []
        /// 1-based number of the first segment without a valid id; indexing stops there.
        var invalidSegment: Int?
    }

    static func parse(
        _ input: [UInt8], options: HL7ParseOptions, headers: [UInt32] = [SegmentID.msh], charset forcedCharset: HL7Charset? = nil
    ) throws(HL7Error) -> MessageStorage {
        var header = try readHeader(input, allowed: headers)
        var charset = options.defaultCharset
        if let forcedCharset {
            charset = forcedCharset
        } else if let declared = try declaredCharset(input, header: header) {
            charset = declared
        }
        let bytes: [UInt8]
        switch Transcoder.decode(input, from: charset) {
        case .converted(let decoded):
            bytes = decoded
        case .invalid(let offset):
            let location = locate(offset, in: input, charset: charset, header: header)
            throw .invalidEncoding(charset: charset, byteOffset: offset, location: location)
        case .unavailable:
            throw .charsetUnavailable(charset)
        }
        if charset == .gb18030 {
            // Offsets moved with decoding; the header's text (ASCII) did not.
            header = try readHeader(bytes, allowed: headers)
        }
        let index = index(bytes, from: header.start, fieldSeparator: header.delimiters.field, lineFeedTerminates: header.lineFeedTerminates)
        if let invalid = index.invalidSegment { throw .invalidSegmentID(segmentIndex: invalid) }
        return MessageStorage(
            bytes: bytes, index: index, delimiters: header.delimiters, charset: charset, lineFeedTerminates: header.lineFeedTerminates)
    }

    /// Where the content starts: after a UTF-8 byte order mark and any blank lines or spaces.
    static func contentStart(of bytes: [UInt8]) -> Int {
        var i = bytes.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        while i < bytes.count, [cr, lf, 0x20, 0x09].contains(bytes[i]) { i += 1 }
        return i
    }

    /// Reads the segment id, MSH-1 and MSH-2 byte by byte; these are ASCII in every character set.
    static func readHeader(_ bytes: [UInt8], allowed: [UInt32]) throws(HL7Error) -> Header {
        let count = bytes.count
        let start = contentStart(of: bytes)
        guard start < count else { throw .emptyMessage }
        let idBytes = bytes[start..<min(start + 3, count)]
        guard let id = SegmentID.pack(idBytes), allowed.contains(id) else {
            let cutShort = start + 3 > count && allowed.contains { Array(SegmentID.string($0).utf8).starts(with: idBytes) }
            throw cutShort ? .truncated(byteOffset: count) : .noMSH
        }
        let segmentID = SegmentID.string(id)
        guard start + 3 < count else { throw .truncated(byteOffset: count) }
        let fieldSeparator = bytes[start + 3]
        guard HL7Delimiters.isLegal(fieldSeparator) else { throw .invalidDelimiters(segmentID: segmentID, field: 1) }
        var end = start + 4
        while end < count, bytes[end] != fieldSeparator, bytes[end] != cr, bytes[end] != lf { end += 1 }
        let encodingCharacters = bytes[(start + 4)..<end]
        if end == count && encodingCharacters.count < 4 { throw .truncated(byteOffset: count) }
        guard let delimiters = HL7Delimiters(field: fieldSeparator, encodingCharacters: encodingCharacters) else {
            throw .invalidDelimiters(segmentID: segmentID, field: 2)
        }
        while end < count, bytes[end] != cr, bytes[end] != lf { end += 1 }
        // The header's own terminator says how the sender ends segments: with CR alone, an LF elsewhere is
        // data (multi-line text pasted into OBX-5 by sloppy senders); with LF or CR LF, both end segments.
        let lineFeedTerminates = end < count && (bytes[end] == lf || (end + 1 < count && bytes[end + 1] == lf))
        return Header(start: start, end: end, id: id, delimiters: delimiters, lineFeedTerminates: lineFeedTerminates)
    }

    /// The header segment's fields split on the field separator, before the message is decoded.
    ///
    /// A GB18030 character's second byte can be `|` or `\`, so when the header is not UTF-8 (in which no
    /// byte of a multibyte character is ASCII) two- and four-byte GB18030 characters are stepped over whole.
    static func headerPieces(_ bytes: [UInt8], header: Header) -> [Range<Int>] {
        let segment = bytes[header.start..<header.end]
        let stepsOverGB18030 = segment.contains { $0 >= 0x80 } && Transcoder.firstInvalidUTF8(in: Array(segment)) != nil
        var pieces: [Range<Int>] = []
        var pieceStart = header.start
        var i = header.start
        while i < header.end {
            let byte = bytes[i]
            if byte == header.delimiters.field {
                pieces.append(pieceStart..<i)
                pieceStart = i + 1
                i += 1
            } else if stepsOverGB18030 && (0x81...0xFE).contains(byte) {
                let fourBytes = i + 1 < header.end && (0x30...0x39).contains(bytes[i + 1])
                i = min(i + (fourBytes ? 4 : 2), header.end)
            } else {
                i += 1
            }
        }
        pieces.append(pieceStart..<header.end)
        return pieces
    }

    /// The character set MSH-18 names; nil when it is empty.
    ///
    /// MSH-18 may repeat: `ASCII~GB 18030-2000` names the single-byte default first and the set actually
    /// used after it, so a later recognized multibyte set wins over a first `ASCII`.
    static func declaredCharset(_ bytes: [UInt8], header: Header) throws(HL7Error) -> HL7Charset? {
        guard header.id == SegmentID.msh else { return nil }
        let pieces = headerPieces(bytes, header: header)
        guard pieces.count > 17 else { return nil }
        let delimiters = header.delimiters
        let names = bytes[pieces[17]].split(separator: delimiters.repetition, omittingEmptySubsequences: false).map { repetition in
            let name = repetition.prefix { $0 != delimiters.component }
            let start = name.firstIndex { $0 != 0x20 } ?? name.endIndex
            let end = name.lastIndex { $0 != 0x20 }.map { $0 + 1 } ?? start
            return name[start..<end]
        }
        guard let first = names.first, !first.isEmpty else { return nil }
        guard let charset = HL7Charset(nameBytes: first) else {
            let name = String(decoding: first, as: UTF8.self)
            throw .unsupportedCharset(name: HL7Charset.isKnownUnsupportedName(name) ? name : nil)
        }
        if charset == .ascii, let alternate = names.dropFirst().lazy.compactMap({ HL7Charset(nameBytes: $0) }).first {
            return alternate
        }
        return charset
    }

    /// Finds every segment and field separator after `start`.
    ///
    /// Segments end at CR (and at LF when `lineFeedTerminates`); runs of terminators, blank lines and lines
    /// of only spaces are skipped, so CR LF and stray blank lines parse like CR.
    static func index(_ bytes: [UInt8], from start: Int, fieldSeparator: UInt8, lineFeedTerminates: Bool) -> Index {
        // Locals, not the captured result: appends through a closure capture would pay for exclusivity checks.
        bytes.withUnsafeBufferPointer { buffer in
            var segments: [SegmentRecord] = []
            var pieceEnds: [Int] = []
            pieceEnds.reserveCapacity(buffer.count / 8 + 16)
            let count = buffer.count
            var i = start
            while i < count {
                let first = buffer[i]
                if first == cr || first == lf {
                    i += 1
                    continue
                }
                let segmentStart = i
                let firstPiece = pieceEnds.count
                while i < count {
                    // Skip eight bytes at a time while none of them is a separator or terminator (SWAR).
                    if i + 8 <= count, let base = buffer.baseAddress {
                        let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                        var hits = hasByte(word, fieldSeparator) | hasByte(word, cr)
                        if lineFeedTerminates { hits |= hasByte(word, lf) }
                        if hits == 0 {
                            i += 8
                            continue
                        }
                    }
                    let byte = buffer[i]
                    if byte == fieldSeparator {
                        pieceEnds.append(i)
                    } else if byte == cr || (byte == lf && lineFeedTerminates) {
                        break
                    }
                    i += 1
                }
                pieceEnds.append(i)
                if first == 0x20 || first == 0x09, buffer[segmentStart..<i].allSatisfy({ $0 == 0x20 || $0 == 0x09 }) {
                    pieceEnds.removeSubrange(firstPiece...)
                    continue
                }
                guard let id = SegmentID.pack(buffer[segmentStart..<pieceEnds[firstPiece]]) else {
                    return Index(segments: segments, pieceEnds: pieceEnds, invalidSegment: segments.count + 1)
                }
                segments.append(
                    SegmentRecord(id: id, start: segmentStart, end: i, firstPiece: firstPiece, pieceCount: pieceEnds.count - firstPiece))
            }
            return Index(segments: segments, pieceEnds: pieceEnds, invalidSegment: nil)
        }
    }

    /// Nonzero when some byte of `word` equals `byte` (the classic "has zero byte" test on `word ^ byte…`).
    @inline(__always)
    private static func hasByte(_ word: UInt64, _ byte: UInt8) -> UInt64 {
        let x = word ^ (0x0101_0101_0101_0101 &* UInt64(byte))
        return (x &- 0x0101_0101_0101_0101) & ~x & 0x8080_8080_8080_8080
    }

    /// The field an invalid byte falls in, found by indexing the (valid) bytes before it.
    private static func locate(_ offset: Int, in input: [UInt8], charset: HL7Charset, header: Header) -> HL7ErrorLocation? {
        guard header.start <= offset, case .converted(let prefix) = Transcoder.decode(Array(input[..<offset]), from: charset) else {
            return nil
        }
        let delimiters = header.delimiters
        let index = index(prefix, from: header.start, fieldSeparator: delimiters.field, lineFeedTerminates: header.lineFeedTerminates)
        guard index.invalidSegment == nil, let segment = index.segments.last, segment.end == prefix.count else { return nil }
        let sequence = index.segments.count(where: { $0.id == segment.id })
        let isHeader = SegmentID.isHeader(segment.id)
        var location = HL7ErrorLocation(segmentID: SegmentID.string(segment.id), segmentSequence: sequence)
        guard segment.pieceCount > 1 else { return location }
        let field = isHeader ? segment.pieceCount : segment.pieceCount - 1
        location.field = field
        guard !isHeader || field > 2 else { return location }
        var (repetition, component, subcomponent) = (1, 1, 1)
        for byte in prefix[(index.pieceEnds[segment.firstPiece + segment.pieceCount - 2] + 1)...] {
            switch byte {
            case delimiters.repetition: (repetition, component, subcomponent) = (repetition + 1, 1, 1)
            case delimiters.component: (component, subcomponent) = (component + 1, 1)
            case delimiters.subcomponent: subcomponent += 1
            default: break
            }
        }
        location.fieldRepetition = repetition
        location.component = component
        location.subcomponent = subcomponent
        return location
    }
}
