/// The bytes of a parsed message and where its segments and fields are: the only allocation a parse makes
/// besides the input itself. Values become Strings only when asked for.
final class MessageStorage: Sendable {
    /// The whole message as UTF-8, segment terminators, blank lines and all, so that an unchanged message
    /// serializes to exactly what was received.
    let bytes: [UInt8]
    let segments: [SegmentRecord]
    /// End (exclusive) of every field of every segment, in order; see `SegmentRecord`.
    let pieceEnds: [Int]
    let delimiters: HL7Delimiters
    let charset: HL7Charset
    /// Whether a lone LF ends a segment; see `Parser.index`.
    let lineFeedTerminates: Bool

    init(bytes: [UInt8], index: Parser.Index, delimiters: HL7Delimiters, charset: HL7Charset, lineFeedTerminates: Bool) {
        self.bytes = bytes
        self.segments = index.segments
        self.pieceEnds = index.pieceEnds
        self.delimiters = delimiters
        self.charset = charset
        self.lineFeedTerminates = lineFeedTerminates
    }

    /// The range of piece `piece` of segment `segment`, where piece 0 is the segment id and piece n the
    /// n-th field separator's right-hand side (so for MSH, piece 1 is MSH-2).
    func pieceRange(segment: Int, piece: Int) -> Range<Int>? {
        let record = segments[segment]
        guard piece >= 0, piece < record.pieceCount else { return nil }
        let start = piece == 0 ? record.start : pieceEnds[record.firstPiece + piece - 1] + 1
        return start..<pieceEnds[record.firstPiece + piece]
    }

    /// Index of the `occurrence`-th segment with this id.
    func segmentIndex(id: UInt32, occurrence: Int) -> Int? {
        var seen = 0
        for (index, record) in segments.enumerated() where record.id == id {
            seen += 1
            if seen == occurrence { return index }
        }
        return nil
    }
}

/// One segment: its bytes (without terminator) and its pieces, `pieceEnds[firstPiece ..< firstPiece + pieceCount]`.
struct SegmentRecord: Sendable {
    var id: UInt32
    var start: Int
    var end: Int
    var firstPiece: Int
    var pieceCount: Int
}
