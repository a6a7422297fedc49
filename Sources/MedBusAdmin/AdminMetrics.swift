import CoreMetrics
import Metrics
import Prometheus

/// The process's metrics backend: swift-metrics calls anywhere in MedBus (`Counter`, `Timer`, …,
/// named as in the README's metrics table) land in one Prometheus registry, exposed at `/metrics`.
///
/// The only place Prometheus types appear. `bootstrap()` installs the backend once per process
/// (swift-metrics allows one); metrics emitted before it are no-ops.
public enum AdminMetrics {
    /// Latency buckets in seconds: from 1 ms (an ACK on a quiet machine) to 10 s (a stuck dependency).
    static let durationBuckets: [Duration] = [
        .milliseconds(1), .microseconds(2500), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
        .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500), .seconds(5), .seconds(10),
    ]

    private static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.defaultDurationHistogramBuckets = durationBuckets
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    /// Installs the Prometheus backend (idempotent).
    public static func bootstrap() { _ = registry }

    /// Everything recorded so far, in the Prometheus text exposition format (version 0.0.4).
    public static func exposition() -> [UInt8] {
        var buffer: [UInt8] = []
        registry.emit(into: &buffer)
        return buffer
    }

    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}
