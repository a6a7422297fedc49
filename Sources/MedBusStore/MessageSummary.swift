import Foundation
import GRDB
import MedBusSQLite

/// A stored message without its payloads: what a search returns, so listing thousands of rows never reads
/// the message bodies.
public struct MessageSummary: Sendable, Equatable, Identifiable {
    public var id: String
    public var source: String
    public var sourceMessageId: String?
    public var type: String
    public var contentType: String
    public var status: MessageStatus
    public var receivedAt: Date
    public var updatedAt: Date
    public var correlationId: String?
    public var topic: String?
    public var partition: Int32?
    public var offset: Int64?
    public var error: String?
    /// Size of the (clear) payload in bytes, kept in its own column so a search never reads the payload.
    public var payloadSize: Int
}

extension MessageSummary {
    /// The select list `init(row:)` decodes.
    static let selection = """
        id, source, source_message_id, type, content_type, status, received_at, updated_at, \
        correlation_id, topic, kafka_partition, kafka_offset, error, payload_size, payload_key_id
        """

    /// Decodes a row selected with `selection`.
    ///
    /// Throws `StoreError.sqlite` if a column holds a value of the wrong type or a status this version does
    /// not know (a database written by a newer MedBus), instead of trapping.
    init(row: Row) throws {
        let id: String = try row.decode(forColumn: "id")
        let rawStatus: String = try row.decode(forColumn: "status")
        guard let status = MessageStatus(rawValue: rawStatus) else {
            throw StoreError.sqlite("message \(id) has unknown status '\(rawStatus)'")
        }
        self.init(
            id: id,
            source: try row.decode(forColumn: "source"),
            sourceMessageId: try row.decode(forColumn: "source_message_id"),
            type: try row.decode(forColumn: "type"),
            contentType: try row.decode(forColumn: "content_type"),
            status: status,
            receivedAt: Date(storedMicroseconds: try row.decode(forColumn: "received_at")),
            updatedAt: Date(storedMicroseconds: try row.decode(forColumn: "updated_at")),
            correlationId: try row.decode(forColumn: "correlation_id"),
            topic: try row.decode(forColumn: "topic"),
            partition: try row.decode(forColumn: "kafka_partition"),
            offset: try row.decode(forColumn: "kafka_offset"),
            error: try row.decode(forColumn: "error"),
            payloadSize: try row.decode(forColumn: "payload_size"))
    }
}
