import Foundation
import MedBusCore

/// One value of a HIS table row, as the database driver typed it. Numbers stay decimal text, so a
/// `numeric(12,2)` amount reaches the payload exactly as the HIS stored it.
public enum TableValue: Sendable, Hashable {
    case null
    case bool(Bool)
    /// Integer or decimal, as the database printed it (e.g. `42`, `12.50`).
    case number(String)
    case text(String)
    /// A `json`/`jsonb` column: embedded in the row's JSON as a value, not as a string.
    case json(String)
    case bytes([UInt8])

    /// The value as an integer, if it is one (ids).
    public var int64: Int64? {
        switch self {
        case .number(let text), .text(let text): Int64(text)
        default: nil
        }
    }

    /// A stable text form: what a version is compared by, and the text of a key or message type.
    public var text: String? {
        switch self {
        case .null: nil
        case .bool(let value): value ? "true" : "false"
        case .number(let text), .text(let text), .json(let text): text
        case .bytes(let bytes): Data(bytes).base64EncodedString()
        }
    }

    var json: JSONValue {
        switch self {
        case .null: .null
        case .bool(let value): .bool(value)
        case .number(let text):
            // `NaN` and `Infinity` are valid numeric values in PostgreSQL but not JSON numbers.
            Double(text).map { $0.isFinite } == true && text.first != "+" ? .number(text) : .string(text)
        case .text(let text): .string(text)
        case .json(let text): (try? JSONValue.parse(text)) ?? .string(text)
        case .bytes(let bytes): .string(Data(bytes).base64EncodedString())
        }
    }
}

/// A row of the manifest's query: column names in query order, and their values.
public struct TableRow: Sendable, Hashable {
    public var columns: [String]
    public var values: [TableValue]

    public init(columns: [String], values: [TableValue]) {
        self.columns = columns
        self.values = values
    }

    public subscript(column: String) -> TableValue? {
        columns.firstIndex(of: column).map { values[$0] }
    }

    /// The row as a JSON object, columns in query order.
    public var jsonObject: JSONValue {
        .object(zip(columns, values).map { ($0, $1.json) })
    }
}
