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
///   Kafka (broker outage, crash), it is published now from the stored copy.
/// - When Kafka does not acknowledge, the outcome is `.notPublished`: the adapter must not send a
///   positive acknowledgement; the row stays `received` for the retry.
public final class DurableIngest: Sendable {
    private let store: MessageStore
    private let producer: KafkaProducer
    private let logger: Logger

    public init(store: MessageStore, producer: KafkaProducer, logger: Logger = Logger(label: "medbus.ingest")) {
        self.store = store
        self.producer = producer
        self.logger = logger
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
        /// Seen before and already on Kafka; `ack` is what the sender was answered the first time.
        case duplicate(messageId: String, ack: Data?)
        /// Stored (or already stored) but Kafka did not acknowledge: no positive acknowledgement.
        case notPublished(messageId: String, reason: String)
        /// Not even stored: no acknowledgement at all; the sender must retry.
        case notStored(reason: String)
    }

    public func ingest(_ inbound: Inbound) async -> Outcome {
        let started = ContinuousClock.now
        let outcome = await storeThenPublish(inbound)
        IngestMetrics.record(outcome, source: inbound.envelope.source, topic: inbound.topic, since: started)
        return outcome
    }

    private func storeThenPublish(_ inbound: Inbound) async -> Outcome {
        let envelope = inbound.envelope
        let row = StoredMessage(
            id: envelope.id, source: envelope.source, sourceMessageId: envelope.sourceMessageId,
            type: envelope.messageType, contentType: envelope.contentType, receivedAt: envelope.receivedAt,
            correlationId: envelope.correlationId, topic: inbound.topic, payload: Data(inbound.payload)
        )
        var publishing = inbound
        do {
            switch try await store.insert(row) {
            case .inserted:
                break
            case .duplicate(let existing) where existing.status == .published || existing.status == .routed:
                logger.info("retransmission answered from the store", metadata: ["message": "\(existing.id)", "source": "\(existing.source)"])
                return .duplicate(messageId: existing.id, ack: existing.ackPayload)
            case .duplicate(let existing):
                // Stored before but never confirmed on Kafka: publish the stored copy under its
                // original id, so downstream de-duplication by message id still holds.
                publishing.envelope.id = existing.id
                publishing.envelope.receivedAt = existing.receivedAt
                publishing.payload = Array(existing.payload)
            }
        } catch {
            logger.error("message not stored", metadata: ["source": "\(envelope.source)", "error": "\(error)"])
            return .notStored(reason: "\(error)")
        }
        return await publish(publishing)
    }

    private func publish(_ inbound: Inbound) async -> Outcome {
        let id = inbound.envelope.id
        let record = KafkaProducerMessage(topic: inbound.topic, key: inbound.key.map { Array($0.utf8) }, value: inbound.payload, headers: inbound.envelope.headers)
        do {
            let report = try await producer.send(record)
            // The sender may be acknowledged now: the message is stored and on Kafka. Recording
            // where it landed is bookkeeping, so it joins a later group commit instead of adding
            // a disk round trip to the acknowledgement. If it is lost in a crash, the row stays
            // `received` and a retransmission is published again under the same message id.
            Task { [store, logger] in
                do { try await store.markPublished(id: id, topic: report.topic, partition: report.partition, offset: report.offset ?? -1) } catch {
                    logger.warning("publication not recorded", metadata: ["message": "\(id)", "error": "\(error)"])
                }
            }
            return .accepted(messageId: id, report: report)
        } catch {
            logger.warning("message stored but not on Kafka", metadata: ["message": "\(id)", "topic": "\(inbound.topic)", "error": "\(error)"])
            return .notPublished(messageId: id, reason: "\(error)")
        }
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
        for record in records {
            guard let id = record.headers.string(MessageEnvelope.Header.id), wanted.contains(id), found.insert(id).inserted else { continue }
            try await store.markPublished(id: id, topic: record.topic, partition: record.partition, offset: record.offset)
        }
        logger.info("in-doubt messages settled", metadata: ["source": "\(source)", "onKafka": "\(found.count)", "notOnKafka": "\(inDoubt.count - found.count)"])
        return (found.count, inDoubt.count - found.count)
    }

    /// Keeps the acknowledgement sent for `messageId`, so a retransmission gets the same bytes.
    /// Written with a later group commit; the caller need not wait for it.
    public func recordAcknowledgement(_ ack: Data, for messageId: String) {
        Task { [store, logger] in
            do { try await store.setAck(id: messageId, ack: ack) } catch {
                logger.warning("acknowledgement not recorded", metadata: ["message": "\(messageId)", "error": "\(error)"])
            }
        }
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
