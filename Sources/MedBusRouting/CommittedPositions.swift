import MedBusKafka

/// The positions (next offset to read) up to which this core's transactions have committed, and
/// where to resume after an abort.
///
/// The group coordinator is the authority on a real cluster: a partition may have been processed
/// by another instance while it was not ours. But the embedded cluster never applies
/// TxnOffsetCommit to the group, so what this core committed itself is remembered too, and the
/// later of the two wins. A partition known to neither starts from the beginning, as
/// `auto.offset.reset=earliest` (MedBus's consumer default) would.
struct CommittedPositions {
    /// librdkafka's logical offset `RD_KAFKA_OFFSET_BEGINNING`.
    static let beginning: Int64 = -2
    private var local: [InputPartition: Int64] = [:]

    /// Nothing committed by this core yet: the consumer's own starting positions are the truth.
    var isEmpty: Bool { local.isEmpty }

    mutating func committed(_ positions: [TopicPartitionOffset]) {
        for position in positions { local[InputPartition(topic: position.topic, partition: position.partition)] = position.offset }
    }

    /// Where processing of each partition resumes, given the group's committed offsets (negative
    /// when the group has none).
    func resumePositions(group: [TopicPartitionOffset]) -> [TopicPartitionOffset] {
        group.map { entry in
            let partition = InputPartition(topic: entry.topic, partition: entry.partition)
            let best = max(local[partition] ?? -1, entry.offset)
            return TopicPartitionOffset(topic: entry.topic, partition: entry.partition, offset: best >= 0 ? best : Self.beginning)
        }
    }
}

extension Array where Element == KafkaConsumerMessage {
    /// The next position of each partition in the batch: where the group resumes once it commits.
    var nextPositions: [TopicPartitionOffset] {
        var last: [InputPartition: Int64] = [:]
        var order: [InputPartition] = []
        for message in self {
            let partition = InputPartition(message)
            if last.updateValue(message.offset, forKey: partition) == nil { order.append(partition) }
        }
        return order.map { TopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: last[$0]! + 1) }
    }
}
