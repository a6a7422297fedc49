/// The bytes of one record as a plan writes them: appends are a capacity check and a copy.
///
/// Why not `[UInt8]`: a record is ~100 small appends (keys, punctuation, values), and each Array append
/// pays a uniqueness check and a call; that was a tenth of a mapping's time. One writer owns the buffer
/// and frees it (`deallocate`) once the record's array is made.
struct RecordBytes {
    private var base: UnsafeMutablePointer<UInt8>
    private(set) var count = 0
    private var capacity: Int

    init(capacity: Int) {
        self.capacity = capacity
        base = .allocate(capacity: capacity)
    }

    func deallocate() { base.deallocate() }

    /// The bytes written, as an array of their own.
    var array: [UInt8] { Array(UnsafeBufferPointer(start: base, count: count)) }

    /// Forgets what was written after `mark` (a `count` read earlier).
    mutating func truncate(to mark: Int) { count = mark }

    @inline(__always)
    mutating func append(_ byte: UInt8) {
        if count == capacity { grow(to: count + 1) }
        base[count] = byte
        count += 1
    }

    @inline(__always)
    mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress else { return }
        if count + bytes.count > capacity { grow(to: count + bytes.count) }
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    mutating func append(_ bytes: [UInt8]) { bytes.withUnsafeBufferPointer { append($0) } }

    /// A JSON string's content, escaped as `JSONWriter.writeEscaped` does (same bytes): runs that need no
    /// escape are copied whole.
    mutating func appendEscaped(_ text: UnsafeBufferPointer<UInt8>) {
        var runStart = 0
        var i = 0
        while i < text.count {
            // Eight bytes at a time while none needs an escape (SWAR, as the HL7 parser scans).
            if i + 8 <= text.count, let base = text.baseAddress {
                let word = UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)
                if Self.needsEscape(word) == 0 {
                    i += 8
                    continue
                }
            }
            let byte = text[i]
            i += 1
            guard byte < 0x20 || byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\\") else { continue }
            append(UnsafeBufferPointer(rebasing: text[runStart..<(i - 1)]))
            runStart = i
            append(0x5C)
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"): append(byte)
            case 0x0A: append(UInt8(ascii: "n"))
            case 0x0D: append(UInt8(ascii: "r"))
            case 0x09: append(UInt8(ascii: "t"))
            default:
                let hex = Array("0123456789abcdef".utf8)
                append([UInt8(ascii: "u"), 0x30, 0x30, hex[Int(byte >> 4)], hex[Int(byte & 0xF)]])
            }
        }
        append(UnsafeBufferPointer(rebasing: text[runStart...]))
    }

    /// Nonzero when some byte of `word` is below 0x20, `"` or a backslash.
    @inline(__always)
    private static func needsEscape(_ word: UInt64) -> UInt64 {
        let ones: UInt64 = 0x0101_0101_0101_0101, highs: UInt64 = 0x8080_8080_8080_8080
        func equal(_ byte: UInt8) -> UInt64 {
            let x = word ^ (ones &* UInt64(byte))
            return (x &- ones) & ~x & highs
        }
        // A byte below 0x20 (its high bit clear): subtracting 0x20 borrows into the high bit.
        let below = (word &- ones &* 0x20) & ~word & highs
        return below | equal(UInt8(ascii: "\"")) | equal(UInt8(ascii: "\\"))
    }

    private mutating func grow(to needed: Int) {
        let larger = Swift.max(needed, capacity * 2)
        let moved = UnsafeMutablePointer<UInt8>.allocate(capacity: larger)
        moved.moveInitialize(from: base, count: count)
        base.deallocate()
        base = moved
        capacity = larger
    }
}
