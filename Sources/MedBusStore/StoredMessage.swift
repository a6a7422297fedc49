import Foundation
import GRDB
import MedBusSQLite

/// One message as the store keeps it: the bytes exactly as received, plus where it is in its life.
///
/// `receivedAt` and `updatedAt` are rounded to the microsecond on every assignment, because that is the
/// precision the store keeps; so a message read back compares equal to the one that was written.
public struct StoredMessage: Sendable, Equatable, Identifiable {
    /// The MedBus message id; unique in the store.
    public var id: String
    /// The adapter the message came from, e.g. `his.h370102001`.
    public var source: String
    /// The sender's own id (HL7 MSH-10, ...). Unique per `source` when present: a second message with the same
    /// pair is a retransmission.
    public var sourceMessageId: String?
    /// The message type, e.g. `ADT^A01`.
    public var type: String
    public var contentType: String
    public var status: MessageStatus
    public var receivedAt: Date { didSet { receivedAt = receivedAt.roundedToStoredPrecision } }
    public var updatedAt: Date { didSet { updatedAt = updatedAt.roundedToStoredPrecision } }
    public var correlationId: String?
    /// Where Kafka stored the message, once published.
    public var topic: String?
    public var partition: Int32?
    public var offset: Int64?
    /// The bytes as received.
    public var payload: Data
    /// Why processing failed, when `status` is `failed` or `deadLettered`.
    public var error: String?
    /// The exact acknowledgement sent back, so a retransmission gets the same answer.
    public var ackPayload: Data?

    /// `updatedAt` defaults to `receivedAt`.
    public init(
        id: String,
        source: String,
        sourceMessageId: String? = nil,
        type: String,
        contentType: String,
        status: MessageStatus = .received,
        receivedAt: Date = Date(),
        updatedAt: Date? = nil,
        correlationId: String? = nil,
        topic: String? = nil,
        partition: Int32? = nil,
        offset: Int64? = nil,
        payload: Data,
        error: String? = nil,
        ackPayload: Data? = nil
    ) {
        self.id = id
        self.source = source
        self.sourceMessageId = sourceMessageId
        self.type = type
        self.contentType = contentType
        self.status = status
        self.receivedAt = receivedAt.roundedToStoredPrecision
        self.updatedAt = (updatedAt ?? receivedAt).roundedToStoredPrecision
        self.correlationId = correlationId
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.payload = payload
        self.error = error
        self.ackPayload = ackPayload
    }
}

extension StoredMessage {
    /// The select list `init(row:)` decodes.
    static let selection = MessageSummary.selection + ", payload, ack_payload"

    /// Decodes a row selected with `selection`, opening sealed payloads with `sealer`; throws like
    /// `MessageSummary.init(row:)` and `PayloadSealer.open`.
    init(row: Row, sealer: PayloadSealer) throws {
        let summary = try MessageSummary(row: row)
        let keyID: String? = try row.decode(forColumn: "payload_key_id")
        let ack: Data? = try row.decode(forColumn: "ack_payload")
        self.init(
            id: summary.id,
            source: summary.source,
            sourceMessageId: summary.sourceMessageId,
            type: summary.type,
            contentType: summary.contentType,
            status: summary.status,
            receivedAt: summary.receivedAt,
            updatedAt: summary.updatedAt,
            correlationId: summary.correlationId,
            topic: summary.topic,
            partition: summary.partition,
            offset: summary.offset,
            payload: try sealer.open(try row.decode(forColumn: "payload"), id: summary.id, column: .payload, keyID: keyID),
            error: summary.error,
            ackPayload: try ack.map { try sealer.open($0, id: summary.id, column: .ack, keyID: keyID) })
    }
}
