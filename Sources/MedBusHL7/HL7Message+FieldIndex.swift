extension HL7Message {
    /// Where a parsed message's segments and fields are, for a reader that navigates the bytes itself.
    ///
    /// Why: the mapping engine reads 50 to 100 paths per message; going through `element(at:)` makes views
    /// per read, and re-indexing the message next to this index cost as much as the parse. This hands out
    /// the parser's own index (no copy of the bytes).
    public struct FieldIndex: Sendable {
        /// The whole message as UTF-8 (decoded from its character set), terminators as received.
        public let bytes: [UInt8]
        public let segments: [Segment]
        /// End (exclusive) of every piece of every segment, in order; piece 0 of a segment is its id, piece
        /// n the n-th field separator's right-hand side (for MSH, piece 1 is MSH-2).
        public let pieceEnds: [Int]
    }

    /// One segment: `bytes[start..<end]` (without terminator), its pieces `pieceEnds[firstPiece ..< firstPiece + pieceCount]`.
    public struct Segment: Sendable {
        /// The three id bytes, first byte most significant (`MSH` is 0x4D5348).
        public let id: UInt32
        public let start: Int
        public let end: Int
        public let firstPiece: Int
        public let pieceCount: Int
    }

    public var fieldIndex: FieldIndex {
        FieldIndex(
            bytes: storage.bytes,
            segments: storage.segments.map { Segment(id: $0.id, start: $0.start, end: $0.end, firstPiece: $0.firstPiece, pieceCount: $0.pieceCount) },
            pieceEnds: storage.pieceEnds)
    }
}
