import Foundation
import GRDB
import MedBusSQLite

extension MessageStore {
    /// Stores a message; returns once the row is committed (fsynced), so the sender may be acknowledged.
    ///
    /// Concurrent callers share one transaction (group commit). A message whose `id`, or whose
    /// `(source, sourceMessageId)`, is already stored is not written: the outcome is `.duplicate` with the
    /// stored row. Throws `StoreError` if the batch transaction failed; then the row is not stored.
    public func insert(_ message: StoredMessage) async throws -> InsertOutcome {
        try await insert([message])[0]
    }

    /// Stores several messages with the next group commit (one savepoint for all of them, shared with
    /// whatever else is queued); returns once they are committed. Outcomes are in the order of `messages`;
    /// duplicates, also within `messages` (the later copy is the duplicate), are reported as for `insert`.
    /// Throws `StoreError` if the batch transaction failed; then none of the messages is stored.
    public func insert(_ messages: [StoredMessage]) async throws -> [InsertOutcome] {
        // Sealed here, before the group commit, so encryption never runs inside the shared transaction.
        let sealed = try messages.map { (message: $0, columns: try sealer.seal($0)) }
        return try await groupCommit { [sealer] db in try sealed.map { try Self.insert($0.message, $0.columns, into: db, sealer: sealer) } }
    }

    /// Stores several messages in one transaction, for callers that already hold a batch (a file import, a
    /// replay). Outcomes are in the order of `messages`; duplicates, also within `messages`, are reported as
    /// for `insert`.
    ///
    /// Blocks the calling thread for the transaction, fsync included. Throws `StoreError` if the transaction
    /// failed; then none of the messages is stored.
    public func insertBatch(_ messages: [StoredMessage]) throws -> [InsertOutcome] {
        let sealed = try messages.map { (message: $0, columns: try sealer.seal($0)) }
        return try write { db in try sealed.map { try Self.insert($0.message, $0.columns, into: db, sealer: sealer) } }
    }

    /// Records that Kafka acknowledged the message at `topic`/`partition`/`offset`: status `published`,
    /// error cleared. Committed with the next group-commit batch. Throws `StoreError.notFound` if no row has `id`.
    public func markPublished(id: String, topic: String, partition: Int32, offset: Int64) async throws {
        try await update(
            id: id,
            set: "status = ?, topic = ?, kafka_partition = ?, kafka_offset = ?, error = NULL",
            [MessageStatus.published.rawValue, topic, partition, offset])
    }

    /// Records that the message could not be processed: status `failed` with `error`, which must name the
    /// problem without quoting the payload. Throws `StoreError.notFound` if no row has `id`.
    public func markFailed(id: String, error: String) async throws {
        try await setStatus(id: id, status: .failed, error: error)
    }

    /// Sets the status, and the error (nil clears it). Throws `StoreError.notFound` if no row has `id`.
    public func setStatus(id: String, status: MessageStatus, error: String? = nil) async throws {
        try await update(id: id, set: "status = ?, error = ?", [status.rawValue, error])
    }

    /// Keeps the acknowledgement sent to the sender, so a retransmission gets the same bytes back.
    /// Throws `StoreError.notFound` if no row has `id`.
    public func setAck(id: String, ack: Data) async throws {
        let now = Date().storedMicroseconds
        try await groupCommit { [sealer] db in
            // The acknowledgement is sealed under the key of its row's payload, so one key id per row
            // says which key a row needs.
            guard let row = try Row.fetchOne(db, sql: "SELECT payload_key_id FROM messages WHERE id = ?", arguments: [id]) else {
                throw StoreError.notFound(id: id)
            }
            let stored = try sealer.seal(ack, id: id, column: .ack, keyID: row["payload_key_id"])
            try db.execute(sql: "UPDATE messages SET ack_payload = ?, updated_at = ? WHERE id = ?", arguments: [stored, now, id])
        }
    }

    /// Records, for many messages at once, where each landed on Kafka (status `published`, error cleared)
    /// and/or the acknowledgement sent to its sender, with the next group commit: one savepoint for all of
    /// them instead of one write per message and per fact.
    /// - Returns: the ids of `deliveries` that match no row (nothing is written for those).
    @discardableResult
    public func record(_ deliveries: [Delivery]) async throws -> [String] {
        let now = Date().storedMicroseconds
        return try await groupCommit { [sealer] db in
            var missing: [String] = []
            // Prepared once per connection: this runs for every acknowledged message.
            let keyOfRow = try db.cachedStatement(sql: "SELECT payload_key_id FROM messages WHERE id = ?")
            for delivery in deliveries {
                var assignments: [String] = []
                var arguments: StatementArguments = []
                if let kafka = delivery.kafka {
                    assignments.append("status = ?, topic = ?, kafka_partition = ?, kafka_offset = ?, error = NULL")
                    arguments += [MessageStatus.published.rawValue, kafka.topic, kafka.partition, kafka.offset]
                }
                if let ack = delivery.ack {
                    // Sealed under the key of its row's payload, as `setAck` does.
                    guard let row = try Row.fetchOne(keyOfRow, arguments: [delivery.id]) else {
                        missing.append(delivery.id)
                        continue
                    }
                    assignments.append("ack_payload = ?")
                    arguments += [try sealer.seal(ack, id: delivery.id, column: .ack, keyID: row["payload_key_id"])]
                }
                guard !assignments.isEmpty else { continue }
                try db.cachedStatement(sql: "UPDATE messages SET \(assignments.joined(separator: ", ")), updated_at = ? WHERE id = ?")
                    .execute(arguments: arguments + [now, delivery.id])
                if db.changesCount == 0 { missing.append(delivery.id) }
            }
            return missing
        }
    }

    /// Updates the row `id` in the next group-commit batch and stamps `updated_at`.
    private func update(id: String, set assignments: String, _ arguments: StatementArguments) async throws {
        let sql = "UPDATE messages SET \(assignments), updated_at = ? WHERE id = ?"
        let now = Date().storedMicroseconds
        try await groupCommit { db in
            try db.execute(sql: sql, arguments: arguments + [now, id])
            guard db.changesCount > 0 else { throw StoreError.notFound(id: id) }
        }
    }

    private static let insertSQL = """
        INSERT INTO messages (
            id, source, source_message_id, type, content_type, status, received_at, updated_at,
            correlation_id, topic, kafka_partition, kafka_offset, error, payload_key_id, payload_size, payload, ack_payload
        ) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT DO NOTHING
        """

    /// Inserts one row inside the caller's transaction. A uniqueness conflict (id, or source and source
    /// message id) writes nothing and returns the row it collided with.
    private static func insert(_ message: StoredMessage, _ columns: PayloadSealer.Columns, into db: Database, sealer: PayloadSealer) throws -> InsertOutcome {
        try db.cachedStatement(sql: insertSQL).execute(arguments: [
            message.id, message.source, message.sourceMessageId, message.type, message.contentType,
            message.status.rawValue, message.receivedAt.storedMicroseconds, message.updatedAt.storedMicroseconds,
            message.correlationId, message.topic, message.partition, message.offset, message.error,
            columns.keyID, columns.payloadSize, columns.payload, columns.ackPayload,
        ])
        if db.changesCount > 0 {
            return .inserted
        }
        let existing = try fetchMessage(db, where: "id = ?", [message.id], sealer: sealer)
        if let existing {
            return .duplicate(existing: existing)
        }
        if let sourceMessageId = message.sourceMessageId,
            let existing = try fetchMessage(
                db, where: "source = ? AND source_message_id = ?", [message.source, sourceMessageId], sealer: sealer)
        {
            return .duplicate(existing: existing)
        }
        // ON CONFLICT only skips uniqueness conflicts, and the two unique keys were just checked.
        throw StoreError.sqlite("insert of message \(message.id) was skipped without a conflicting row")
    }
}
