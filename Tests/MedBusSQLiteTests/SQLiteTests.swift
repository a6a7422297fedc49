import Foundation
import GRDB
import MedBusSQLite
import Testing

/// What the store and registry suites do not reach directly: the timestamp encoding itself, and what a failure
/// keeps of the statement that caused it. Opening, corruption and unwritable directories are covered there.
@Suite struct StoredTimestampTests {
    @Test func columnValuesAreMicrosecondsSince1970() {
        #expect(Date(timeIntervalSince1970: 0).storedMicroseconds == 0)
        #expect(Date(timeIntervalSince1970: 1_746_086_400.5).storedMicroseconds == 1_746_086_400_500_000)
        #expect(Date(timeIntervalSince1970: -1.5).storedMicroseconds == -1_500_000)
        #expect(Date(storedMicroseconds: 1_746_086_400_000_001) == Date(timeIntervalSince1970: 1_746_086_400.000001).roundedToStoredPrecision)
    }

    @Test func aRoundedDateSurvivesAWriteAndARead() {
        var generator = SystemRandomNumberGenerator()
        // Dates people store: 1970 to 2100 (far from today, a Double no longer holds every microsecond).
        let samples = [Date(), Date(timeIntervalSince1970: -1.5)]
            + (0..<10_000).map { _ in Date(timeIntervalSince1970: Double.random(in: 0...4_102_444_800, using: &generator)) }
        for date in samples {
            let rounded = date.roundedToStoredPrecision
            #expect(Date(storedMicroseconds: rounded.storedMicroseconds) == rounded)
            #expect(rounded.roundedToStoredPrecision == rounded)
            #expect(abs(rounded.timeIntervalSince(date)) <= 0.000_000_5 + 2 * date.timeIntervalSinceReferenceDate.magnitude.ulp)
        }
    }
}

@Suite struct DurableDatabaseTests {
    /// A failed migration is reported with SQLite's message; the statement's arguments never reach the error.
    @Test func aFailedMigrationKeepsTheMessageNotTheArguments() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-sqlite-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        var migrator = DatabaseMigrator()
        migrator.registerMigration("broken") { db in
            try db.execute(sql: "INSERT INTO missing (value) VALUES (?)", arguments: ["patient-secret"])
        }
        #expect {
            _ = try DurableDatabase.openPool(directory: directory, fileName: "test.sqlite", configuration: Configuration(), migrator: migrator)
        } throws: { error in
            guard case .failed(let detail) = error as? SQLiteFailure else { return false }
            return detail.contains("no such table: missing") && !detail.contains("patient-secret") && !detail.contains("INSERT")
        }
    }

    @Test func callerPragmasAreSetAfterSynchronousFull() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("medbus-sqlite-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let pool = try DurableDatabase.openPool(
            directory: directory, fileName: "test.sqlite", configuration: Configuration(),
            pragmas: ["temp_store = MEMORY"], migrator: DatabaseMigrator())
        defer { try? pool.close() }
        let settings = try pool.writeWithoutTransaction { db in
            try ["journal_mode", "synchronous", "temp_store"].map { try String.fetchOne(db, sql: "PRAGMA \($0)") ?? "unset" }
        }
        #expect(settings == ["wal", "2", "2"])
        #expect(pool.path == URL(fileURLWithPath: directory).appendingPathComponent("test.sqlite").path)
    }
}
