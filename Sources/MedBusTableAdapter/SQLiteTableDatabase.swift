import Foundation
import GRDB

/// A HIS intermediate database in an SQLite file, polled through GRDB. The adapter only reads it,
/// except for the optional status write-back; the HIS may write it concurrently (WAL or not).
final class SQLiteTableDatabase: TableDatabase {
    let dialect = TableDialect.sqlite
    private let queue: DatabaseQueue

    init(path: String) throws {
        guard FileManager.default.fileExists(atPath: path) else { throw TableDatabaseError("SQLite database '\(path)' does not exist") }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        do { queue = try DatabaseQueue(path: path, configuration: configuration) } catch {
            throw TableDatabaseError("SQLite: \(error)")
        }
    }

    func query(_ sql: String, _ parameters: [TableValue]) async throws -> [TableRow] {
        do {
            return try await queue.read { db in
                try Row.fetchAll(db, sql: sql, arguments: Self.arguments(parameters)).map { row in
                    TableRow(columns: Array(row.columnNames), values: row.databaseValues.map(Self.value))
                }
            }
        } catch {
            throw TableDatabaseError("SQLite: \(error)")
        }
    }

    func execute(_ sql: String, _ parameters: [TableValue]) async throws -> Int {
        do {
            return try await queue.write { db in
                try db.execute(sql: sql, arguments: Self.arguments(parameters))
                return db.changesCount
            }
        } catch {
            throw TableDatabaseError("SQLite: \(error)")
        }
    }

    func close() {
        try? queue.close()
    }

    private static func arguments(_ parameters: [TableValue]) -> StatementArguments {
        StatementArguments(parameters.map { value -> (any DatabaseValueConvertible)? in
            switch value {
            case .null: nil
            case .bool(let flag): flag
            case .number(let text): Int64(text).map { $0 as any DatabaseValueConvertible } ?? Double(text)
            case .text(let text), .json(let text): text
            case .bytes(let bytes): Data(bytes)
            }
        })
    }

    private static func value(_ value: DatabaseValue) -> TableValue {
        switch value.storage {
        case .null: .null
        case .int64(let n): .number(String(n))
        case .double(let d): .number(String(d))
        case .string(let s): .text(s)
        case .blob(let data): .bytes(Array(data))
        }
    }
}
