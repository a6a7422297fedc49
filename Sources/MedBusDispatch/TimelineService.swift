import CoreMetrics
import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// Keeps the task timelines: a consumer group over `dispatch.events` that stores each batch in
/// the `TimelineStore`, publishes the pre-arrival notices it made due to
/// `dispatch.prearrival.<hospital>` (keyed by task id, acks=all), and only then commits the
/// batch's offsets. A crash anywhere re-reads the batch: events are stored once by id, and a
/// notice recorded but not confirmed on Kafka is published again at start, with the same message
/// id (`PAN-<task>-<version>`), so consumers can drop a repeat.
public final class TimelineService: Sendable {
    public static let groupID = "medbus-dispatch-timeline"

    private let store: TimelineStore
    private let kafka: KafkaConfig
    private let topic: String
    private let groupID: String
    private let parser: DispatchEventParser
    private let logger: Logger

    public init(store: TimelineStore, kafka: KafkaConfig, vitalSigns: VitalSigns, topic: String = TopicName.dispatchEvents, groupID: String = TimelineService.groupID, logger: Logger = Logger(label: "medbus.dispatch.timeline")) {
        self.store = store
        self.kafka = kafka
        self.topic = topic
        self.groupID = groupID
        self.parser = DispatchEventParser(centre: nil, vitalSigns: vitalSigns)
        self.logger = logger
    }

    /// Consumes until cancelled. A batch begun is finished (stored, notices published, offsets
    /// committed) before `run` returns.
    /// - Throws: the consumer's error when its subscription fails, or a fatal Kafka error.
    public func run() async throws {
        var producerConfig = kafka
        producerConfig.properties["linger.ms"] = producerConfig.properties["linger.ms"] ?? "1"
        let producer = try KafkaProducer(config: producerConfig, logger: logger)
        do { try await consume(producer) } catch {
            await producer.shutdown(timeout: .seconds(5))
            throw error
        }
        await producer.shutdown(timeout: .seconds(5))
    }

    private func consume(_ producer: KafkaProducer) async throws {
        // Notices a crash (or an outage) left recorded but unconfirmed go out first.
        try await publishWithRetry(try store.unpublishedNotices(), producer)
        // Pre-arrival notices are about latency: do not let the broker hold a fetch for the default 500 ms.
        var consumerConfig = kafka
        consumerConfig.properties["fetch.wait.max.ms"] = consumerConfig.properties["fetch.wait.max.ms"] ?? "10"
        // Offsets are stored only once a batch is durable and its notices are on Kafka; librdkafka
        // commits stored offsets in the background, so no coordinator round trip per batch.
        let consumer = try KafkaConsumer(config: consumerConfig, groupID: groupID, topics: [topic], autoCommitStoredOffsets: true, logger: logger)
        logger.info("timeline consumer started", metadata: ["topic": "\(topic)", "group": "\(groupID)"])
        do {
            while !Task.isCancelled {
                let batch: [KafkaConsumerMessage]
                do { batch = try await consumer.nextBatch(maxCount: 500) } catch is CancellationError { break }
                guard !batch.isEmpty, !Task.isCancelled else { break }
                try await Task { try await self.process(batch, consumer, producer) }.value
            }
        } catch {
            await consumer.close()
            throw error
        }
        await consumer.close()
        logger.info("timeline consumer stopped")
    }

    private func process(_ batch: [KafkaConsumerMessage], _ consumer: KafkaConsumer, _ producer: KafkaProducer) async throws {
        var events: [DispatchEvent] = []
        events.reserveCapacity(batch.count)
        for record in batch {
            switch parser.parse(record.value ?? []) {
            case .event(var event):
                // The centre is the sending adapter's (`medbus-source: dispatch.<centre>`) when the CAD left it out.
                if event.centre.isEmpty, let source = record.headers.string(MessageEnvelope.Header.source), source.hasPrefix("dispatch.") {
                    event.centre = String(source.dropFirst("dispatch.".count))
                    event.body = event.body.setting("centreCode", .string(event.centre))
                }
                events.append(event)
            case .refused(let issue, _):
                // Only the adapter publishes here and it validated the event: another producer's record.
                logger.error("record on the dispatch topic is not a valid event; skipped", metadata: [
                    "partition": "\(record.partition)", "offset": "\(record.offset)", "code": "\(issue.code.rawValue)",
                ])
            }
        }
        let parsed = events
        let applied = try await retrying("store events") { try self.store.apply(parsed) }
        try await publishWithRetry(applied.notices, producer)
        recordMetrics(parsed)
        var last: [String: KafkaConsumerMessage] = [:]
        for record in batch { last["\(record.topic)/\(record.partition)"] = record }
        for record in last.values {
            do { try consumer.storeOffset(record) } catch {
                // E.g. the partition moved to another member: it re-reads the batch, which changes nothing.
                logger.warning("offset not stored", metadata: ["partition": "\(record.partition)", "error": "\(error)"])
            }
        }
    }

    /// `medbus_dispatch_events_total{type}` per event applied, `medbus_dispatch_tasks{state}` per task's latest stage.
    private func recordMetrics(_ events: [DispatchEvent]) {
        for event in events {
            Counter(label: "medbus_dispatch_events_total", dimensions: [("type", event.stage.rawValue)]).increment()
        }
        guard let counts = try? store.taskCountsByStage() else { return }
        for stage in DispatchStage.allCases {
            Gauge(label: "medbus_dispatch_tasks", dimensions: [("state", stage.rawValue)]).record(counts[stage.rawValue] ?? 0)
        }
    }

    /// Publishes notices with acks=all and records them as published; retries until Kafka takes them.
    private func publishWithRetry(_ notices: [PrearrivalNotice], _ producer: KafkaProducer) async throws {
        guard !notices.isEmpty else { return }
        let now = Date()
        let records = try notices.map { notice in
            KafkaProducerMessage(
                topic: try TopicName.dispatchPrearrival(hospital: notice.hospital), key: Array(notice.taskId.utf8),
                value: notice.payload(sentAt: now), headers: Self.headers(for: notice, sentAt: now)
            )
        }
        try await retrying("publish notices") {
            let reports = try await producer.sendBatch(records)
            if let failed = reports.first(where: { $0.error != nil }), let error = failed.error { throw error }
        }
        // Bookkeeping only, off the latency path: if it is lost in a crash, the notices go out
        // again at start under the same message ids.
        Task { [store, logger] in
            do { try store.markPublished(notices) } catch {
                logger.warning("notices not recorded as published", metadata: ["count": "\(notices.count)", "error": "\(error)"])
            }
        }
    }

    static func headers(for notice: PrearrivalNotice, sentAt: Date) -> [KafkaHeader] {
        let centre = notice.content["dispatchCentre"]?.stringValue ?? ""
        let envelope = MessageEnvelope(
            id: notice.noticeId, source: "dispatch.\(centre)", messageType: PrearrivalNotice.messageType,
            contentType: "application/json", receivedAt: sentAt, correlationId: notice.taskId, schemaVersion: PrearrivalNotice.schemaVersion
        )
        return envelope.headers
    }

    /// Retries `work` with backoff (Kafka or the disk may be briefly unavailable) until it
    /// succeeds or the task is cancelled; a fatal Kafka error is thrown at once.
    private func retrying<T: Sendable>(_ what: String, _ work: @Sendable () async throws -> T) async throws -> T {
        var delay = Duration.milliseconds(100)
        while true {
            do { return try await work() } catch let error as KafkaError where error.isFatal {
                throw error
            } catch {
                logger.warning("timeline step failed; retrying", metadata: ["step": "\(what)", "error": "\(error)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(5))
            }
        }
    }
}
