import GRDB

/// The database schema: an append-only list of named migrations, applied in order by `DatabaseMigrator`, each
/// once, each in its own transaction.
///
/// Never edit, rename or reorder a migration that has shipped: databases in the field have recorded it as
/// applied and will not run it again. Change the schema by appending a migration. The saga log, mapping
/// registry and audit log add their tables here the same way.
enum StoreSchema {
    static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1-messages", migrate: createMessages)
        migrator.registerMigration("v2-payload-encryption", migrate: addPayloadKeyColumns)
        return migrator
    }

    /// The inbox/outbox table.
    ///
    /// STRICT makes SQLite reject a value of the wrong type instead of storing it. `payload` and `ack_payload`
    /// come last so that reading the other columns (a search) never walks through the payload bytes or their
    /// overflow pages. Timestamps are microseconds since 1970 (see `Date.storedMicroseconds` in MedBusSQLite).
    ///
    /// Indexes: each search filter is an index lookup, and each index ends in `received_at` so "newest first"
    /// is read straight off the index. The `(source, source_message_id)` index is partial, because many
    /// senders have no message id of their own and those rows need no uniqueness.
    private static func createMessages(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE messages (
                id                TEXT    NOT NULL PRIMARY KEY,
                source            TEXT    NOT NULL,
                source_message_id TEXT,
                type              TEXT    NOT NULL,
                content_type      TEXT    NOT NULL,
                status            TEXT    NOT NULL,
                received_at       INTEGER NOT NULL,
                updated_at        INTEGER NOT NULL,
                correlation_id    TEXT,
                topic             TEXT,
                kafka_partition   INTEGER,
                kafka_offset      INTEGER,
                error             TEXT,
                payload           BLOB    NOT NULL,
                ack_payload       BLOB
            ) STRICT;
            CREATE UNIQUE INDEX messages_source_message_id
                ON messages (source, source_message_id) WHERE source_message_id IS NOT NULL;
            CREATE INDEX messages_source_received_at ON messages (source, received_at);
            CREATE INDEX messages_type_received_at ON messages (type, received_at);
            CREATE INDEX messages_status_received_at ON messages (status, received_at);
            CREATE INDEX messages_received_at ON messages (received_at);
            """)
    }

    /// Payload encryption: `payload_key_id` names the key that sealed the row's payload and
    /// acknowledgement (NULL: stored in clear), `payload_size` keeps the clear size for searches.
    ///
    /// The table is rebuilt (SQLite's documented way to change a table's shape) rather than altered,
    /// because `ADD COLUMN` appends after `payload` and a search would then walk through every
    /// payload's overflow pages to reach the new columns.
    private static func addPayloadKeyColumns(_ db: Database) throws {
        try db.execute(sql: """
            CREATE TABLE messages_v2 (
                id                TEXT    NOT NULL PRIMARY KEY,
                source            TEXT    NOT NULL,
                source_message_id TEXT,
                type              TEXT    NOT NULL,
                content_type      TEXT    NOT NULL,
                status            TEXT    NOT NULL,
                received_at       INTEGER NOT NULL,
                updated_at        INTEGER NOT NULL,
                correlation_id    TEXT,
                topic             TEXT,
                kafka_partition   INTEGER,
                kafka_offset      INTEGER,
                error             TEXT,
                payload_key_id    TEXT,
                payload_size      INTEGER NOT NULL,
                payload           BLOB    NOT NULL,
                ack_payload       BLOB
            ) STRICT;
            INSERT INTO messages_v2
                SELECT id, source, source_message_id, type, content_type, status, received_at, updated_at,
                       correlation_id, topic, kafka_partition, kafka_offset, error, NULL, length(payload), payload, ack_payload
                FROM messages;
            DROP TABLE messages;
            ALTER TABLE messages_v2 RENAME TO messages;
            CREATE UNIQUE INDEX messages_source_message_id
                ON messages (source, source_message_id) WHERE source_message_id IS NOT NULL;
            CREATE INDEX messages_source_received_at ON messages (source, received_at);
            CREATE INDEX messages_type_received_at ON messages (type, received_at);
            CREATE INDEX messages_status_received_at ON messages (status, received_at);
            CREATE INDEX messages_received_at ON messages (received_at);
            """)
    }
}
