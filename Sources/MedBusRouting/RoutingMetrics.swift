import CoreMetrics
import MedBusKafka

/// The routing metrics of the README's metrics table (`medbus_routing_*`), via swift-metrics:
/// no-ops until a process bootstraps a backend. Counted once a batch's transaction committed,
/// like `RoutingStatistics`.
enum RoutingMetrics {
    static func committed(_ batch: [KafkaConsumerMessage], outputs: [KafkaProducerMessage], deadLetterTopic: String, since started: ContinuousClock.Instant) {
        var consumed: [String: Int] = [:]
        for input in batch { consumed[input.topic, default: 0] += 1 }
        for (topic, count) in consumed { Counter(label: "medbus_routing_records_consumed_total", dimensions: [("topic", topic)]).increment(by: count) }

        var routed: [RoutedKey: Int] = [:], deadLettered: [[String]: Int] = [:]
        for output in outputs {
            if output.topic == deadLetterTopic {
                let mapping = output.headers.string(RoutingHeader.errorMapping) ?? "none"
                deadLettered[[mapping, output.headers.string(RoutingHeader.errorReason) ?? "unknown"], default: 0] += 1
            } else {
                // Counted by the header's bytes (no String per output); named once per distinct key below.
                let version = output.headers.first { $0.key == RoutingHeader.mappingVersion }?.value
                routed[RoutedKey(version: version, topic: output.topic), default: 0] += 1
            }
        }
        var named: [[String]: Int] = [:]
        for (key, count) in routed {
            // `name@version`: the label keeps the name, so versions do not multiply the series.
            let mapping = key.version.map { String(String(decoding: $0, as: UTF8.self).split(separator: "@").first ?? "") } ?? "none"
            named[[mapping, key.topic], default: 0] += count
        }
        for (key, count) in named {
            Counter(label: "medbus_routing_records_routed_total", dimensions: [("mapping", key[0]), ("topic", key[1])]).increment(by: count)
        }
        for (key, count) in deadLettered {
            Counter(label: "medbus_routing_dead_letters_total", dimensions: [("mapping", key[0]), ("reason", key[1])]).increment(by: count)
        }
        Counter(label: "medbus_routing_transactions_total", dimensions: [("outcome", "committed")]).increment()
        let elapsed = (ContinuousClock.now - started).components
        Timer(label: "medbus_routing_batch_seconds").recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    static func aborted(_ error: Error) {
        Counter(label: "medbus_routing_transactions_total", dimensions: [("outcome", "aborted")]).increment()
        let reason = (error as? KafkaError).map { _ in "kafka" } ?? "routing"
        Counter(label: "medbus_errors_total", dimensions: [("component", "routing"), ("reason", reason)]).increment()
    }
}

private struct RoutedKey: Hashable {
    var version: [UInt8]?
    var topic: String
}
