import Foundation
import MedBusKafka

/// The dead-letter record for a record that could not be delivered.
///
/// It keeps the original key (so the dead-letter topic stays keyed like the source), value and
/// headers, and adds why, where to and how often, so an operator can inspect and replay it:
/// `medbus-error-reason` (`rejected:AR`, `rejected:HTTP-400`, `rejected:INVALID`, or
/// `max-attempts:<last failure>`), `medbus-error-message` (codes and ids, never payload),
/// `medbus-destination`, `medbus-attempts`, and `medbus-original-topic` / `-partition` /
/// `-offset`, `medbus-dead-lettered-at`.
enum DeadLetter {
    enum Header {
        static let reason = "medbus-error-reason"
        static let message = "medbus-error-message"
        static let destination = "medbus-destination"
        static let attempts = "medbus-attempts"
        static let originalTopic = "medbus-original-topic"
        static let originalPartition = "medbus-original-partition"
        static let originalOffset = "medbus-original-offset"
        static let deadLetteredAt = "medbus-dead-lettered-at"
        static let all: Set<String> = [reason, message, destination, attempts, originalTopic, originalPartition, originalOffset, deadLetteredAt]
    }

    static func reason(for failure: DeliveryFailure, attempts: Int, maxAttempts: Int) -> String {
        failure.retriable && attempts >= maxAttempts ? "max-attempts:\(failure.reason)" : failure.reason
    }

    static func record(
        for record: KafkaConsumerMessage, failure: DeliveryFailure, attempts: Int, maxAttempts: Int,
        destination: String, topic: String, now: Date = Date()
    ) -> KafkaProducerMessage {
        // A record replayed from a dead-letter topic carries old error headers: replace them.
        var headers = record.headers.filter { !Header.all.contains($0.key) }
        headers += [
            KafkaHeader(key: Header.reason, string: reason(for: failure, attempts: attempts, maxAttempts: maxAttempts)),
            KafkaHeader(key: Header.message, string: failure.message),
            KafkaHeader(key: Header.destination, string: destination),
            KafkaHeader(key: Header.attempts, string: "\(attempts)"),
            KafkaHeader(key: Header.originalTopic, string: record.topic),
            KafkaHeader(key: Header.originalPartition, string: "\(record.partition)"),
            KafkaHeader(key: Header.originalOffset, string: "\(record.offset)"),
            KafkaHeader(key: Header.deadLetteredAt, string: ISO8601DateFormatter().string(from: now)),
        ]
        return KafkaProducerMessage(topic: topic, key: record.key, value: record.value, headers: headers)
    }
}
