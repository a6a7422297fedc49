import Foundation
import GRDB

/// The optional filters of an operator's list query (`WHERE a = ? AND t >= ?`), built from the
/// filters actually given, with their arguments bound, never spliced into the SQL text:
///
/// ```swift
/// var filter = RowFilter()
/// filter.equals("state", state?.rawValue)
/// filter.timeRange("created_at", from: from, to: to)
/// try Row.fetchAll(db, sql: "SELECT * FROM t \(filter.whereClause) ORDER BY created_at DESC LIMIT ? OFFSET ?",
///                  arguments: filter.arguments(then: [limit, offset]))
/// ```
public struct RowFilter: Sendable {
    private var conditions: [String]
    private var values: [DatabaseValue] = []

    /// `conditions` hold without arguments (such as `completed = 0`).
    public init(_ conditions: [String] = []) { self.conditions = conditions }

    /// `column = value`, unless `value` is nil.
    public mutating func equals(_ column: String, _ value: String?) {
        guard let value else { return }
        conditions.append("\(column) = ?")
        values.append(value.databaseValue)
    }

    /// `from <= column < to` on a `storedMicroseconds` column, each bound only when given.
    public mutating func timeRange(_ column: String, from: Date?, to: Date?) {
        if let from { conditions.append("\(column) >= ?"); values.append(from.storedMicroseconds.databaseValue) }
        if let to { conditions.append("\(column) < ?"); values.append(to.storedMicroseconds.databaseValue) }
    }

    /// `WHERE …`, or nothing without conditions.
    public var whereClause: String { conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ") }

    /// The bound values, followed by `more` (the query's own, such as LIMIT and OFFSET).
    public func arguments(then more: [Int] = []) -> StatementArguments {
        StatementArguments(values + more.map(\.databaseValue))
    }
}
