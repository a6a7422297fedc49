import CoreMetrics

/// `medbus_outbound_deliveries_total{destination,outcome}` (README metrics table), via swift-metrics:
/// a no-op until a process bootstraps a backend. Mirrors `OutboundStatistics`.
enum OutboundMetrics {
    static func count(_ destination: String, _ outcome: String) {
        Counter(label: "medbus_outbound_deliveries_total", dimensions: [("destination", destination), ("outcome", outcome)]).increment()
    }
}
