import GRDB

/// The registry's tables: an append-only list of named migrations, each applied once, in order, in its own
/// transaction. Never edit or reorder a migration that has shipped; append a new one.
///
/// Immutability is enforced by the database, not only by this module's code: triggers refuse to update or
/// delete a version row or an audit entry, and refuse to rewrite an activation (only its `announced_at` may be
/// set). Someone with the sqlite3 shell must drop a trigger first, and that is visible in the schema.
enum RegistrySchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-mappings-audit", migrate: createTables)
        migrator.registerMigration("v2-audit-role-outcome", migrate: addAuditRoleAndOutcome)
        return migrator
    }

    /// STRICT rejects values of the wrong type. `content` comes last so that listing versions without content
    /// never walks its overflow pages. Timestamps are microseconds since 1970 (`Date.storedMicroseconds` in MedBusSQLite).
    ///
    /// `mapping_activations.sequence` is AUTOINCREMENT so a sequence number is never reused, even if rows were
    /// ever removed by hand: routers compare sequences to decide which announcement is newer.
    private static func createTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE mapping_versions (
                name         TEXT    NOT NULL,
                version      INTEGER NOT NULL CHECK (version >= 1),
                digest       TEXT    NOT NULL,
                author       TEXT    NOT NULL,
                published_at INTEGER NOT NULL,
                note         TEXT    NOT NULL,
                content      BLOB    NOT NULL,
                PRIMARY KEY (name, version)
            ) STRICT;
            CREATE TRIGGER mapping_versions_no_update BEFORE UPDATE ON mapping_versions
                BEGIN SELECT RAISE(ABORT, 'mapping versions are immutable'); END;
            CREATE TRIGGER mapping_versions_no_delete BEFORE DELETE ON mapping_versions
                BEGIN SELECT RAISE(ABORT, 'mapping versions are immutable'); END;

            CREATE TABLE mapping_activations (
                sequence     INTEGER PRIMARY KEY AUTOINCREMENT,
                name         TEXT    NOT NULL,
                version      INTEGER NOT NULL,
                action       TEXT    NOT NULL CHECK (action IN ('publish', 'rollback')),
                author       TEXT    NOT NULL,
                activated_at INTEGER NOT NULL,
                note         TEXT    NOT NULL,
                announced_at INTEGER,
                FOREIGN KEY (name, version) REFERENCES mapping_versions (name, version)
            ) STRICT;
            CREATE INDEX mapping_activations_name_sequence ON mapping_activations (name, sequence);
            CREATE TRIGGER mapping_activations_no_rewrite
                BEFORE UPDATE OF sequence, name, version, action, author, activated_at, note ON mapping_activations
                BEGIN SELECT RAISE(ABORT, 'mapping activations are immutable'); END;
            CREATE TRIGGER mapping_activations_no_delete BEFORE DELETE ON mapping_activations
                BEGIN SELECT RAISE(ABORT, 'mapping activations are immutable'); END;

            CREATE TABLE audit_log (
                id     INTEGER PRIMARY KEY AUTOINCREMENT,
                at     INTEGER NOT NULL,
                actor  TEXT    NOT NULL,
                action TEXT    NOT NULL,
                object TEXT    NOT NULL,
                detail TEXT    NOT NULL
            ) STRICT;
            CREATE INDEX audit_log_at ON audit_log (at);
            CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
                BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
            """)
    }

    /// The admin API's actions record the caller's role and whether the action succeeded or was refused.
    /// Entries written before (and registry changes made with the CLI on the data directory) are `local`.
    private static func addAuditRoleAndOutcome(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE audit_log ADD COLUMN role TEXT NOT NULL DEFAULT 'local';
            ALTER TABLE audit_log ADD COLUMN outcome TEXT NOT NULL DEFAULT 'success';
            CREATE INDEX audit_log_actor ON audit_log (actor, id);
            """)
    }
}
