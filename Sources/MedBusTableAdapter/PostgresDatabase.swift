import CLibPQ
import Foundation

/// A PostgreSQL connection through libpq (Debian's `libpq-dev`). libpq blocks, so every call runs
/// on the connection's own serial queue, never on Swift's cooperative threads. A connection that
/// broke (server restart, network) is reset before the next call; the call that saw the break
/// fails, and the adapter retries it after its back-off.
final class PostgresDatabase: TableDatabase, @unchecked Sendable {
    let dialect = TableDialect.postgresql
    /// Only touched on `queue`.
    private let connection: OpaquePointer
    private let queue = DispatchQueue(label: "medbus.table.postgresql")

    private init(connection: OpaquePointer) {
        self.connection = connection
    }

    static func connect(_ conninfo: String) async throws -> PostgresDatabase {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async {
                guard let connection = PQconnectdb(conninfo) else {
                    return continuation.resume(throwing: TableDatabaseError("PostgreSQL: out of memory"))
                }
                guard PQstatus(connection) == CONNECTION_OK else {
                    let message = Self.errorMessage(connection)
                    PQfinish(connection)
                    return continuation.resume(throwing: TableDatabaseError("PostgreSQL connection failed: \(message)"))
                }
                continuation.resume(returning: PostgresDatabase(connection: connection))
            }
        }
    }

    func query(_ sql: String, _ parameters: [TableValue]) async throws -> [TableRow] {
        try await run(sql, parameters) { result in
            guard PQresultStatus(result) == PGRES_TUPLES_OK else { return nil }
            return Self.rows(result)
        }
    }

    func execute(_ sql: String, _ parameters: [TableValue]) async throws -> Int {
        try await run(sql, parameters) { result in
            let status = PQresultStatus(result)
            guard status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK else { return nil }
            return Int(String(cString: PQcmdTuples(result))) ?? 0
        }
    }

    func close() {
        queue.sync { PQfinish(connection) }
    }

    /// Runs one statement with text parameters; `read` returns nil for a result status that is an error.
    private func run<T: Sendable>(_ sql: String, _ parameters: [TableValue], read: @escaping @Sendable (OpaquePointer) -> T?) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                if PQstatus(connection) != CONNECTION_OK {
                    PQreset(connection)
                }
                // Parameters go as text; PostgreSQL infers each one's type from where it is used.
                let texts: [UnsafeMutablePointer<CChar>?] = parameters.map { value in value.text.flatMap { strdup($0) } }
                defer { texts.forEach { free($0) } }
                let result = texts.map { UnsafePointer($0) }.withUnsafeBufferPointer { values in
                    PQexecParams(connection, sql, Int32(values.count), nil, values.baseAddress, nil, nil, 0)
                }
                guard let result else {
                    return continuation.resume(throwing: TableDatabaseError("PostgreSQL: \(Self.errorMessage(connection))"))
                }
                defer { PQclear(result) }
                if let value = read(result) {
                    continuation.resume(returning: value)
                } else {
                    let message = String(cString: PQresultErrorMessage(result)).trimmingCharacters(in: .whitespacesAndNewlines)
                    continuation.resume(throwing: TableDatabaseError("PostgreSQL: \(message.isEmpty ? Self.errorMessage(connection) : message)"))
                }
            }
        }
    }

    private static func errorMessage(_ connection: OpaquePointer) -> String {
        String(cString: PQerrorMessage(connection)).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func rows(_ result: OpaquePointer) -> [TableRow] {
        let fields = PQnfields(result)
        let columns = (0..<fields).map { String(cString: PQfname(result, $0)) }
        let types = (0..<fields).map { PQftype(result, $0) }
        return (0..<PQntuples(result)).map { row in
            TableRow(columns: columns, values: (0..<fields).map { field in
                guard PQgetisnull(result, row, field) == 0 else { return .null }
                return value(String(cString: PQgetvalue(result, row, field)), type: types[Int(field)])
            })
        }
    }

    /// Text-format value of a column of type `oid` (see `pg_type`).
    private static func value(_ text: String, type oid: Oid) -> TableValue {
        switch oid {
        case 16: .bool(text == "t")
        case 20, 21, 23, 26, 700, 701, 1700: .number(text)
        case 114, 3802: .json(text)
        case 17: .bytes(hexBytes(text) ?? Array(text.utf8))
        default: .text(text)
        }
    }

    /// `bytea` in PostgreSQL's hex output format: `\x` then two hex digits per byte.
    private static func hexBytes(_ text: String) -> [UInt8]? {
        guard text.hasPrefix("\\x") else { return nil }
        let digits = Array(text.utf8.dropFirst(2))
        guard digits.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(digits.count / 2)
        for i in stride(from: 0, to: digits.count, by: 2) {
            guard let byte = UInt8(String(decoding: digits[i..<i + 2], as: UTF8.self), radix: 16) else { return nil }
            bytes.append(byte)
        }
        return bytes
    }
}
