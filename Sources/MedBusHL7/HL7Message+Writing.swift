/// How `serialize` ends segments.
public enum HL7TerminatorPolicy: Hashable, Sendable {
    /// Exactly as received: CR, LF or CR LF, blank lines included. A message built here uses CR.
    case preserve
    /// CR after every segment, the standard's terminator; blank lines and leading padding are dropped.
    case carriageReturn
}

extension HL7Message {
    /// A new message holding only MSH-1 and MSH-2, to be filled in with `set(_:at:)`.
    ///
    /// A character set other than UTF-8 is also declared in MSH-18, so that the serialized message says
    /// how it is encoded.
    public init(delimiters: HL7Delimiters = .standard, charset: HL7Charset = .utf8) {
        let bytes = Array("MSH".utf8) + [delimiters.field] + delimiters.encodingCharacters + [Parser.cr]
        let index = Parser.index(bytes, from: 0, fieldSeparator: delimiters.field, lineFeedTerminates: false)
        self.init(storage: MessageStorage(bytes: bytes, index: index, delimiters: delimiters, charset: charset, lineFeedTerminates: false))
        if charset != .utf8 {
            replace(segment: SegmentID.msh, occurrence: 1, coordinates: [17, 0, 0, 0], with: Array(charset.hl7Name.utf8))
        }
    }

    /// Writes a value at a path, escaping delimiters in the text (see `Escaping` for the rules).
    ///
    /// As when reading, a path that stops above the leaves writes the first one: setting `PID-5` to `Li`
    /// on `Zhang^San` gives `Li^San`. Missing fields, repetitions and components are padded with empty ones;
    /// a segment occurrence one past the last is appended at the end of the message. `.absent` or an empty
    /// string clears the value; `.null` writes `""`.
    ///
    /// - Throws: `HL7Error.readOnlyPath` for MSH-1/MSH-2 (the delimiters are fixed when the message is
    ///   created), `.segmentNotFound` for a segment occurrence more than one past the last.
    public mutating func set(_ value: HL7Value, at path: HL7Path) throws(HL7Error) {
        guard !path.addressesDelimiters else { throw .readOnlyPath(path.description) }
        let existing = storage.segments.count(where: { $0.id == path.packedSegmentID })
        guard path.segmentOccurrence <= existing + 1 else { throw .segmentNotFound(path.description) }
        let encoded: [UInt8] =
            switch value {
            case .absent: []
            case .null: Array("\"\"".utf8)
            case .text(let text): Escaping.encode(text, delimiters: delimiters)
            }
        let piece = SegmentID.isHeader(path.packedSegmentID) ? path.field - 1 : path.field
        replace(
            segment: path.packedSegmentID, occurrence: path.segmentOccurrence,
            coordinates: [piece, path.repetition - 1, (path.component ?? 1) - 1, (path.subcomponent ?? 1) - 1], with: encoded)
    }

    /// `set(.text(text), at:)`, or `.absent` for nil.
    public mutating func set(_ text: String?, at path: HL7Path) throws(HL7Error) {
        try set(text.map { .text($0) } ?? .absent, at: path)
    }

    /// The message as bytes in its character set.
    ///
    /// - Throws: `HL7Error.encodingFailed` when the text cannot be written in the message's character set
    ///   (non-ASCII in an ASCII message), `.charsetUnavailable` when this system's iconv has no GB18030
    ///   converter.
    public func serialize(terminators: HL7TerminatorPolicy = .preserve) throws(HL7Error) -> [UInt8] {
        var utf8: [UInt8]
        switch terminators {
        case .preserve:
            utf8 = storage.bytes
        case .carriageReturn:
            utf8 = []
            utf8.reserveCapacity(storage.bytes.count)
            for record in storage.segments {
                utf8.append(contentsOf: storage.bytes[record.start..<record.end])
                utf8.append(Parser.cr)
            }
        }
        switch Transcoder.encode(utf8, to: charset) {
        case .converted(let encoded): return encoded
        case .invalid: throw .encodingFailed(charset: charset)
        case .unavailable: throw .charsetUnavailable(charset)
        }
    }

    /// Replaces already-encoded bytes at a position given as 0-based indices: the piece of the segment
    /// (field, but MSH-3 is piece 2), then optionally repetition, component and sub-component. Anything
    /// missing on the way is padded with separators; an occurrence one past the last appends the segment.
    mutating func replace(segment id: UInt32, occurrence: Int, coordinates: [Int], with encoded: [UInt8]) {
        var bytes = storage.bytes
        if storage.segmentIndex(id: id, occurrence: occurrence) == nil {
            // The new segment must start on a line of its own: after an unterminated last segment (or
            // trailing spaces) a CR comes first. With CR terminators a final lone LF is data, not an end.
            let last = bytes.last
            let lineFeedEnds = storage.lineFeedTerminates || bytes.dropLast().last == Parser.cr
            if last != Parser.cr && !(last == Parser.lf && lineFeedEnds) { bytes.append(Parser.cr) }
            bytes.append(contentsOf: SegmentID.string(id).utf8)
            bytes.append(Parser.cr)
            storage = reindexed(bytes)
        }
        guard let index = storage.segmentIndex(id: id, occurrence: occurrence) else { return }
        let record = storage.segments[index]
        let delimiters = storage.delimiters
        let separators = [delimiters.field, delimiters.repetition, delimiters.component, delimiters.subcomponent]
        var lower = record.start
        var upper = record.end
        var insertion: [UInt8] = []
        var exists = true
        for (level, target) in coordinates.enumerated() {
            let separator = separators[level]
            guard exists else {
                insertion.append(contentsOf: repeatElement(separator, count: target))
                continue
            }
            var seen = 0
            var start = lower
            var i = lower
            while seen < target, i < upper {
                if bytes[i] == separator {
                    seen += 1
                    start = i + 1
                }
                i += 1
            }
            if seen < target {
                exists = false
                insertion.append(contentsOf: repeatElement(separator, count: target - seen))
                lower = upper
            } else {
                var end = start
                while end < upper, bytes[end] != separator { end += 1 }
                (lower, upper) = (start, end)
            }
        }
        insertion.append(contentsOf: encoded)
        bytes.replaceSubrange(lower..<upper, with: insertion)
        storage = reindexed(bytes)
    }

    /// Indexes bytes changed by a write. Writes insert escaped text only, so no segment id can break.
    private func reindexed(_ bytes: [UInt8]) -> MessageStorage {
        let (delimiters, lineFeedTerminates) = (storage.delimiters, storage.lineFeedTerminates)
        let start = storage.segments.first?.start ?? 0
        let index = Parser.index(bytes, from: start, fieldSeparator: delimiters.field, lineFeedTerminates: lineFeedTerminates)
        return MessageStorage(bytes: bytes, index: index, delimiters: delimiters, charset: storage.charset, lineFeedTerminates: lineFeedTerminates)
    }
}
