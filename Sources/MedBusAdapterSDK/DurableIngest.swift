import Foundation
import Logging
import MedBusCore
import MedBusKafka
import MedBusStore

/// The one path every inbound message takes, whatever the protocol: **store, then publish with
/// acks=all, then let the adapter acknowledge its sender**. An adapter calls `ingest` and sends a
/// positive acknowledgement only for `.accepted` or `.duplicate`.
///
/// - A message is committed to the store before it is offered to Kafka, so a crash at any point
///   loses nothing that was acknowledged; the sender retries whatever it did not get an
///   acknowledgement for.
/// - A retransmission (same source and sender message id) is recognised: if the first copy
///   reached Kafka, the sender gets the same acknowledgement again (`.duplicate`, with the stored
///   acknowledgement bytes) and nothing is published twice. If the first copy never reached
///   Kafka (broker outage, crash), it is published now from the stored copy; if the first copy is
///   being published at this moment (by a concurrent call, or earlier in the same batch), the
///   retransmission waits for that and shares its outcome.
/// - When Kafka does not acknowledge, the outcome is `.notPublished`: the adapter must not send a
///   positive acknowledgement; the row stays `received` for the retry.
///
/// Throughput comes from sharing the fixed costs, not from weakening any of the above: concurrent
/// calls are stored by one SQLite transaction (the store's group commit: one fsync for every message
/// that arrived while the previous commit ran), are then produced without waiting for each other
/// (each caller resumes on its own delivery report), and the "published" bookkeeping of many messages
/// is written as one batch. Pollers hand over a whole batch (`ingest(_:)` with an array): one store
/// transaction and one produce call for all of it.
public final class DurableIngest: Sendable {
    private let store: MessageStore
    private let producer: KafkaProducer
    private let logger: Logger
    private let inFlight = InFlightMessages()
    private let deliveries: DeliveryRecorder

    public init(store: MessageStore, producer: KafkaProducer, logger: Logger = Logger(label: "medbus.ingest")) {
        self.store = store
        self.producer = producer
        self.logger = logger
        self.deliveries = DeliveryRecorder(store: store, logger: logger)
    }

    /// MedBus's Kafka settings for an ingest producer, where the caller did not set them: adapters
    /// answer senders who wait, one message at a time, so each record is sent as soon as it is
    /// stored (`linger.ms=0`; librdkafka 2.0.2 waits 5 ms by default, MedBus's bulk default too)
    /// and small produce requests are not held back by Nagle's algorithm (`socket.nagle.disable`,
    /// off by default). Records that arrive together still share a request.
    public static func producerConfig(_ config: KafkaConfig) -> KafkaConfig {
        var config = config
        for (key, value) in ["linger.ms": "0", "socket.nagle.disable": "true"] where config.properties[key] == nil {
            config.properties[key] = value
        }
        return config
    }

    /// A message as an adapter received it.
    public struct Inbound: Sendable {
        public var envelope: MessageEnvelope
        public var topic: String
        /// Kafka key: keeps one patient's (or task's) messages in order on one partition.
        public var key: String?
        public var payload: [UInt8]

        public init(envelope: MessageEnvelope, topic: String, key: String?, payload: [UInt8]) {
            self.envelope = envelope
            self.topic = topic
            self.key = key
            self.payload = payload
        }
    }

    public enum Outcome: Sendable {
        /// Stored and acknowledged by Kafka.
        case accepted(messageId: String, report: KafkaDeliveryReport)
        /// Seen before and already on Kafka; `ack` is what the sender was answered the first time
        /// (nil if not recorded yet, e.g. the first copy was published a moment ago).
        case duplicate(messageId: String, ack: Data?)
        /// Stored (or already stored) but Kafka did not acknowledge: no positive acknowledgement.
        case notPublished(messageId: String, reason: String)
        /// Not even stored: no acknowledgement at all; the sender must retry.
        case notStored(reason: String)
    }

    /// Stores and publishes one message; returns once it is on Kafka (or cannot be). Concurrent calls
    /// share store transactions; each returns on its own delivery report.
    public func ingest(_ inbound: Inbound) async -> Outcome {
        await ingest([inbound])[0]
    }

    /// Stores a batch in one transaction, then produces every message of it at once; returns the
    /// outcomes in the order of `batch` once Kafka answered for all. The rules are those of a single
    /// `ingest`, message by message: a copy of a message earlier in the batch is a `.duplicate` of it
    /// (published once), and a message Kafka did not take is `.notPublished` while the others are
    /// accepted. Messages with the same key are produced in batch order, so they keep that order on
    /// their partition.
    public func ingest(_ batch: [Inbound]) async -> [Outcome] {
        guard !batch.isEmpty else { return [] }
        let started = ContinuousClock.now
        let outcomes = await storeThenPublish(batch)
        for (inbound, outcome) in zip(batch, outcomes) {
            IngestMetrics.record(outcome, source: inbound.envelope.source, topic: inbound.topic, since: started)
        }
        return outcomes
    }

    /// What one message of a batch needs after the store answered.
    private enum Step {
        case done(Outcome)
        /// This call publishes it (under `inbound.envelope.id`, which it has claimed).
        case publish(Inbound)
        /// Another message of this batch, or another call, publishes it: share that outcome.
        case follow(messageId: String, waiter: InFlightMessages.Waiter)
    }

    private func storeThenPublish(_ batch: [Inbound]) async -> [Outcome] {
        let rows = batch.map { inbound in
            let envelope = inbound.envelope
            return StoredMessage(
                id: envelope.id, source: envelope.source, sourceMessageId: envelope.sourceMessageId,
                type: envelope.messageType, contentType: envelope.contentType, receivedAt: envelope.receivedAt,
                correlationId: envelope.correlationId, topic: inbound.topic, payload: Data(inbound.payload))
        }
        // Each message's own id is claimed before its row can be seen, so a copy that arrives in
        // the next transaction finds it claimed and waits instead of publishing it too.
        let claimed = batch.map { inFlight.claim($0.envelope.id) == nil }
        let stored: [InsertOutcome]
        do {
            stored = try await store.insert(rows)
        } catch {
            logger.error("messages not stored", metadata: ["count": "\(batch.count)", "error": "\(error)"])
            for (inbound, mine) in zip(batch, claimed) where mine { inFlight.finish(inbound.envelope.id, .failure(.init(reason: "not stored"))) }
            return batch.map { _ in .notStored(reason: "\(error)") }
        }

        // In batch order, so of two copies in one batch the first publishes and the second follows.
        let steps: [Step] = zip(batch, zip(stored, claimed)).map { inbound, result in
            let (outcome, mine) = result
            guard case .duplicate(let existing) = outcome else { return .publish(inbound) }
            // This call's own claim is only needed if the stored row is this very message.
            let holdsExisting = mine && existing.id == inbound.envelope.id
            if mine && !holdsExisting { inFlight.finish(inbound.envelope.id, .success(())) }
            if existing.status == .published || existing.status == .routed {
                if holdsExisting { inFlight.finish(existing.id, .success(())) }
                logger.info("retransmission answered from the store", metadata: ["message": "\(existing.id)", "source": "\(existing.source)"])
                return .done(.duplicate(messageId: existing.id, ack: existing.ackPayload))
            }
            // Stored before but not confirmed on Kafka when the store answered: publish the stored
            // copy under its original id, so downstream de-duplication by message id still holds —
            // unless another copy is being published, or was published just now.
            if !holdsExisting, let waiter = inFlight.claim(existing.id) {
                return .follow(messageId: existing.id, waiter: waiter)
            }
            if publishedMeanwhile(existing.id) {
                inFlight.finish(existing.id, .success(()))
                return .done(.duplicate(messageId: existing.id, ack: nil))
            }
            var publishing = inbound
            publishing.envelope.id = existing.id
            publishing.envelope.receivedAt = existing.receivedAt
            publishing.payload = Array(existing.payload)
            return .publish(publishing)
        }

        let publishing = steps.compactMap { step -> Inbound? in if case .publish(let inbound) = step { inbound } else { nil } }
        let results = await publish(publishing)
        var outcomes: [Outcome] = []
        for step in steps {
            switch step {
            case .done(let outcome):
                outcomes.append(outcome)
            case .publish(let inbound):
                outcomes.append(results[inbound.envelope.id]!)
            case .follow(let id, let waiter):
                switch await waiter.value {
                case .success: outcomes.append(.duplicate(messageId: id, ack: nil))
                case .failure(let failure): outcomes.append(.notPublished(messageId: id, reason: failure.reason))
                }
            }
        }
        return outcomes
    }

    /// Whether `id`, found `received` by the insert, reached Kafka since: a publication ends its claim
    /// only after handing its location to `deliveries`, which keeps it until the store shows it.
    /// Called with the claim on `id` held, so no publication of it can start meanwhile.
    private func publishedMeanwhile(_ id: String) -> Bool {
        if deliveries.pendingLocation(of: id) != nil { return true }
        let status = try? store.message(id: id)?.status
        return status == .published || status == .routed
    }

    /// Produces every message at once, records where each landed, and ends each message's claim.
    private func publish(_ messages: [Inbound]) async -> [String: Outcome] {
        guard !messages.isEmpty else { return [:] }
        let records = messages.map { inbound in
            KafkaProducerMessage(topic: inbound.topic, key: inbound.key.map { Array($0.utf8) }, value: inbound.payload, headers: inbound.envelope.headers)
        }
        let reports: [KafkaDeliveryReport?]
        var refused: (any Error)?
        do {
            reports = try await producer.sendBatch(records)
        } catch {
            // The producer is shut down (or the task cancelled): none of them is known to be on Kafka.
            refused = error
            reports = Array(repeating: nil, count: records.count)
        }
        var outcomes: [String: Outcome] = [:]
        for (inbound, report) in zip(messages, reports) {
            let id = inbound.envelope.id
            guard let report, report.error == nil else {
                let reason = report?.error.map { "\($0)" } ?? refused.map { "\($0)" } ?? "no delivery report"
                logger.warning("message stored but not on Kafka", metadata: ["message": "\(id)", "topic": "\(inbound.topic)", "error": "\(reason)"])
                outcomes[id] = .notPublished(messageId: id, reason: reason)
                inFlight.finish(id, .failure(.init(reason: reason)))
                continue
            }
            // The sender may be acknowledged now: the message is stored and on Kafka. Recording
            // where it landed is bookkeeping, batched with others off the acknowledgement path.
            deliveries.published(id, at: Delivery.Location(topic: report.topic, partition: report.partition, offset: report.offset ?? -1))
            outcomes[id] = .accepted(messageId: id, report: report)
            inFlight.finish(id, .success(()))
        }
        return outcomes
    }

    /// Settles messages left in doubt by a crash: stored as `received` for `source`, possibly on
    /// Kafka already (the process died between Kafka's acknowledgement and recording it). Reads
    /// `topic` back from just before the oldest of them and marks those found as published, so a
    /// retransmission is answered from the store instead of being published a second time. Run
    /// it before the adapter starts accepting.
    /// - Returns: how many in-doubt messages were found on Kafka, and how many were not.
    public func recoverInDoubt(source: String, topic: String, kafka: KafkaConfig) async throws -> (published: Int, missing: Int) {
        let inDoubt = try store.search(MessageQuery(source: source, status: .received, limit: 1_000_000))
        guard let oldest = inDoubt.map(\.receivedAt).min() else { return (0, 0) }
        // Producer and broker clocks may differ a little; start well before.
        let records = try await KafkaTopicReader.read(config: kafka, topic: topic, since: oldest.addingTimeInterval(-300))
        let wanted = Set(inDoubt.map(\.id))
        var found = Set<String>()
        var settled: [Delivery] = []
        for record in records {
            guard let id = record.headers.string(MessageEnvelope.Header.id), wanted.contains(id), found.insert(id).inserted else { continue }
            settled.append(Delivery(id: id, kafka: Delivery.Location(topic: record.topic, partition: record.partition, offset: record.offset)))
        }
        try await store.record(settled)
        logger.info("in-doubt messages settled", metadata: ["source": "\(source)", "onKafka": "\(found.count)", "notOnKafka": "\(inDoubt.count - found.count)"])
        return (found.count, inDoubt.count - found.count)
    }

    /// Keeps the acknowledgement sent for `messageId`, so a retransmission gets the same bytes.
    /// Written with a later group commit; the caller need not wait for it.
    public func recordAcknowledgement(_ ack: Data, for messageId: String) {
        deliveries.acknowledged(messageId, with: ack)
    }

    /// Returns once the bookkeeping of every message answered so far (where it landed on Kafka, the
    /// acknowledgement recorded) is written to the store (while more keeps arriving, it waits for
    /// that too). For graceful shutdown and tests; the acknowledgement path never waits for it.
    public func flushBookkeeping() async {
        await deliveries.flush()
    }

    /// Keeps a refused message for operators (status `rejected`, with the reason). Never throws:
    /// failing to keep a rejected message must not stop the adapter from answering its sender.
    public func recordRejection(envelope: MessageEnvelope, payload: [UInt8], reason: String) async {
        let row = StoredMessage(
            id: envelope.id, source: envelope.source, sourceMessageId: nil, type: envelope.messageType,
            contentType: envelope.contentType, status: .rejected, receivedAt: envelope.receivedAt,
            payload: Data(payload), error: reason
        )
        IngestMetrics.rejected(source: envelope.source)
        do { _ = try await store.insert(row) } catch {
            logger.error("rejected message not stored", metadata: ["source": "\(envelope.source)", "error": "\(error)"])
        }
    }
}
