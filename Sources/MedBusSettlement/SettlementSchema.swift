import GRDB

/// The saga log's schema as append-only named migrations (never edit one that has shipped).
enum SettlementSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-settlements", migrate: createTables)
        migrator.registerMigration("v2-platform-queries", migrate: createQueries)
        return migrator
    }

    /// `record` is the saga's JSON (SagaRecord); the other columns are for lookups and operators.
    /// The UNIQUE (fixmedins_code, chrg_bchno) constraint is what makes a repeated request find
    /// the same saga, however many arrive at once. Timestamps are microseconds since 1970.
    private static func createTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE settlements (
                id             TEXT    NOT NULL PRIMARY KEY,
                fixmedins_code TEXT    NOT NULL,
                chrg_bchno     TEXT    NOT NULL,
                state          TEXT    NOT NULL,
                step           TEXT,
                msgid          TEXT,
                attempt        INTEGER NOT NULL,
                needs_work     INTEGER NOT NULL,
                created_at     INTEGER NOT NULL,
                updated_at     INTEGER NOT NULL,
                record         BLOB    NOT NULL,
                UNIQUE (fixmedins_code, chrg_bchno)
            ) STRICT;
            CREATE INDEX settlements_needs_work ON settlements (needs_work) WHERE needs_work = 1;
            CREATE INDEX settlements_state_created_at ON settlements (state, created_at);
            CREATE INDEX settlements_created_at ON settlements (created_at);

            CREATE TABLE settlement_messages (
                msgid         TEXT    NOT NULL PRIMARY KEY,
                settlement_id TEXT    NOT NULL REFERENCES settlements (id),
                step          TEXT    NOT NULL,
                created_at    INTEGER NOT NULL
            ) STRICT;

            CREATE TABLE settlement_transitions (
                seq           INTEGER PRIMARY KEY AUTOINCREMENT,
                settlement_id TEXT    NOT NULL,
                from_state    TEXT,
                to_state      TEXT    NOT NULL,
                step          TEXT,
                msgid         TEXT,
                attempt       INTEGER NOT NULL,
                reason        TEXT,
                at            INTEGER NOT NULL
            );
            CREATE INDEX settlement_transitions_settlement ON settlement_transitions (settlement_id, seq);
            CREATE TRIGGER settlement_transitions_no_update BEFORE UPDATE ON settlement_transitions
                BEGIN SELECT RAISE(ABORT, 'settlement_transitions is append-only'); END;
            CREATE TRIGGER settlement_transitions_no_delete BEFORE DELETE ON settlement_transitions
                BEGIN SELECT RAISE(ABORT, 'settlement_transitions is append-only'); END;
            """)
    }

    /// msgids of platform requests outside any saga (3201 reconciliation): they share the msgid
    /// sequence with `settlement_messages`, so no two requests ever carry one msgid.
    private static func createQueries(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE platform_queries (
                msgid      TEXT    NOT NULL PRIMARY KEY,
                infno      TEXT    NOT NULL,
                created_at INTEGER NOT NULL
            ) STRICT;
            """)
    }
}
