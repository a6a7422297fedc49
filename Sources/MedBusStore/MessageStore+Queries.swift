import GRDB

extension MessageStore {
    /// The message with MedBus id `id`, or nil.
    public func message(id: String) throws -> StoredMessage? {
        try read { db in try Self.fetchMessage(db, where: "id = ?", [id], sealer: sealer) }
    }

    /// The message `source` sent with its own id `sourceMessageId` (HL7 MSH-10, ...), or nil: how an adapter
    /// recognises a retransmission before doing any work.
    public func message(source: String, sourceMessageId: String) throws -> StoredMessage? {
        try read { db in
            try Self.fetchMessage(db, where: "source = ? AND source_message_id = ?", [source, sourceMessageId], sealer: sealer)
        }
    }

    /// The messages matching `query`, newest first, at most `query.limit`, without their payloads.
    public func search(_ query: MessageQuery) throws -> [MessageSummary] {
        let (sql, arguments) = query.searchStatement
        return try read { db in
            try Row.fetchAll(db.cachedStatement(sql: sql), arguments: arguments).map(MessageSummary.init(row:))
        }
    }

    /// How many messages match `query`, ignoring its limit.
    public func count(_ query: MessageQuery) throws -> Int {
        let (sql, arguments) = query.countStatement
        return try read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    /// The one message matching `condition` (a unique key), or nil.
    static func fetchMessage(_ db: Database, where condition: String, _ arguments: StatementArguments, sealer: PayloadSealer) throws
        -> StoredMessage?
    {
        let sql = "SELECT \(StoredMessage.selection) FROM messages WHERE \(condition)"
        return try Row.fetchOne(db.cachedStatement(sql: sql), arguments: arguments).map { try StoredMessage(row: $0, sealer: sealer) }
    }

    /// How many messages each payload key seals (`nil`: rows in clear), so an operator knows when an
    /// old key can leave the key file.
    public func payloadKeyUsage() throws -> [String?: Int] {
        try read { db in
            var usage: [String?: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT payload_key_id, COUNT(*) AS n FROM messages GROUP BY payload_key_id") {
                usage[row["payload_key_id"] as String?] = row["n"]
            }
            return usage
        }
    }
}
