import GRDB

/// The prescription store's schema as append-only named migrations (never edit one that has shipped).
enum RxSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-prescriptions", migrate: createTables)
        migrator.registerMigration("v2-centre", migrate: addCentre)
        return migrator
    }

    /// - `prescriptions`: one row per prescription, its current state; UNIQUE (fixmedins_code, hosp_rxno) is what
    ///   makes a hospital's retransmission find the prescription it already issued.
    /// - `rx_transitions`: the append-only history (triggers refuse updates and deletes).
    /// - `rx_outbox`: records to publish, written in the transaction of the transition they announce and
    ///   deleted after Kafka acknowledged them (by the next write): a transition is never published before it
    ///   is committed, and never lost after.
    /// - `rx_commands`: the result of every command id seen (Kafka commands, HTTP Idempotency-Key), written in
    ///   the transaction of the transition it caused: a command delivered again gets the same result.
    /// Timestamps are microseconds since 1970.
    private static func createTables(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE prescriptions (
                id             TEXT    NOT NULL PRIMARY KEY,
                fixmedins_code TEXT    NOT NULL,
                hosp_rxno      TEXT    NOT NULL,
                trace_code     TEXT    NOT NULL UNIQUE,
                qr_token       TEXT    NOT NULL UNIQUE,
                region         TEXT    NOT NULL,
                status         TEXT    NOT NULL,
                holder         TEXT,
                lease_until    INTEGER,
                validity_end   INTEGER NOT NULL,
                max_rept_cnt   INTEGER NOT NULL,
                used_count     INTEGER NOT NULL,
                version        INTEGER NOT NULL,
                input_digest   TEXT    NOT NULL,
                document       BLOB    NOT NULL,
                digest         TEXT    NOT NULL,
                signature      BLOB    NOT NULL,
                key_id         TEXT    NOT NULL,
                review         TEXT,
                dispenses      TEXT    NOT NULL,
                created_at     INTEGER NOT NULL,
                updated_at     INTEGER NOT NULL,
                UNIQUE (fixmedins_code, hosp_rxno)
            ) STRICT;
            CREATE INDEX prescriptions_validity_due ON prescriptions (validity_end) WHERE status IN ('valid', 'claimed', 'reviewed');
            CREATE INDEX prescriptions_lease_due ON prescriptions (lease_until) WHERE status IN ('claimed', 'reviewed');
            CREATE INDEX prescriptions_status_created ON prescriptions (status, created_at);

            CREATE TABLE rx_transitions (
                seq         INTEGER PRIMARY KEY AUTOINCREMENT,
                rx_id       TEXT    NOT NULL,
                version     INTEGER NOT NULL,
                action      TEXT    NOT NULL,
                from_status TEXT,
                to_status   TEXT    NOT NULL,
                actor       TEXT,
                reason      TEXT,
                detail      TEXT,
                at          INTEGER NOT NULL,
                UNIQUE (rx_id, version)
            ) STRICT;
            CREATE TRIGGER rx_transitions_no_update BEFORE UPDATE ON rx_transitions
                BEGIN SELECT RAISE(ABORT, 'rx_transitions is append-only'); END;
            CREATE TRIGGER rx_transitions_no_delete BEFORE DELETE ON rx_transitions
                BEGIN SELECT RAISE(ABORT, 'rx_transitions is append-only'); END;

            CREATE TABLE rx_outbox (
                seq          INTEGER PRIMARY KEY AUTOINCREMENT,
                topic        TEXT    NOT NULL,
                key          TEXT    NOT NULL,
                value        BLOB    NOT NULL,
                message_id   TEXT    NOT NULL,
                message_type TEXT    NOT NULL,
                created_at   INTEGER NOT NULL
            ) STRICT;

            CREATE TABLE rx_commands (
                command_id TEXT    NOT NULL PRIMARY KEY,
                rx_id      TEXT,
                result     BLOB    NOT NULL,
                at         INTEGER NOT NULL
            ) STRICT;
            """)
    }

    /// - `prescriptions.centre`: the prescription's state at the insurance e-prescription centre (`RxCentreState`
    ///   as JSON), written by the centre forwarder; not a lifecycle transition.
    /// - `rx_outbox.headers`: extra Kafka headers of a record (JSON object), such as the dead-letter headers of a
    ///   call the centre rejected.
    private static func addCentre(_ db: Database) throws {
        try db.execute(sql: """
            ALTER TABLE prescriptions ADD COLUMN centre TEXT;
            ALTER TABLE rx_outbox ADD COLUMN headers TEXT;
            """)
    }
}
