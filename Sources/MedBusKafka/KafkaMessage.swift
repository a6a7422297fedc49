/// One record header. Kafka allows repeated keys and null values; both are preserved.
public struct KafkaHeader: Sendable, Hashable {
    public var key: String
    public var value: [UInt8]?

    public init(key: String, value: [UInt8]?) {
        self.key = key
        self.value = value
    }

    public init(key: String, string: String) {
        self.init(key: key, value: Array(string.utf8))
    }

    public var stringValue: String? { value.map { String(decoding: $0, as: UTF8.self) } }
}

extension Array where Element == KafkaHeader {
    /// The first header with this key, decoded as UTF-8.
    public func string(_ key: String) -> String? {
        first { $0.key == key }?.stringValue
    }
}

/// A record to produce. Without an explicit `partition`, the key chooses the partition with the
/// Java client's murmur2 partitioner, so MedBus and any other client agree on where a key lives.
public struct KafkaProducerMessage: Sendable {
    public var topic: String
    public var partition: Int32?
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]

    public init(topic: String, partition: Int32? = nil, key: [UInt8]?, value: [UInt8]?, headers: [KafkaHeader] = []) {
        self.topic = topic
        self.partition = partition
        self.key = key
        self.value = value
        self.headers = headers
    }

    public init(topic: String, key: String?, value: String, headers: [KafkaHeader] = []) {
        self.init(topic: topic, key: key.map { Array($0.utf8) }, value: Array(value.utf8), headers: headers)
    }
}

/// A record read by a consumer; its bytes are copied out of librdkafka's buffers.
public struct KafkaConsumerMessage: Sendable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]?
    public var headers: [KafkaHeader]
    /// Milliseconds since the epoch, when the broker or producer stamped one.
    public var timestampMilliseconds: Int64?

    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
    public var valueString: String? { value.map { String(decoding: $0, as: UTF8.self) } }

    /// The position to commit once this message is processed: the next offset to read.
    public var nextPosition: TopicPartitionOffset {
        TopicPartitionOffset(topic: topic, partition: partition, offset: offset + 1)
    }
}

/// The broker's answer for one produced record.
public struct KafkaDeliveryReport: Sendable {
    public var topic: String
    public var partition: Int32
    /// Offset assigned by the broker; `nil` when delivery failed.
    public var offset: Int64?
    /// `nil` when the record is durably written (acks=all by default).
    public var error: KafkaError?
    /// From handing the record to librdkafka to its delivery report.
    public var latency: Duration = .zero
}
