import Foundation
import MedBusKafka
@testable import MedBusRouting
import XCTest

/// Semantics 8: 20,000 records through the whole loop with a cheap router. Not a timing
/// assertion (the machine is shared): it checks the counts and prints the rate measured after
/// the group join, for the benchmark notes.
final class ThroughputTests: XCTestCase {
    func testRoutesTwentyThousandRecords() async throws {
        let cluster = try makeCluster()
        let config = testConfig(cluster)
        let input = unique("raw.bench"), output = unique("canonical.bench"), dlq = unique("dlq")
        try cluster.createTopic(input, partitions: 8)
        try cluster.createTopic(output, partitions: 8)
        try cluster.createTopic(dlq, partitions: 1)
        let total = 20_000
        let payload = String(repeating: "x", count: 200)
        try await seed(config, rawRecords(topic: input, range: 0..<total, keys: 1000, value: { "\($0)|\(payload)" }))

        let core = RoutingCore(
            configuration: RoutingConfiguration(kafka: config, groupID: unique("router"), inputTopics: [input], transactionalID: unique("medbus-router"),
                                                deadLetterTopic: dlq, recoveryWindow: .seconds(600)),
            router: CopyRouter(version: "bench@1", target: output)
        )
        let running = Task { try await core.run() }
        let started = try await waitFor(core, "first transaction") { $0.transactions >= 1 }
        let clock = ContinuousClock.now
        let stats = try await waitFor(core, timeout: .seconds(120), "all records") { $0.consumed == total }
        let elapsed = ContinuousClock.now - clock
        _ = await stop(core, running)
        let measured = Double(total - started.consumed) / (Double(elapsed.components.attoseconds) / 1e18 + Double(elapsed.components.seconds))
        print("routing throughput: \(Int(measured)) msg/s (\(total - started.consumed) records in \(elapsed), \(stats.transactions) transactions)")
        XCTAssertEqual(stats.routed, total)
        XCTAssertEqual(stats.aborts, 0)

        let outputs = try await readAll(config, topics: [output], count: total, quiet: .seconds(1))
        XCTAssertEqual(outputs.count, total)
        XCTAssertEqual(Set(outputs.compactMap(outputID)).count, total)
    }
}
