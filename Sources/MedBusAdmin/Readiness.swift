import CoreMetrics
import Foundation
import MedBusKafka
import MedBusStore

/// What `/readyz` checks: each check returns nil when its dependency answers, or why not.
public struct Readiness: Sendable {
    public typealias Check = @Sendable () async -> String?
    let checks: [(name: String, check: Check)]

    public init(_ checks: [(name: String, check: Check)]) { self.checks = checks }

    /// Kafka answers a metadata request within `timeout`, and the store (for processes that keep one) answers a query.
    public static func standard(kafka: KafkaAdmin, store: MessageStore?, timeout: Duration = .seconds(2)) -> Readiness {
        var checks: [(name: String, check: Check)] = [("kafka", {
            do { _ = try await kafka.brokers(timeout: timeout); return nil } catch let error as KafkaError { return error.message } catch { return "\(error)" }
        })]
        if let store {
            checks.append(("store", { do { _ = try store.count(MessageQuery(limit: 1)); return nil } catch { return "\(error)" } }))
        }
        return Readiness(checks)
    }

    /// Runs every check at once; sets `medbus_ready`.
    public func evaluate() async -> [String: String] {
        let results = await withTaskGroup(of: (String, String?).self) { group in
            for (name, check) in checks { group.addTask { (name, await check()) } }
            var results: [String: String] = [:]
            for await (name, problem) in group { results[name] = problem ?? "ok" }
            return results
        }
        Gauge(label: "medbus_ready").record(results.values.allSatisfy { $0 == "ok" } ? 1 : 0)
        return results
    }
}
