import Foundation
import GRDB
import MedBusSQLite

/// The adapter's own progress, in its SQLite file `table-<name>.sqlite` beside the message store:
/// the high-water mark, the holes still looked for, the version each row was last published with
/// (for `onUpdate: republish`) and the update scan's cursor. Written only after Kafka acknowledged
/// what it records, so a crash leaves it behind, never ahead; the message store's de-duplication
/// absorbs what is published again.
final class TableAdapterState: Sendable {
    private let pool: DatabasePool

    init(directory: String, adapterName: String) throws {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE cursor (id INTEGER PRIMARY KEY CHECK (id = 1), high_water_mark INTEGER, version_kind TEXT, version_text TEXT);
                CREATE TABLE hole (row_id INTEGER PRIMARY KEY, since_epoch REAL NOT NULL);
                CREATE TABLE published (row_id INTEGER PRIMARY KEY, version TEXT NOT NULL);
                """)
        }
        var configuration = Configuration()
        configuration.busyMode = .timeout(5)
        let safeName = String(adapterName.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" })
        pool = try DurableDatabase.openPool(directory: directory, fileName: "table-\(safeName).sqlite", configuration: configuration, migrator: migrator)
    }

    var highWaterMark: Int64? {
        get throws { try pool.read { db in try Int64.fetchOne(db, sql: "SELECT high_water_mark FROM cursor WHERE id = 1") } }
    }

    /// Where the update scan starts, as the value of the version column.
    var versionCursor: TableValue? {
        get throws {
            try pool.read { db in
                guard let row = try Row.fetchOne(db, sql: "SELECT version_kind, version_text FROM cursor WHERE id = 1"),
                      let kind: String = row["version_kind"], let text: String = row["version_text"] else { return nil }
                return kind == "number" ? .number(text) : .text(text)
            }
        }
    }

    /// Holes younger than `retention`, oldest first; older ones are forgotten (and counted).
    func holes(retention: Duration, limit: Int) throws -> (ids: [Int64], expired: Int) {
        let cutoff = Date().timeIntervalSince1970 - Double(retention.components.seconds)
        return try pool.write { db in
            try db.execute(sql: "DELETE FROM hole WHERE since_epoch < ?", arguments: [cutoff])
            let expired = db.changesCount
            return (try Int64.fetchAll(db, sql: "SELECT row_id FROM hole ORDER BY row_id LIMIT ?", arguments: [limit]), expired)
        }
    }

    func publishedVersions(_ ids: [Int64]) throws -> [Int64: String] {
        guard !ids.isEmpty else { return [:] }
        return try pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT row_id, version FROM published WHERE row_id IN (\(ids.map(String.init).joined(separator: ",")))")
            return Dictionary(uniqueKeysWithValues: rows.map { ($0["row_id"], $0["version"]) })
        }
    }

    /// Records one step in one transaction: the new mark, holes found and filled, versions published.
    func commit(highWaterMark: Int64?, newHoles: [Int64] = [], filledHoles: [Int64] = [], published: [(Int64, String)] = [], versionCursor: TableValue? = nil) throws {
        try pool.write { db in
            try db.execute(sql: "INSERT OR IGNORE INTO cursor (id) VALUES (1)")
            if let highWaterMark {
                try db.execute(sql: "UPDATE cursor SET high_water_mark = ? WHERE id = 1", arguments: [highWaterMark])
            }
            if let versionCursor, let text = versionCursor.text {
                let kind = if case .number = versionCursor { "number" } else { "text" }
                try db.execute(sql: "UPDATE cursor SET version_kind = ?, version_text = ? WHERE id = 1", arguments: [kind, text])
            }
            let now = Date().timeIntervalSince1970
            for id in newHoles { try db.execute(sql: "INSERT OR IGNORE INTO hole (row_id, since_epoch) VALUES (?, ?)", arguments: [id, now]) }
            for id in filledHoles { try db.execute(sql: "DELETE FROM hole WHERE row_id = ?", arguments: [id]) }
            for (id, version) in published {
                try db.execute(sql: "INSERT INTO published (row_id, version) VALUES (?, ?) ON CONFLICT (row_id) DO UPDATE SET version = excluded.version", arguments: [id, version])
            }
        }
    }

    func close() {
        try? pool.close()
    }
}
