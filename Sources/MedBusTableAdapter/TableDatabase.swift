import Foundation

/// The HIS database an intermediate-table adapter polls: PostgreSQL (libpq) or SQLite.
///
/// Calls are made one at a time by the adapter's poll loop. Parameters are positional; SQL text
/// is written with the dialect's placeholders (`TableDialect.placeholder`).
public protocol TableDatabase: Sendable {
    var dialect: TableDialect { get }
    /// - Throws: `TableDatabaseError` with the database's own message.
    func query(_ sql: String, _ parameters: [TableValue]) async throws -> [TableRow]
    /// Runs a statement (the status write-back) and returns the number of rows it changed.
    func execute(_ sql: String, _ parameters: [TableValue]) async throws -> Int
    func close()
}

public enum TableDialect: Sendable {
    case postgresql, sqlite

    /// The n-th (1-based) positional parameter.
    public func placeholder(_ n: Int) -> String {
        switch self {
        case .postgresql: "$\(n)"
        case .sqlite: "?\(n)"
        }
    }
}

public struct TableDatabaseError: Error, CustomStringConvertible, Sendable {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}

/// Opens the database a manifest's `database` option names: a libpq connection string or URI
/// (`postgresql://user@host:5432/his`, `host=… dbname=…`) or `sqlite:PATH`.
/// Passwords are best left out of manifests: libpq reads `PGPASSWORD` and `~/.pgpass`.
public func openTableDatabase(_ location: String) async throws -> any TableDatabase {
    if location.hasPrefix("sqlite:") {
        var path = String(location.dropFirst("sqlite:".count))
        if path.hasPrefix("//") { path = String(path.dropFirst(2)) }
        return try SQLiteTableDatabase(path: path)
    }
    return try await PostgresDatabase.connect(location)
}
