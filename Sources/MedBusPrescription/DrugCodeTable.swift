import Foundation

/// The circulation drug code table (`Mappings/codes/rx-circulation-drugs.csv`): the national
/// insurance drug codes (`medListCodg`) a circulated prescription may carry, with their item type
/// (`rxItemTypeCode`: 11 western, 12 patent Chinese, 13 herbal). A prescription naming any other
/// code is refused with `unknown-drug-code`: no pharmacy could settle it.
///
/// The file has the code-table form of `Mappings/` (`code,target,display`, UTF-8, RFC 4180 quoting).
public struct DrugCodeTable: Sendable {
    private let itemTypes: [String: String]

    public init(itemTypes: [String: String]) {
        self.itemTypes = itemTypes
    }

    public var count: Int { itemTypes.count }

    public func contains(_ code: String) -> Bool { itemTypes[code] != nil }

    /// The drug's `rxItemTypeCode`, nil if the code is not in the table.
    public func itemType(of code: String) -> String? { itemTypes[code] }

    /// - Throws: `RxConfigurationError` naming the file and line.
    public static func load(path: String) throws -> DrugCodeTable {
        guard let data = FileManager.default.contents(atPath: path), let text = String(data: data, encoding: .utf8) else {
            throw RxConfigurationError(file: path, message: "cannot read the drug code table")
        }
        let rows = try parseCSV(text, file: path)
        guard let header = rows.first, header.count >= 2, header[0] == "code", header[1] == "target" else {
            throw RxConfigurationError(file: path, message: "line 1: expected the header code,target,display")
        }
        var types: [String: String] = [:]
        for (index, row) in rows.dropFirst().enumerated() where !(row.count == 1 && row[0].isEmpty) {
            let line = index + 2
            guard row.count >= 2, !row[0].isEmpty else { throw RxConfigurationError(file: path, message: "line \(line): empty code") }
            guard ["11", "12", "13"].contains(row[1]) else {
                throw RxConfigurationError(file: path, message: "line \(line): target must be an rxItemTypeCode (11, 12 or 13)")
            }
            guard types.updateValue(row[1], forKey: row[0]) == nil else {
                throw RxConfigurationError(file: path, message: "line \(line): duplicate code \(row[0])")
            }
        }
        return DrugCodeTable(itemTypes: types)
    }

    /// RFC 4180: fields separated by commas, optionally in double quotes (`""` is a quote); CRLF or LF.
    static func parseCSV(_ text: String, file: String) throws -> [[String]] {
        var rows: [[String]] = []
        var row: [String] = []
        var field = ""
        var quoted = false
        var iterator = text.makeIterator()
        var pending: Character? = iterator.next()
        while let char = pending {
            pending = iterator.next()
            if quoted {
                if char == "\"" {
                    if pending == "\"" { field.append("\""); pending = iterator.next() } else { quoted = false }
                } else {
                    field.append(char)
                }
                continue
            }
            switch char {
            case "\"" where field.isEmpty: quoted = true
            case ",": row.append(field); field = ""
            case "\n", "\r\n", "\r":
                row.append(field); rows.append(row); row = []; field = ""
            default: field.append(char)
            }
        }
        if quoted { throw RxConfigurationError(file: file, message: "line \(rows.count + 1): unterminated quoted field") }
        if !field.isEmpty || !row.isEmpty { row.append(field); rows.append(row) }
        return rows
    }
}

/// A manifest, key or code table that cannot be used, naming the file.
public struct RxConfigurationError: Error, Sendable, CustomStringConvertible {
    public var file: String
    public var message: String

    public init(file: String, message: String) {
        self.file = file
        self.message = message
    }

    public var description: String { "\(file): \(message)" }
}
