import Foundation
import MedBusKafka
import XCTest

/// `KafkaTopicFollower` against the embedded cluster: the topic's content as of the start, then new records, then
/// a topic that is created only after the follower started.
final class TopicFollowerTests: XCTestCase {
    func testReadsEveryPartitionFromTheBeginningThenGoesOnFollowing() async throws {
        let (cluster, topic, config) = try makeTopic("follow", partitions: 3, brokers: 3)
        let before = try await produce((0..<300).map { "before-\($0)" }, to: topic, config: config)
        XCTAssertEqual(Set(before.map(\.partition)).count, 3, "records on every partition")

        let follower = try KafkaTopicFollower(config: config, topic: topic)
        let log = EventLog(follower)
        try await log.waitFor { $0.last == .caughtUp }
        var events = log.events
        XCTAssertEqual(events.count, 301, "every record, then caught up once: \(events.suffix(3))")
        XCTAssertEqual(Set(events.compactMap(\.value)), Set((0..<300).map { "before-\($0)" }))
        assertPartitionOrder(events)

        // New records arrive without anything else happening to the follower.
        _ = try await produce((0..<50).map { "after-\($0)" }, to: topic, config: config)
        try await log.waitFor { $0.count == 351 }
        events = log.events
        XCTAssertEqual(Set(events[301...].compactMap(\.value)), Set((0..<50).map { "after-\($0)" }))
        XCTAssertEqual(events.filter { $0 == .caughtUp }.count, 1)
        XCTAssertFalse(events.contains(.topicMissing))
        assertPartitionOrder(events)

        await follower.close()
        try await log.waitUntilEnded()
        XCTAssertNil(log.failure, "closing ends the events without an error")
        withExtendedLifetime(cluster) {}
    }

    func testAnEmptyTopicIsCaughtUpAtOnce() async throws {
        let (cluster, topic, config) = try makeTopic("empty", partitions: 2)
        let follower = try KafkaTopicFollower(config: config, topic: topic)
        let log = EventLog(follower)
        try await log.waitFor { !$0.isEmpty }
        XCTAssertEqual(log.events, [.caughtUp])
        await follower.close()
        withExtendedLifetime(cluster) {}
    }

    func testAMissingTopicIsReportedOnceThenReadFromTheBeginningWhenCreated() async throws {
        let cluster = try makeCluster(brokers: 1)
        let topic = unique("late")
        let config = KafkaConfig(bootstrapServers: cluster.bootstrapServers)
        let follower = try KafkaTopicFollower(config: config, topic: topic, retryInterval: .milliseconds(100))
        let log = EventLog(follower)
        try await log.waitFor { !$0.isEmpty }
        XCTAssertEqual(log.events, [.topicMissing])
        // Several retries pass without a second report.
        try await Task.sleep(for: .milliseconds(500))
        XCTAssertEqual(log.events, [.topicMissing])

        try cluster.createTopic(topic, partitions: 1, replicationFactor: 1)
        _ = try await produce((0..<5).map { "v\($0)" }, to: topic, config: config)
        try await log.waitFor { $0.compactMap(\.value).count == 5 && $0.contains(.caughtUp) }
        let events = log.events
        XCTAssertEqual(events.first, .topicMissing)
        XCTAssertEqual(events.compactMap(\.value), (0..<5).map { "v\($0)" }, "from the first record, in order")
        XCTAssertEqual(events.filter { $0 == .topicMissing || $0 == .caughtUp }.count, 2)
        await follower.close()
    }

    /// A buffer far smaller than the topic: the poll thread waits for the reader, nothing is lost, and a follower
    /// nobody reads still closes.
    func testASmallBufferHoldsThePollThreadBackWithoutLosingRecords() async throws {
        let (cluster, topic, config) = try makeTopic("small", partitions: 2)
        _ = try await produce((0..<200).map { "v\($0)" }, to: topic, config: config)

        let follower = try KafkaTopicFollower(config: config, topic: topic, bufferCapacity: 4)
        var values: [String] = []
        for try await event in follower.events {
            if case .record(let record) = event, let value = record.valueString { values.append(value) }
            if values.count < 10 { try await Task.sleep(for: .milliseconds(20)) }
            if case .caughtUp = event { break }
        }
        XCTAssertEqual(Set(values), Set((0..<200).map { "v\($0)" }))
        XCTAssertEqual(values.count, 200)
        await follower.close()

        let unread = try KafkaTopicFollower(config: config, topic: topic, bufferCapacity: 4)
        try await Task.sleep(for: .milliseconds(500))
        let started = ContinuousClock.now
        await unread.close()
        XCTAssertLessThan(ContinuousClock.now - started, .seconds(5), "close does not wait for a reader")
        withExtendedLifetime(cluster) {}
    }

    func testCancellingTheReaderEndsIteration() async throws {
        let (cluster, topic, config) = try makeTopic("cancel", partitions: 1)
        let follower = try KafkaTopicFollower(config: config, topic: topic)
        let reader = Task {
            var count = 0
            for try await _ in follower.events { count += 1 }
            return count
        }
        try await Task.sleep(for: .milliseconds(500))
        reader.cancel()
        do {
            _ = try await reader.value
            XCTFail("a cancelled reader ends with CancellationError")
        } catch is CancellationError {}
        await follower.close()
        await follower.close()
        withExtendedLifetime(cluster) {}
    }

    /// A fresh cluster with one new topic, and the configuration that reaches it.
    private func makeTopic(_ prefix: String, partitions: Int, brokers: Int = 1) throws -> (EmbeddedKafkaCluster, String, KafkaConfig) {
        let cluster = try makeCluster(brokers: brokers)
        let topic = unique(prefix)
        try cluster.createTopic(topic, partitions: partitions, replicationFactor: brokers)
        return (cluster, topic, KafkaConfig(bootstrapServers: cluster.bootstrapServers))
    }

    /// One record per value, keyed so that they spread over the partitions.
    private func produce(_ values: [String], to topic: String, config: KafkaConfig) async throws -> [KafkaDeliveryReport] {
        let producer = try KafkaProducer(config: config)
        let reports = try await producer.sendBatch(values.enumerated().map { KafkaProducerMessage(topic: topic, key: "k\($0.offset % 17)", value: $0.element) })
        await producer.shutdown()
        XCTAssertTrue(reports.allSatisfy { $0.error == nil })
        return reports
    }

    /// Offsets only grow within each partition.
    private func assertPartitionOrder(_ events: [FollowerEvent], file: StaticString = #filePath, line: UInt = #line) {
        var last: [Int32: Int64] = [:]
        for case .record(let partition, let offset, _) in events {
            XCTAssertGreaterThan(offset, last[partition] ?? -1, "partition \(partition)", file: file, line: line)
            last[partition] = offset
        }
    }
}

/// `KafkaTopicFollower.Event` reduced to what the tests compare.
enum FollowerEvent: Equatable {
    case topicMissing
    case record(partition: Int32, offset: Int64, value: String?)
    case caughtUp

    init(_ event: KafkaTopicFollower.Event) {
        switch event {
        case .topicMissing: self = .topicMissing
        case .record(let record): self = .record(partition: record.partition, offset: record.offset, value: record.valueString)
        case .caughtUp: self = .caughtUp
        }
    }

    var value: String? {
        if case .record(_, _, let value) = self { value } else { nil }
    }
}

/// Collects a follower's events from a task of its own, so a test can wait for a condition with a deadline.
final class EventLog: @unchecked Sendable {
    private let lock = NSLock()
    private var received: [FollowerEvent] = []
    private var ended = false
    private var error: (any Error)?
    private var task: Task<Void, Never>?

    init(_ follower: KafkaTopicFollower) {
        task = Task { [self] in
            do {
                for try await event in follower.events { lock.withLock { received.append(FollowerEvent(event)) } }
            } catch {
                lock.withLock { self.error = error }
            }
            lock.withLock { ended = true }
        }
    }

    deinit { task?.cancel() }

    var events: [FollowerEvent] { lock.withLock { received } }
    var failure: (any Error)? { lock.withLock { error } }

    func waitFor(timeout: Duration = .seconds(30), file: StaticString = #filePath, line: UInt = #line,
                 _ condition: ([FollowerEvent]) -> Bool) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            let (events, error) = lock.withLock { (received, self.error) }
            if let error { throw error }
            if condition(events) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("follower did not deliver the expected events in time; got \(events.count): \(events.suffix(5))", file: file, line: line)
    }

    func waitUntilEnded(timeout: Duration = .seconds(10), file: StaticString = #filePath, line: UInt = #line) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if lock.withLock({ ended }) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        XCTFail("events did not end after close()", file: file, line: line)
    }
}
