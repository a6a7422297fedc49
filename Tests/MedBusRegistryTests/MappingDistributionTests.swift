import Foundation
import MedBusKafka
import XCTest
@testable import MedBusRegistry

/// Distribution over a real Kafka protocol: the embedded cluster, one per test.
final class MappingDistributionTests: XCTestCase {
    private func setUp(topic: String = "medbus.mappings") async throws -> (EmbeddedKafkaCluster, MappingRegistry, MappingDistribution) {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let distribution = MappingDistribution(kafka: KafkaConfig(bootstrapServers: cluster.bootstrapServers), topic: topic)
        let created = try await distribution.ensureTopic(embedded: cluster)
        XCTAssertTrue(created)
        let createdAgain = try await distribution.ensureTopic(embedded: cluster)
        XCTAssertFalse(createdAgain, "an existing topic is left alone")
        return (cluster, registry, distribution)
    }

    func testFeedStartsWithEverythingAnnouncedThenFollowsPublishAndRollback() async throws {
        let (cluster, registry, distribution) = try await setUp()
        _ = try registry.publish(name: "his.adt", content: bytes("adt v1"), author: "li", note: "")
        try await distribution.resync(registry)
        let adt2 = try registry.publish(name: "his.adt", content: bytes("adt v2"), author: "li", note: "")
        try await distribution.resync(registry)
        let claim1 = try registry.publish(name: "insurer.claim", content: bytes("claim v1"), author: "wang", note: "")
        try await distribution.resync(registry)
        XCTAssertTrue(try registry.unannounced().isEmpty)

        let feed = FeedWatcher(MappingFeed(kafka: KafkaConfig(bootstrapServers: cluster.bootstrapServers)))
        defer { feed.stop() }
        let initial = try await feed.waitFor { !$0.isEmpty }
        XCTAssertEqual(initial, ["his.adt": adt2, "insurer.claim": claim1], "the first element is the whole active set")
        XCTAssertEqual(feed.elements.first, initial, "no partial set before the topic's end is reached")

        // A new version reaches the running feed.
        let adt3 = try registry.publish(name: "his.adt", content: bytes("adt v3"), author: "zhao", note: "")
        try await distribution.resync(registry)
        let afterPublish = try await feed.waitFor { $0["his.adt"]?.version == 3 }
        XCTAssertEqual(afterPublish, ["his.adt": adt3, "insurer.claim": claim1])
        XCTAssertEqual(afterPublish["his.adt"]?.content, bytes("adt v3"))

        // A rollback to v1 is newer than v3 although its number is smaller; the other mapping is untouched.
        let adt1 = try registry.rollback(name: "his.adt", to: 1, author: "zhao", note: "v3 broke ADT^A08")
        try await distribution.resync(registry)
        let afterRollback = try await feed.waitFor { $0["his.adt"]?.version == 1 }
        XCTAssertEqual(afterRollback, ["his.adt": adt1, "insurer.claim": claim1])
        XCTAssertEqual(try registry.active(), [adt1, claim1], "the feed agrees with the registry")

        // The other mapping changes on its own.
        let claim2 = try registry.publish(name: "insurer.claim", content: bytes("claim v2"), author: "wang", note: "")
        try await distribution.resync(registry)
        let afterClaim = try await feed.waitFor { $0["insurer.claim"]?.version == 2 }
        XCTAssertEqual(afterClaim, ["his.adt": adt1, "insurer.claim": claim2])

        // A router started now sees the same final set (the rollback wins over the higher-numbered v3 record).
        let late = FeedWatcher(MappingFeed(kafka: KafkaConfig(bootstrapServers: cluster.bootstrapServers)))
        defer { late.stop() }
        let lateInitial = try await late.waitFor { !$0.isEmpty }
        XCTAssertEqual(lateInitial, ["his.adt": adt1, "insurer.claim": claim2])
        XCTAssertEqual(late.elements.count, 1)
    }

    func testLateResendOfAnOlderActivationDoesNotUndoANewerOne() async throws {
        let (cluster, registry, distribution) = try await setUp()
        _ = try registry.publish(name: "m", content: bytes("one"), author: "li", note: "")
        let staleActivation = try registry.history(name: "m")[0]
        let stale = try XCTUnwrap(try registry.version(name: "m", version: 1))
        let current = try registry.publish(name: "m", content: bytes("two"), author: "li", note: "")
        try await distribution.resync(registry)

        let feed = FeedWatcher(MappingFeed(kafka: KafkaConfig(bootstrapServers: cluster.bootstrapServers)))
        defer { feed.stop() }
        _ = try await feed.waitFor { $0["m"] == current }
        // Another machine's delayed announcement of v1's publish, and a damaged record, arrive after v2's.
        try await distribution.announce(stale, activation: staleActivation)
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        try await producer.send(KafkaProducerMessage(topic: "medbus.mappings", key: "m", value: "{\"schema\":\"garbage\"}"))
        await producer.shutdown()
        // A marker change on another name proves the feed has read past both.
        let other = try registry.publish(name: "n", content: bytes("n"), author: "li", note: "")
        try await distribution.resync(registry)
        let final = try await feed.waitFor { $0["n"] != nil }
        XCTAssertEqual(final, ["m": current, "n": other])
    }

    func testFeedOnAMissingTopicStartsEmptyAndPicksUpTheTopicOnceCreated() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 1)
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let distribution = MappingDistribution(kafka: config, topic: "mappings-late")
        let feed = FeedWatcher(MappingFeed(kafka: config, topic: "mappings-late"))
        defer { feed.stop() }
        let initial = try await feed.waitFor { _ in true }
        XCTAssertEqual(initial, [:], "a router starts with no mappings rather than waiting forever")

        try await distribution.ensureTopic(embedded: cluster)
        let v1 = try registry.publish(name: "m", content: bytes("one"), author: "li", note: "")
        try await distribution.resync(registry)
        let next = try await feed.waitFor { !$0.isEmpty }
        XCTAssertEqual(next, ["m": v1])
    }

    /// Kafka is down when the operator publishes: the registry keeps the change, the announcement fails with a
    /// readable error, and the next resync (or the next change) delivers it once Kafka is back.
    func testAFailedAnnouncementIsDeliveredByTheNextResync() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let distribution = MappingDistribution(kafka: config, deliveryTimeout: .seconds(2))
        try await distribution.ensureTopic(embedded: cluster)

        for broker: Int32 in 1...3 { cluster.setBrokerDown(broker) }
        let v1 = try registry.publish(name: "m", content: bytes("one"), author: "li", note: "")
        do {
            try await distribution.resync(registry)
            XCTFail("announcing with every broker down must fail")
        } catch let error as MappingDistributionError {
            guard case .notDelivered(let name, let version, _) = error else { return XCTFail("\(error)") }
            XCTAssertEqual([name, String(version)], ["m", "1"])
            XCTAssertTrue("\(error)".contains("resync"), "\(error)")
        }
        XCTAssertEqual(try registry.active(name: "m"), v1, "the registry change stands")
        // A second change while Kafka is still down: only the newest activation is pending.
        let v2 = try registry.publish(name: "m", content: bytes("two"), author: "li", note: "")
        do {
            try await distribution.announce(v2, activation: try registry.history(name: "m").last!)
            XCTFail("announcing with every broker down must fail")
        } catch {}
        XCTAssertEqual(try registry.unannounced().map(\.0), [v2])

        for broker: Int32 in 1...3 { cluster.setBrokerUp(broker) }
        let resent = try await distribution.resync(registry)
        XCTAssertEqual(resent.map(\.version), [2])
        XCTAssertTrue(try registry.unannounced().isEmpty)
        let again = try await distribution.resync(registry)
        XCTAssertEqual(again, [], "nothing left to send")
        XCTAssertEqual(try registry.auditLog.entries().map(\.action), ["mapping.publish", "mapping.publish", "mapping.announce"])

        let feed = FeedWatcher(MappingFeed(kafka: config))
        defer { feed.stop() }
        let active = try await feed.waitFor { !$0.isEmpty }
        XCTAssertEqual(active, ["m": v2])
    }

    func testAnnounceRefusesAMismatchedActivation() async throws {
        let (_, registry, distribution) = try await setUp()
        let v1 = try registry.publish(name: "m", content: bytes("one"), author: "li", note: "")
        let other = try registry.publish(name: "n", content: bytes("n"), author: "li", note: "")
        do {
            try await distribution.announce(v1, activation: try registry.history(name: other.name)[0])
            XCTFail("expected a refusal")
        } catch let error as MappingDistributionError {
            guard case .mismatchedActivation = error else { return XCTFail("\(error)") }
        }
    }
}
