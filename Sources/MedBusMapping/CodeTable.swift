/// A code table (`codes/<table>.csv`) with the policy the mapping declared for codes it lacks.
struct CodeTable: Sendable {
    enum Policy: String, Sendable { case error, `default`, passThrough }

    let name: String
    let file: String
    let entries: [String: String]
    let policy: Policy
    let defaultValue: String?

    /// The target for a code, or what the policy says when there is none (nil: `missing-code`).
    func translate(_ code: String) -> String? {
        if let target = entries[code] { return target }
        switch policy {
        case .error: return nil
        case .default: return defaultValue
        case .passThrough: return code
        }
    }

    /// The entries keyed by UTF-8 bytes, for plans that look codes up without making a String.
    var byBytes: ByteCodeTable { ByteCodeTable(entries) }

    struct ParseError: Error {
        var line: Int
        var column: Int
        var message: String
    }

    /// RFC 4180 CSV with the header `code,target,display`. A duplicate code is an error naming its line.
    static func parseCSV(_ text: String) throws(ParseError) -> [String: String] {
        let rows = try CSV.rows(text)
        guard let header = rows.first else { throw ParseError(line: 1, column: 1, message: "empty code table: expected header code,target,display") }
        let names = header.fields.map { $0.trimmingSpaces.lowercased() }
        guard names.count >= 2, names[0] == "code", names[1] == "target", names.count == 2 || (names.count == 3 && names[2] == "display") else {
            throw ParseError(line: header.line, column: 1, message: "code table header must be code,target,display")
        }
        var entries: [String: String] = [:]
        var firstLine: [String: Int] = [:]
        for row in rows.dropFirst() {
            if row.fields.count == 1 && row.fields[0].isEmpty { continue }
            guard row.fields.count == names.count || (row.fields.count == 2 && names.count == 3) else {
                throw ParseError(line: row.line, column: 1, message: "expected \(names.count) columns, found \(row.fields.count)")
            }
            let code = row.fields[0]
            guard !code.isEmpty else { throw ParseError(line: row.line, column: 1, message: "empty code") }
            if let previous = firstLine[code] {
                throw ParseError(line: row.line, column: 1, message: "duplicate code '\(code)' (first on line \(previous))")
            }
            firstLine[code] = row.line
            entries[code] = row.fields[1]
        }
        return entries
    }
}

/// RFC 4180: fields separated by commas, optionally double-quoted (`""` for a quote, line breaks allowed
/// inside quotes), records ended by CRLF or LF.
enum CSV {
    struct Row {
        var line: Int
        var fields: [String]
    }

    static func rows(_ text: String) throws(CodeTable.ParseError) -> [Row] {
        var rows: [Row] = []
        var fields: [String] = []
        var field = ""
        var line = 1
        var rowLine = 1
        var inQuotes = false
        var quotedField = false
        var chars = Array(text.unicodeScalars)
        if chars.first == "\u{FEFF}" { chars.removeFirst() }
        var i = 0
        var column = 1
        while i < chars.count {
            let c = chars[i]
            if inQuotes {
                if c == "\"" {
                    if i + 1 < chars.count, chars[i + 1] == "\"" {
                        field.unicodeScalars.append("\"")
                        i += 2
                        continue
                    }
                    inQuotes = false
                } else {
                    if c == "\n" { line += 1 }
                    field.unicodeScalars.append(c)
                }
                i += 1
                continue
            }
            switch c {
            case "\"":
                guard field.isEmpty && !quotedField else {
                    throw CodeTable.ParseError(line: line, column: column, message: "a quote inside an unquoted field")
                }
                inQuotes = true
                quotedField = true
            case ",":
                fields.append(field)
                field = ""
                quotedField = false
            case "\r" where i + 1 < chars.count && chars[i + 1] == "\n":
                break
            case "\n", "\r":
                fields.append(field)
                rows.append(Row(line: rowLine, fields: fields))
                fields = []
                field = ""
                quotedField = false
                line += 1
                rowLine = line
                column = 0
            default:
                guard !quotedField else { throw CodeTable.ParseError(line: line, column: column, message: "text after a closing quote") }
                field.unicodeScalars.append(c)
            }
            i += 1
            column += 1
        }
        if inQuotes { throw CodeTable.ParseError(line: line, column: column, message: "unterminated quoted field") }
        if !field.isEmpty || !fields.isEmpty || quotedField {
            fields.append(field)
            rows.append(Row(line: rowLine, fields: fields))
        }
        return rows
    }
}

/// A code table's entries keyed by their UTF-8 bytes: open addressing over FNV-1a hashes, so a code read
/// from a message is looked up straight from the message's bytes.
///
/// Byte equality is String equality only for ASCII (Swift compares Strings by canonical equivalence:
/// U+212A KELVIN SIGN equals "K"), so `lookup` answers only for ASCII codes against a table whose codes are
/// all ASCII; otherwise the caller uses `CodeTable.translate`.
struct ByteCodeTable: Sendable {
    /// Entries in code order, so a plan can attach facts to each target by entry number.
    let codes: [[UInt8]]
    let targets: [String]
    let targetBytes: [[UInt8]]
    /// Entry number + 1 per slot; 0 is an empty slot. Power-of-two size, at most half full.
    private let slots: [Int32]
    let asciiCodes: Bool

    init(_ entries: [String: String]) {
        let sorted = entries.sorted { $0.key < $1.key }
        codes = sorted.map { Array($0.key.utf8) }
        targets = sorted.map(\.value)
        targetBytes = sorted.map { Array($0.value.utf8) }
        asciiCodes = codes.allSatisfy { $0.allSatisfy { $0 < 0x80 } }
        var size = 8
        while size < codes.count * 2 { size *= 2 }
        var slots = [Int32](repeating: 0, count: size)
        for (entry, code) in codes.enumerated() {
            var slot = code.withUnsafeBufferPointer { Self.hash($0) } & (size - 1)
            while slots[slot] != 0 { slot = (slot + 1) & (size - 1) }
            slots[slot] = Int32(entry + 1)
        }
        self.slots = slots
    }

    enum Lookup {
        case entry(Int)
        case missing
        /// Not decidable on bytes (non-ASCII code or table): use `CodeTable.translate`.
        case undecided
    }

    func lookup(_ code: UnsafeBufferPointer<UInt8>) -> Lookup {
        guard asciiCodes, !code.contains(where: { $0 >= 0x80 }) else { return .undecided }
        let mask = slots.count - 1
        var slot = Self.hash(code) & mask
        while slots[slot] != 0 {
            let entry = Int(slots[slot]) - 1
            if codes[entry].elementsEqual(code) { return .entry(entry) }
            slot = (slot + 1) & mask
        }
        return .missing
    }

    private static func hash(_ bytes: UnsafeBufferPointer<UInt8>) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in bytes {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return Int(truncatingIfNeeded: hash ^ (hash >> 29))
    }
}
