import Foundation
import GRDB

/// The mapping registry: every published version of every mapping, which version of each is active, who changed
/// what and why.
///
/// One SQLite file, `registry.sqlite` in the data directory. Versions are immutable and numbered 1, 2, 3… per
/// name; publishing makes the new version active, rolling back makes an earlier one active again, and both are
/// recorded as activations with their author, time and note. Each change writes its audit entry in the same
/// transaction.
///
/// The registry does not talk to Kafka. After a change, `MappingDistribution.resync(_:)` announces whatever is
/// active but not yet announced, so an announcement that failed after the commit (Kafka down) is simply sent by
/// the next change or by an explicit resync.
///
/// Several handles, in one process or in several, may use the same file: changes serialize on SQLite's write
/// lock. Every method throws `RegistryError` only. Safe to use from any thread or task.
public final class MappingRegistry: Sendable {
    let database: RegistryDatabase

    /// The database file.
    public var databasePath: String { database.path }

    /// The audit log in the same file.
    public var auditLog: AuditLog { AuditLog(database: database) }

    private init(database: RegistryDatabase) {
        self.database = database
    }

    /// Opens the registry in `directory` (the data directory), creating the directory and `registry.sqlite` if
    /// missing, checking the file with `PRAGMA quick_check` and applying pending migrations.
    ///
    /// - Throws: `RegistryError.directoryNotWritable`, `.corrupt` (not an SQLite file, or damaged), `.sqlite`.
    public static func open(directory: URL) throws -> MappingRegistry {
        MappingRegistry(database: try RegistryDatabase.open(directory: directory))
    }

    /// Closes every connection. Calling it again does nothing; any other use afterwards throws `.closed`.
    public func close() throws {
        try database.close()
    }

    /// Runs `PRAGMA quick_check`: true if the database is sound.
    public func integrityCheck() throws -> Bool {
        try database.quickCheck() == nil
    }
}
