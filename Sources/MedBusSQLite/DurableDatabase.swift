import Foundation
import GRDB

/// Opening a MedBus SQLite file the way every durable component needs it: the message store and the mapping
/// registry both promise that a write that returned survives a crash or a power loss, and both must refuse to run
/// on a damaged file rather than serve or extend it.
public enum DurableDatabase {
    /// How hard a commit waits for the disk (SQLite's `synchronous` with WAL).
    ///
    /// - `full`: every commit fsyncs the WAL before it returns. A committed write survives a crash of the
    ///   process, of the operating system and a power loss.
    /// - `normal`: commits are written to the WAL (the operating system's page cache) and fsynced only at
    ///   checkpoints. A committed write survives a crash or kill -9 of the process — the page cache
    ///   outlives it — and the file is never corrupted, but an operating-system crash or a power loss may
    ///   undo the commits made since the WAL was last synced. No fsync per commit: ~4 ms less per commit on
    ///   the disk MedBus was measured on.
    public enum Sync: String, Sendable, CaseIterable {
        case full
        case normal
    }

    /// Opens `directory/fileName` as a `DatabasePool` (WAL mode), creating the directory and the file if missing.
    ///
    /// In order: checks that `directory` can be created and written to (so a bad directory is reported as such,
    /// not as an SQLite open error); opens the pool with the caller's `configuration` (label, busy timeout,
    /// `prepareDatabase`); on the writer connection sets `synchronous` to `sync` and then each of `pragmas` (written
    /// without the `PRAGMA` keyword, e.g. `"temp_store = MEMORY"`); runs `PRAGMA quick_check`, which reads the
    /// whole file (seconds for gigabytes); applies the pending migrations of `migrator`.
    ///
    /// GRDB sets `synchronous = NORMAL` with WAL, which may lose the last commits on power loss; FULL (the
    /// default) syncs the WAL at every commit. Only the writer connection commits, so setting it there is enough.
    ///
    /// - Throws: `.directoryNotWritable` with `directory` as given; `.corrupt` if the file is not an SQLite
    ///   database or fails the check (the file is left untouched); `.failed` otherwise.
    public static func openPool(
        directory: String,
        fileName: String,
        configuration: Configuration,
        sync: Sync = .full,
        pragmas: [String] = [],
        migrator: DatabaseMigrator
    ) throws(SQLiteFailure) -> DatabasePool {
        try ensureWritable(directory: directory)
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(sync.rawValue.uppercased())")
                for pragma in pragmas {
                    try db.execute(sql: "PRAGMA \(pragma)")
                }
                if let problem = try quickCheckProblem(db) {
                    throw SQLiteFailure.corrupt(path: path, detail: problem)
                }
            }
            try migrator.migrate(pool)
            return pool
        } catch {
            throw SQLiteFailure(error, path: path)
        }
    }

    /// Runs `PRAGMA quick_check` (every page and record, not index contents) and returns SQLite's first complaint
    /// as one line, or nil if the database is sound. One line because it ends up in an error message and a log.
    public static func quickCheckProblem(_ db: Database) throws -> String? {
        let verdict = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "quick_check returned nothing"
        guard verdict != "ok" else { return nil }
        // The verdict is a "*** in database main ***" header followed by one line per problem.
        let problems = verdict.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("***") }
        guard let first = problems.first else { return verdict }
        return problems.count == 1 ? String(first) : "\(first) (and \(problems.count - 1) more problems)"
    }

    /// Creates `directory` and a probe file in it. The probe's name is unique per process and call, so that two
    /// opens at once (two handles on one registry) never remove each other's probe.
    private static func ensureWritable(directory: String) throws(SQLiteFailure) {
        let files = FileManager.default
        let probe = URL(fileURLWithPath: directory)
            .appendingPathComponent(".medbus-write-probe-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)").path
        do {
            try files.createDirectory(atPath: directory, withIntermediateDirectories: true)
            guard files.createFile(atPath: probe, contents: Data()) else {
                throw SQLiteFailure.directoryNotWritable(path: directory)
            }
            try files.removeItem(atPath: probe)
        } catch {
            throw SQLiteFailure.directoryNotWritable(path: directory)
        }
    }
}
