import CRdKafka
import CoreMetrics

/// `medbus_kafka_consumer_lag{group,topic,partition}` (README metrics table): how many records a
/// partition holds beyond the last one this consumer fetched — librdkafka's cached high watermark
/// (from fetch responses, no request) minus the next offset. Updated from the poll thread at most
/// once a second per partition, and whenever the consumer has caught up, so it costs nothing
/// measurable on the hot path. A no-op until a process bootstraps a metrics backend.
final class ConsumerLagGauges: @unchecked Sendable {
    private let group: String
    private struct Key: Hashable {
        let topic: OpaquePointer
        let partition: Int32
    }
    /// Only the poll thread touches this.
    private var partitions: [Key: (gauge: Gauge, updated: ContinuousClock.Instant)] = [:]

    init(group: String) { self.group = group }

    func observe(_ handle: OpaquePointer, _ message: UnsafeMutablePointer<rd_kafka_message_t>) {
        guard let topic = message.pointee.rkt else { return }
        let key = Key(topic: topic, partition: message.pointee.partition)
        let name = rd_kafka_topic_name(topic)
        var low: Int64 = 0, high: Int64 = 0
        guard rd_kafka_get_watermark_offsets(handle, name, key.partition, &low, &high) == RD_KAFKA_RESP_ERR_NO_ERROR, high >= 0 else { return }
        let lag = max(0, high - (message.pointee.offset + 1))
        let now = ContinuousClock.now
        if let known = partitions[key], lag > 0, now - known.updated < .seconds(1) { return }
        let gauge = partitions[key]?.gauge
            ?? Gauge(label: "medbus_kafka_consumer_lag", dimensions: [("group", group), ("topic", String(cString: name!)), ("partition", String(key.partition))])
        gauge.record(lag)
        partitions[key] = (gauge, now)
    }
}

/// `medbus_kafka_produced_messages_total{topic}`: records Kafka acknowledged to a `KafkaProducer`
/// (README metrics table). One counter update per topic and batch, not per record.
enum ProducedMessages {
    static func count(_ reports: [KafkaDeliveryReport]) {
        guard let first = reports.first else { return }
        if reports.allSatisfy({ $0.topic == first.topic }) {
            let delivered = reports.lazy.filter { $0.error == nil }.count
            if delivered > 0 { Counter(label: "medbus_kafka_produced_messages_total", dimensions: [("topic", first.topic)]).increment(by: delivered) }
            return
        }
        var delivered: [String: Int] = [:]
        for report in reports where report.error == nil { delivered[report.topic, default: 0] += 1 }
        for (topic, count) in delivered { Counter(label: "medbus_kafka_produced_messages_total", dimensions: [("topic", topic)]).increment(by: count) }
    }
}
