/// An HL7 batch file: an optional FHS/BHS … BTS/FTS envelope around any number of messages, split and
/// parsed one message at a time so that one broken message does not lose the others.
///
/// Input without an envelope is accepted too (a lone message, or messages simply concatenated).
public struct HL7Batch: Sendable {
    /// The FHS, BHS, BTS and FTS segments, in file order, as one message whose first segment is FHS or BHS
    /// (read FHS-9, BTS-1… by path); nil when the input has no envelope.
    public let envelope: HL7Message?
    /// Every message in file order, each parsed on its own with its own MSH-18. Byte offsets in a message's
    /// error count from that message's MSH.
    public let messages: [Result<HL7Message, HL7Error>]
    /// Each message's bytes as they stand in the file (same order as `messages`), so that one that
    /// fails to parse can still be kept and reported.
    public let messageBytes: [[UInt8]]

    /// Splits and parses a batch file.
    ///
    /// The envelope is read in the character set of the first message (FHS and BHS have no MSH-18).
    ///
    /// - Throws: `HL7Error.unexpectedBatchSegment` when the envelope is out of order (FHS not first, BTS
    ///   without BHS, FTS without FHS, other segments before the first MSH); `.batchCountMismatch` when a
    ///   BTS-1 differs from the number of messages since its BHS, or FTS-1 from the number of batches;
    ///   `.invalidBatchCount` when either is not a number; any parse error of the envelope itself.
    public init(parsing bytes: [UInt8], options: HL7ParseOptions = HL7ParseOptions()) throws(HL7Error) {
        var envelopeBytes: [UInt8] = []
        var messageRanges: [Range<Int>] = []
        // Messages counted per BHS, and how many messages each BTS closed.
        var batchCounts: [Int] = []
        var closedBatches: [Int] = []
        var hasFileHeader = false
        var openMessage: Int?
        var lineNumber = 0

        for line in Self.lines(of: bytes) {
            lineNumber += 1
            let kind = Self.kind(of: bytes, line: line)
            guard kind != .other else {
                guard openMessage != nil else { throw .unexpectedBatchSegment(segmentIndex: lineNumber) }
                continue
            }
            if let start = openMessage { messageRanges.append(start..<line.lowerBound) }
            openMessage = nil
            switch kind {
            case .message:
                openMessage = line.lowerBound
                if !batchCounts.isEmpty { batchCounts[batchCounts.count - 1] += 1 }
                continue
            case .fileHeader:
                guard lineNumber == 1 else { throw .unexpectedBatchSegment(segmentIndex: lineNumber) }
                hasFileHeader = true
            case .batchHeader:
                guard batchCounts.count == closedBatches.count else { throw .unexpectedBatchSegment(segmentIndex: lineNumber) }
                batchCounts.append(0)
            case .batchTrailer:
                guard batchCounts.count == closedBatches.count + 1 else { throw .unexpectedBatchSegment(segmentIndex: lineNumber) }
                closedBatches.append(batchCounts[batchCounts.count - 1])
            case .fileTrailer:
                guard hasFileHeader else { throw .unexpectedBatchSegment(segmentIndex: lineNumber) }
            case .other:
                break
            }
            envelopeBytes.append(contentsOf: bytes[line])
            envelopeBytes.append(Parser.cr)
        }
        if let start = openMessage { messageRanges.append(start..<bytes.count) }

        messageBytes = messageRanges.map { Array(bytes[$0]) }
        messages = messageBytes.map { message in
            Result { () throws(HL7Error) in try HL7Message(parsing: message, options: options) }
        }
        guard !envelopeBytes.isEmpty else {
            envelope = nil
            return
        }
        let charset = (try? messages.first?.get())?.charset ?? options.defaultCharset
        let envelope = HL7Message(
            storage: try Parser.parse(envelopeBytes, options: options, headers: [SegmentID.fhs, SegmentID.bhs], charset: charset))
        try Self.checkCount(envelope, trailer: "BTS", against: closedBatches)
        try Self.checkCount(envelope, trailer: "FTS", against: [batchCounts.count])
        self.envelope = envelope
    }

    private enum LineKind {
        case message, fileHeader, batchHeader, batchTrailer, fileTrailer, other
    }

    /// Non-blank lines, without terminators. CR and LF never occur inside a GB18030 or UTF-8 character, so
    /// lines can be found before the messages are decoded.
    private static func lines(of bytes: [UInt8]) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var start = Parser.contentStart(of: bytes)
        for i in start..<bytes.count where bytes[i] == Parser.cr || bytes[i] == Parser.lf {
            if i > start { lines.append(start..<i) }
            start = i + 1
        }
        if start < bytes.count { lines.append(start..<bytes.count) }
        return lines
    }

    private static func kind(of bytes: [UInt8], line: Range<Int>) -> LineKind {
        guard line.count >= 3, let id = SegmentID.pack(bytes[line.lowerBound..<(line.lowerBound + 3)]) else { return .other }
        // `MSH` must be followed by a delimiter (or nothing): `MSHX|…` is some other segment.
        guard line.count == 3 || HL7Delimiters.isLegal(bytes[line.lowerBound + 3]) else { return .other }
        switch id {
        case SegmentID.msh: return .message
        case SegmentID.fhs: return .fileHeader
        case SegmentID.bhs: return .batchHeader
        case SegmentID.bts: return .batchTrailer
        case SegmentID.fts: return .fileTrailer
        default: return .other
        }
    }

    /// Compares field 1 of each `trailer` segment (where sent) with the count found.
    private static func checkCount(_ envelope: HL7Message, trailer: String, against actual: [Int]) throws(HL7Error) {
        for (i, segment) in envelope.segments(withID: trailer).enumerated() where i < actual.count {
            let location = HL7ErrorLocation(segmentID: trailer, segmentSequence: i + 1, field: 1)
            guard let text = segment.field(1).string else { continue }
            guard let declared = Int(text) else { throw .invalidBatchCount(location: location) }
            guard declared == actual[i] else { throw .batchCountMismatch(location: location, declared: declared, actual: actual[i]) }
        }
    }
}
