import CoreMetrics

/// The adapter metrics of the README's metrics table (`medbus_ingest_*`), via swift-metrics: no-ops
/// until a process bootstraps a backend (the admin server does).
enum IngestMetrics {
    static func record(_ outcome: DurableIngest.Outcome, source: String, topic: String, since started: ContinuousClock.Instant) {
        let result: String
        switch outcome {
        case .accepted: result = "published"
        case .duplicate: result = "duplicate"
        case .notPublished:
            result = "failed"
            Counter(label: "medbus_errors_total", dimensions: [("component", "ingest"), ("reason", "kafka-unavailable")]).increment()
        case .notStored:
            result = "failed"
            Counter(label: "medbus_errors_total", dimensions: [("component", "ingest"), ("reason", "store-failed")]).increment()
        }
        Counter(label: "medbus_ingest_messages_total", dimensions: [("source", source), ("topic", topic), ("outcome", result)]).increment()
        let elapsed = (ContinuousClock.now - started).components
        Timer(label: "medbus_ingest_ack_seconds", dimensions: [("source", source)])
            .recordNanoseconds(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000)
    }

    /// A malformed or refused message (the adapter answered with a negative acknowledgement).
    static func rejected(source: String) {
        Counter(label: "medbus_ingest_messages_total", dimensions: [("source", source), ("topic", "none"), ("outcome", "rejected")]).increment()
    }
}
