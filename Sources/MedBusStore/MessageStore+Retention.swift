import Foundation
import GRDB
import MedBusSQLite

/// What `prune` did. Sizes are of the database file plus its WAL, in bytes.
public struct PruneResult: Sendable, Equatable {
    public var deletedRows: Int
    public var fileBytesBefore: Int64
    public var fileBytesAfter: Int64
}

extension MessageStore {
    /// Rows deleted per transaction: small enough that a waiting insert is delayed by milliseconds, not by
    /// the whole prune.
    private static let pruneChunkRows = 10_000
    /// Free pages handed back to the file system per transaction (20 MiB of 4 KiB pages), for the same reason.
    private static let vacuumChunkPages = 5_000

    /// Deletes every message received before `cutoff`, whatever its status, and gives the space back to the
    /// file system.
    ///
    /// Deletes in transactions of `pruneChunkRows` rows, so inserts go on meanwhile; then releases the free
    /// pages (`PRAGMA incremental_vacuum`) and truncates the WAL (`PRAGMA wal_checkpoint(TRUNCATE)`). If
    /// it throws, the chunks already committed stay deleted; pruning again finishes the job. If readers keep
    /// the WAL busy, it is not truncated this time, which `fileBytesAfter` shows.
    public func prune(olderThan cutoff: Date) throws -> PruneResult {
        let before = fileBytes()
        var deletedRows = 0
        var deletedInChunk = 0
        repeat {
            deletedInChunk = try write { db in
                try db.execute(
                    sql: """
                        DELETE FROM messages WHERE rowid IN
                            (SELECT rowid FROM messages WHERE received_at < ? LIMIT ?)
                        """,
                    arguments: [cutoff.storedMicroseconds, Self.pruneChunkRows])
                return db.changesCount
            }
            deletedRows += deletedInChunk
        } while deletedInChunk == Self.pruneChunkRows

        var freePages = try read { db in try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0 }
        while freePages > 0 {
            let remaining = try writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA incremental_vacuum(\(Self.vacuumChunkPages))")
                return try Int.fetchOne(db, sql: "PRAGMA freelist_count") ?? 0
            }
            // No progress means auto_vacuum is off (a file created by another tool): the pages stay free
            // inside the file, for later inserts.
            guard remaining < freePages else { break }
            freePages = remaining
        }
        // The vacuum itself went through the WAL; the checkpoint copies it into the main file, which only
        // then shrinks, and TRUNCATE empties the WAL. A busy result (a reader still on an old snapshot) is
        // not an error: the next checkpoint finishes the work.
        try writeWithoutTransaction { db in try db.execute(sql: "PRAGMA wal_checkpoint(TRUNCATE)") }
        return PruneResult(deletedRows: deletedRows, fileBytesBefore: before, fileBytesAfter: fileBytes())
    }

    /// Size of the database file plus its WAL; a missing file counts as zero.
    private func fileBytes() -> Int64 {
        [databasePath, databasePath + "-wal"].reduce(0) { total, path in
            let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
            return total + (size ?? 0)
        }
    }
}
