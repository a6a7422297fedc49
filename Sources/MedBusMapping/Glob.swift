/// `*` matches any run of characters; everything else matches itself, byte for byte (UTF-8). Used for
/// message types and senders, which every record is matched against: bytes, not Characters, keep that to
/// a few comparisons.
struct Glob: Sendable, Hashable {
    let pattern: String
    private let parts: [[UInt8]]

    init(_ pattern: String) {
        self.pattern = pattern
        parts = pattern.utf8.split(separator: UInt8(ascii: "*"), omittingEmptySubsequences: false).map(Array.init)
    }

    func matches(_ text: String) -> Bool {
        var text = text
        return text.withUTF8 { matches($0) }
    }

    private func matches(_ text: UnsafeBufferPointer<UInt8>) -> Bool {
        if parts.count == 1 { return text.elementsEqual(parts[0]) }
        let first = parts[0], last = parts[parts.count - 1]
        guard text.count >= first.count + last.count, text.starts(with: first), text.reversed().starts(with: last.reversed()) else { return false }
        var position = first.count
        let end = text.count - last.count
        for part in parts.dropFirst().dropLast() where !part.isEmpty {
            guard let found = Self.find(part, in: text, from: position, to: end) else { return false }
            position = found + part.count
        }
        return true
    }

    /// The first offset in `text[from..<to]` where `part` starts.
    private static func find(_ part: [UInt8], in text: UnsafeBufferPointer<UInt8>, from: Int, to: Int) -> Int? {
        guard to - from >= part.count else { return nil }
        for start in from...(to - part.count) where text[start..<(start + part.count)].elementsEqual(part) { return start }
        return nil
    }
}
