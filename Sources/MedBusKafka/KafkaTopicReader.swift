import CRdKafka
import Foundation
import Logging

/// Reads a topic's records from a point in time up to the partitions' current end, without
/// joining a consumer group or committing anything. For recovery (which in-doubt messages did
/// reach Kafka?) and for operators' inspection; not for continuous consumption.
public enum KafkaTopicReader {
    /// Records read per partition when the time lookup gives no offset.
    static let fallbackRecords: Int64 = 100_000

    /// - Returns: the records of every partition with a timestamp at or after `since`, in
    ///   partition order, up to the high watermark as of the call.
    /// - Throws: `KafkaError` if the topic does not exist or the cluster does not answer in time.
    public static func read(config: KafkaConfig, topic: String, since: Date, timeout: Duration = .seconds(30), logger: Logger = Logger(label: "medbus.kafka.reader")) async throws -> [KafkaConsumerMessage] {
        var properties = config.resolved(defaults: KafkaConsumer.defaultProperties)
        // A group id is needed by the client, but nothing is ever committed for it.
        properties["group.id"] = "medbus-reader-\(UUID().uuidString.lowercased())"
        let client = try RDKafkaClient(kind: .consumer, properties: properties, logger: logger)
        defer { client.destroy() }
        let ms = timeout.milliseconds
        let deadline = ContinuousClock.now + timeout
        return try await Blocking.run {
            let rk = client.handle
            guard let partitionCount = try client.partitionCount(of: topic, timeoutMilliseconds: ms) else {
                throw KafkaError(code: .unknownTopicOrPartition, message: "topic '\(topic)' does not exist")
            }

            // Where each partition's records from `since` start, and where it ends now.
            let timestamp = Int64(since.timeIntervalSince1970 * 1000)
            let starts = makePartitionList((0..<partitionCount).map { TopicPartitionOffset(topic: topic, partition: $0, offset: timestamp) })
            defer { rd_kafka_topic_partition_list_destroy(starts) }
            let lookup = rd_kafka_offsets_for_times(rk, starts, ms)
            guard lookup == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(lookup, "look up offsets of '\(topic)' by time") }
            var ends: [Int32: Int64] = [:]
            var assignment: [TopicPartitionOffset] = []
            for start in readPartitionList(starts) {
                let (low, high) = try client.watermarks(topic: topic, partition: start.partition, timeoutMilliseconds: ms)
                // A negative start means "no record since then" on Kafka, but "lookup by time not
                // supported" on the embedded mock cluster. Either way read the partition's last
                // `fallbackRecords`: everything the mock keeps, and bounded work on Kafka.
                var from = start
                if from.offset < 0 { from.offset = max(low, high - fallbackRecords) }
                if from.offset < high {
                    ends[from.partition] = high
                    assignment.append(from)
                }
            }
            guard !assignment.isEmpty else { return [] }
            try client.assign(assignment)

            var records: [KafkaConsumerMessage] = []
            while !ends.isEmpty {
                guard ContinuousClock.now < deadline else {
                    throw KafkaError(code: .timedOut, message: "reading '\(topic)': partitions \(ends.keys.sorted()) not read to their end in time")
                }
                guard let raw = rd_kafka_consumer_poll(rk, 100) else { continue }
                defer { rd_kafka_message_destroy(raw) }
                let perr = raw.pointee.err
                if perr == RD_KAFKA_RESP_ERR__PARTITION_EOF { ends[raw.pointee.partition] = nil; continue }
                guard perr == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(perr, "read '\(topic)'") }
                let record = KafkaConsumerMessage(raw)
                records.append(record)
                if let end = ends[record.partition], record.offset + 1 >= end { ends[record.partition] = nil }
            }
            _ = rd_kafka_consumer_close(rk)
            return records
        }
    }
}
