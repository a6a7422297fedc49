/// A code table (`codes/<table>.csv`) with the policy the mapping declared for codes it lacks.
struct CodeTable: Sendable {
    enum Policy: String, Sendable { case error, `default`, passThrough }

    let name: String
    let file: String
    let entries: [String: String]
    let policy: Policy
    let defaultValue: String?

    enum Lookup { case found(String), missing }

    /// The target for a code, or what the policy says when there is none (nil: `missing-code`).
    func translate(_ code: String) -> String? {
        if let target = entries[code] { return target }
        switch policy {
        case .error: return nil
        case .default: return defaultValue
        case .passThrough: return code
        }
    }

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
