import CRdKafka
import Foundation
import Logging

/// Reads every partition of one topic from the beginning and goes on reading as records arrive, without joining
/// a consumer group or committing anything. For state that every instance of a service must see whole, such as
/// the mapping announcements on a compacted topic; `KafkaTopicReader` reads to the end and stops instead,
/// `KafkaConsumer` shares partitions out among a group's members.
///
/// Events arrive through `events`:
/// - `.topicMissing` once, if the topic does not exist when the follower starts. The follower asks again every
///   `retryInterval` (never creating the topic by asking) and reads it from its beginning once it is created.
/// - `.record` for each record, in partition order (transactional records only once committed).
/// - `.caughtUp` once, after the records every partition held when it was assigned (immediately if there
///   were none): what comes before it is the topic's content as of the start, what comes after is new.
///
/// An unreachable cluster is retried indefinitely (metadata every `retryInterval`, fetches by librdkafka
/// itself). Iteration throws only when the client fails fatally or the topic is deleted while being read.
///
/// librdkafka is driven from a poll thread of this follower's own, so its blocking calls never occupy Swift
/// concurrency's cooperative threads; a bounded buffer between that thread and `events` makes a slow reader
/// hold the poll thread back instead of growing memory. `close()` stops reading; dropping the follower does too.
public final class KafkaTopicFollower: Sendable {
    public enum Event: Sendable {
        /// The topic does not exist (yet). Sent at most once, before anything else.
        case topicMissing
        /// The next record of one partition.
        case record(KafkaConsumerMessage)
        /// Every partition has been read up to the end it had when the follower was assigned to it. Sent once.
        case caughtUp
    }

    public let topic: String
    private let client: RDKafkaClient
    private let buffer: MessageBuffer<Event>
    private let state = ShutdownState()

    /// Creates the client and starts following `topic` at once.
    /// - Parameters:
    ///   - config: the cluster; its properties override MedBus's consumer defaults, except that the follower
    ///     always reports partition ends and uses a group id of its own that it never joins.
    ///   - retryInterval: how often a missing topic or an unreachable cluster is asked again.
    ///   - bufferCapacity: events held between the poll thread and the reader.
    /// - Throws: `KafkaError` for an invalid configuration.
    public init(
        config: KafkaConfig,
        topic: String,
        retryInterval: Duration = .seconds(1),
        bufferCapacity: Int = 10_000,
        logger: Logger = Logger(label: "medbus.kafka.follower")
    ) throws {
        var properties = config.resolved(defaults: KafkaConsumer.defaultProperties)
        // Partition ends tell when the content as of the start has been read, even where the last offsets are
        // transaction markers or were compacted away.
        properties["enable.partition.eof"] = "true"
        // librdkafka's assign() needs a group id (it runs through the group machinery), but the group is never
        // joined: partitions are assigned, not subscribed, and no offset is committed or fetched.
        properties["group.id"] = "medbus-follower-\(UUID().uuidString.lowercased())"
        let client = try RDKafkaClient(kind: .consumer, properties: properties, logger: logger)
        rd_kafka_poll_set_consumer(client.handle)
        let buffer = MessageBuffer<Event>(capacity: bufferCapacity)
        self.topic = topic
        self.client = client
        self.buffer = buffer
        let loop = FollowLoop(client: client, topic: topic, buffer: buffer, retryInterval: retryInterval)
        client.startPolling { loop.step() }
    }

    /// The follower's events. Ends once the follower is closed (after the events already buffered); throws on a
    /// fatal client error, when the topic is deleted, or when the reading task is cancelled.
    public var events: Events { Events(buffer: buffer) }

    /// Stops the poll thread and frees the client; `events` ends. Idempotent.
    public func close() async {
        guard state.beginShutdown() else { return }
        // Wakes the poll thread if it waits for room in a full buffer.
        buffer.finish(throwing: nil)
        let client = self.client
        // Stopping waits for the current step, which may be a metadata request of a few seconds.
        _ = try? await Blocking.run {
            client.stopPolling()
            _ = rd_kafka_consumer_close(client.handle)
            client.destroy()
        }
    }

    deinit {
        if state.beginShutdown() {
            buffer.finish(throwing: nil)
            client.stopPolling()
            _ = rd_kafka_consumer_close(client.handle)
            client.destroy()
        }
    }

    /// The events of a follower as an `AsyncSequence`.
    public typealias Events = KafkaBufferedSequence<Event>
}

/// The follower's work, one step per call on its poll thread (which alone touches this state): wait for the
/// topic, assign all its partitions from the beginning, then read.
private final class FollowLoop: @unchecked Sendable {
    private enum Phase { case waitingForTopic, reading, failed }

    private static let metadataTimeoutMilliseconds: Int32 = 5000
    private static let pollMilliseconds: Int32 = 100

    private let client: RDKafkaClient
    private let topic: String
    private let buffer: MessageBuffer<KafkaTopicFollower.Event>
    private let retryInterval: TimeInterval
    private var phase = Phase.waitingForTopic
    private var reportedMissing = false
    /// Partitions not yet read up to the end they had when assigned, and that end; nil once caught up.
    private var pending: [Int32: Int64]? = [:]

    init(client: RDKafkaClient, topic: String, buffer: MessageBuffer<KafkaTopicFollower.Event>, retryInterval: Duration) {
        self.client = client
        self.topic = topic
        self.buffer = buffer
        self.retryInterval = Double(retryInterval.components.seconds) + Double(retryInterval.components.attoseconds) / 1e18
    }

    func step() {
        switch phase {
        case .waitingForTopic:
            if !assignWhenPresent() { Thread.sleep(forTimeInterval: retryInterval) }
        case .reading:
            readOne()
        case .failed:
            // Nothing more to deliver; wait to be stopped.
            Thread.sleep(forTimeInterval: Double(Self.pollMilliseconds) / 1000)
        }
    }

    /// Assigns every partition from the beginning if the topic exists. False means "ask again later".
    private func assignWhenPresent() -> Bool {
        let partitions: Int32
        var ends: [Int32: Int64] = [:]
        do {
            guard let count = try client.partitionCount(of: topic, timeoutMilliseconds: Self.metadataTimeoutMilliseconds), count > 0 else {
                if !reportedMissing {
                    reportedMissing = true
                    buffer.push(.topicMissing)
                }
                return false
            }
            partitions = count
            for partition in 0..<partitions {
                let (low, high) = try client.watermarks(topic: topic, partition: partition, timeoutMilliseconds: Self.metadataTimeoutMilliseconds)
                if high > low { ends[partition] = high }
            }
        } catch {
            client.logger.warning("topic unreachable, retrying", metadata: ["topic": "\(topic)", "error": "\(error)"])
            return false
        }
        do {
            try client.assign((0..<partitions).map { TopicPartitionOffset(topic: topic, partition: $0, offset: Int64(RD_KAFKA_OFFSET_BEGINNING)) })
        } catch {
            fail(error)
            return true
        }
        phase = .reading
        pending = ends
        reportCaughtUpIfDone()
        return true
    }

    private func readOne() {
        guard let raw = rd_kafka_consumer_poll(client.handle, Self.pollMilliseconds) else { return }
        defer { rd_kafka_message_destroy(raw) }
        let err = raw.pointee.err
        switch err {
        case RD_KAFKA_RESP_ERR_NO_ERROR:
            let record = KafkaConsumerMessage(raw)
            buffer.push(.record(record))
            if let end = pending?[record.partition], record.offset + 1 >= end { pending?[record.partition] = nil }
            reportCaughtUpIfDone()
        case RD_KAFKA_RESP_ERR__PARTITION_EOF:
            pending?[raw.pointee.partition] = nil
            reportCaughtUpIfDone()
        case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
            fail(KafkaError(code: KafkaError.Code(err), message: "topic '\(topic)' disappeared"))
        default:
            if let fatal = client.fatalError() {
                fail(fatal)
            } else {
                // Transport and broker errors are retried by librdkafka itself.
                client.logger.warning("follower error", metadata: ["topic": "\(topic)", "error": "\(KafkaError(err, "poll"))"])
            }
        }
    }

    private func reportCaughtUpIfDone() {
        guard pending?.isEmpty == true else { return }
        pending = nil
        buffer.push(.caughtUp)
    }

    private func fail(_ error: any Error) {
        phase = .failed
        buffer.finish(throwing: error)
    }
}
