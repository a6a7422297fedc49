import Foundation
import GRDB
import MedBusSQLite

/// `<data-dir>/admin.sqlite`: the admin API's own state — API tokens and how far the audit log has
/// been forwarded to `medbus.audit`. (The audit log itself is the registry's, one log for everything.)
public final class AdminDatabase: Sendable {
    public static let fileName = "admin.sqlite"
    let pool: DatabasePool

    /// Opens (creating if missing) `directory/admin.sqlite` (WAL, synchronous=FULL, quick_check, migrations).
    public init(directory: String) throws {
        var configuration = Configuration()
        configuration.label = "medbus.admin"
        configuration.busyMode = .timeout(10)
        do {
            pool = try DurableDatabase.openPool(directory: directory, fileName: Self.fileName, configuration: configuration, migrator: Self.migrator)
        } catch {
            throw TokenStore.Failure.database("\(error)")
        }
    }

    public func close() throws { try pool.close() }

    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-api-tokens-audit-feed") { db in
            try db.execute(sql: """
                CREATE TABLE api_tokens (
                    id         TEXT    PRIMARY KEY,
                    name       TEXT    NOT NULL,
                    role       TEXT    NOT NULL CHECK (role IN ('viewer', 'operator', 'auditor', 'admin')),
                    salt       BLOB    NOT NULL,
                    digest     BLOB    NOT NULL,
                    created_at INTEGER NOT NULL,
                    created_by TEXT    NOT NULL,
                    revoked_at INTEGER
                ) STRICT;
                CREATE UNIQUE INDEX api_tokens_live_name ON api_tokens (name) WHERE revoked_at IS NULL;
                CREATE TABLE audit_feed (
                    topic    TEXT    PRIMARY KEY,
                    last_id  INTEGER NOT NULL
                ) STRICT;
                """)
        }
        return migrator
    }
}
