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
/// Each iterator has its own Kafka client on its own thread; it is closed when the iteration ends (the task is
/// cancelled, or the iterator is dropped). Iteration throws only when the client fails fatally or the topic
/// disappears; unreachable brokers are retried indefinitely.
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
        let reader = MappingFeedReader(kafka: kafka, topic: topic, logger: logger) { event in
            switch event {
            case .active(let set): continuation.yield(set)
            case .failed(let error): continuation.finish(throwing: error)
            }
        }
        continuation.onTermination = { _ in reader.stop() }
        reader.start()
        return Iterator(base: stream.makeAsyncIterator())
    }

    public struct Iterator: AsyncIteratorProtocol {
        var base: AsyncThrowingStream<Element, any Error>.AsyncIterator

        public mutating func next() async throws -> Element? {
            try await base.next()
        }
    }
}
