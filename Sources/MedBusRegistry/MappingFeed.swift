import Logging
import MedBusKafka

/// The active mapping set as a router sees it: reads `medbus.mappings` from the beginning and yields the whole
/// set (name → active version) whenever it changes.
///
/// The first element comes once every partition has been read up to the end it had when reading started, so a
/// router starts with everything published before it (an empty set if nothing was, or the topic does not exist
/// yet). After that, each record that changes the set yields the new set. A consumer that falls behind gets only
/// the newest set (earlier ones are dropped): every element is complete, so nothing is lost by skipping.
///
/// No consumer group is joined and nothing is committed: every router instance needs every record, and reading
/// a compacted topic of a few hundred records from the beginning is cheap. Records that are damaged (digest
/// mismatch, not an announcement) are skipped with an error log, and the previous version stays active.
///
/// Each iterator has its own `KafkaTopicFollower` (a Kafka client on its own thread); it is closed when the
/// iteration ends (the task is cancelled, or the iterator is dropped). Iteration throws only when the client fails
/// fatally or the topic disappears; unreachable brokers are retried indefinitely.
public struct MappingFeed: AsyncSequence, Sendable {
    public typealias Element = [String: MappingVersion]

    public let kafka: KafkaConfig
    public let topic: String
    private let logger: Logger

    public init(kafka: KafkaConfig, topic: String = MappingDistribution.defaultTopic,
                logger: Logger = Logger(label: "medbus.registry.feed")) {
        self.kafka = kafka
        self.topic = topic
        self.logger = logger
    }

    public func makeAsyncIterator() -> Iterator {
        let (stream, continuation) = AsyncThrowingStream<Element, any Error>.makeStream(bufferingPolicy: .bufferingNewest(1))
        var config = kafka
        if config.properties["client.id"] == nil { config.properties["client.id"] = "medbus-mapping-feed" }
        let task = Task { [topic, logger, config] in
            let follower: KafkaTopicFollower
            do {
                follower = try KafkaTopicFollower(config: config, topic: topic, logger: logger)
            } catch {
                return continuation.finish(throwing: error)
            }
            do {
                try await Self.follow(follower, logger: logger) { continuation.yield($0) }
                continuation.finish()
            } catch {
                continuation.finish(throwing: error)
            }
            await follower.close()
        }
        continuation.onTermination = { _ in task.cancel() }
        return Iterator(base: stream.makeAsyncIterator())
    }

    /// Applies the follower's records to the active set and yields the set: once the topic's content as of the
    /// start has been read (or the topic was found missing), then on each change.
    private static func follow(_ follower: KafkaTopicFollower, logger: Logger,
                               yield: ([String: MappingVersion]) -> Void) async throws {
        var set = ActiveMappingSet()
        var synced = false
        for try await event in follower.events {
            switch event {
            case .topicMissing:
                guard !synced else { continue }
                synced = true
                logger.info("mappings topic does not exist yet: no mappings active", metadata: ["topic": "\(follower.topic)"])
                yield([:])
            case .caughtUp:
                guard !synced else { continue }
                synced = true
                logger.info("mappings loaded", metadata: ["topic": "\(follower.topic)", "mappings": "\(set.snapshot.count)"])
                yield(set.snapshot)
            case .record(let record):
                switch set.apply(key: record.key, value: record.value) {
                case .changed:
                    let name = record.keyString ?? "?"
                    let active = set.snapshot[name]
                    logger.info("mapping activated", metadata: [
                        "mapping": "\(name)", "version": "\(active.map { String($0.version) } ?? "retired")",
                        "digest": "\(active.map { String($0.digest.prefix(12)) } ?? "-")",
                    ])
                    if synced { yield(set.snapshot) }
                case .unchanged:
                    break
                case .rejected(let reason):
                    logger.error("ignoring mappings record", metadata: ["partition": "\(record.partition)", "offset": "\(record.offset)", "reason": "\(reason)"])
                }
            }
        }
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Element, any Error>.AsyncIterator

        public mutating func next() async throws -> Element? {
            try await base.next()
        }
    }
}
