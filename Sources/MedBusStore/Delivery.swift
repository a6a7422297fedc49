import Foundation

/// What became of a stored message after it was offered to Kafka, recorded in bulk by `MessageStore.record(_:)`:
/// where Kafka put it, the acknowledgement its sender got, or both.
public struct Delivery: Sendable, Equatable {
    /// Where Kafka acknowledged a record.
    public struct Location: Sendable, Equatable {
        public var topic: String
        public var partition: Int32
        public var offset: Int64

        public init(topic: String, partition: Int32, offset: Int64) {
            self.topic = topic
            self.partition = partition
            self.offset = offset
        }
    }

    /// The message's id (`StoredMessage.id`).
    public var id: String
    /// Set: the row becomes `published` at this location, its error cleared.
    public var kafka: Location?
    /// Set: kept as the row's acknowledgement, so a retransmission gets the same bytes back.
    public var ack: Data?

    public init(id: String, kafka: Location? = nil, ack: Data? = nil) {
        self.id = id
        self.kafka = kafka
        self.ack = ack
    }
}
