import CoreMetrics
import Foundation
import Logging
import MedBusCore
import MedBusKafka
import MedBusRouting

/// PARTITION:OFFSET of a dead letter.
public struct DeadLetterPosition: Sendable, Hashable, CustomStringConvertible {
    public let partition: Int32
    public let offset: Int64

    public init(partition: Int32, offset: Int64) {
        self.partition = partition
        self.offset = offset
    }

    /// Parses `PARTITION:OFFSET`; nil when it is not one.
    public init?(_ text: String) {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count == 2, let partition = Int32(parts[0]), partition >= 0, let offset = Int64(parts[1]), offset >= 0 else { return nil }
        self.init(partition: partition, offset: offset)
    }

    public var description: String { "\(partition):\(offset)" }

    public func matches(_ record: KafkaConsumerMessage) -> Bool { record.partition == partition && record.offset == offset }
}

/// One dead letter as operators see it: why, where it came from, never its payload.
public struct DeadLetterSummary: Codable, Sendable, Equatable {
    public var position: String
    public var reason: String?
    public var mapping: String?
    public var mappingVersion: String?
    public var rule: String?
    public var source: String?
    public var messageId: String?
    /// The error text; may quote message content, so only for roles that see patient data.
    public var error: String?
    public var deadLetteredAt: String?
    public var replayed: Bool
}

/// Reading and replaying a dead-letter topic: what `medbus dlq` and `/v1/dlq` share.
///
/// Replays are at most once per record: each successful replay is an audit entry
/// (`dlq.replay`, object `<topic>/<partition>/<offset>`), and a record with one is skipped.
public struct DeadLetterQueue: Sendable {
    public let kafka: KafkaConfig
    public let trail: AuditTrail
    public let logger: Logger

    public init(kafka: KafkaConfig, trail: AuditTrail, logger: Logger = Logger(label: "medbus.dlq")) {
        self.kafka = kafka
        self.trail = trail
        self.logger = logger
    }

    /// Which dead letters: topic, time window (default: the last 7 days), reason.
    public struct Selection: Sendable {
        public var topic: String
        public var since: Date
        public var reason: String?

        public init(topic: String = "dlq.routing", since: Date? = nil, reason: String? = nil) {
            self.topic = topic
            self.since = since ?? Date().addingTimeInterval(-7 * 86_400)
            self.reason = reason
        }
    }

    public enum Failure: Error, CustomStringConvertible {
        case unreadable(topic: String, detail: String)
        case replayFailed(object: String, detail: String)

        public var description: String {
            switch self {
            case .unreadable(let topic, let detail): "cannot read \(topic): \(detail)"
            case .replayFailed(let object, let detail): "replay of \(object) failed: \(detail)"
            }
        }
    }

    /// The selected dead letters, in partition order.
    /// - Throws: `Failure.unreadable` when the topic does not exist or the cluster does not answer.
    public func read(_ selection: Selection) async throws -> [KafkaConsumerMessage] {
        let records: [KafkaConsumerMessage]
        do {
            records = try await KafkaTopicReader.read(config: kafka, topic: selection.topic, since: selection.since, timeout: .seconds(10), logger: quiet)
        } catch let error as KafkaError {
            throw Failure.unreadable(topic: selection.topic, detail: error.message)
        }
        return records.filter { selection.reason == nil || $0.headers.string(RoutingHeader.errorReason) == selection.reason }
    }

    /// `read`, summarised; `withError` adds the error text (patient-data roles only). Also updates
    /// the `medbus_dlq_depth` gauge of the topic when the whole topic was selected.
    public func list(_ selection: Selection, withError: Bool) async throws -> [DeadLetterSummary] {
        let summaries = try await read(selection).map { record in
            let h = record.headers
            return DeadLetterSummary(
                position: "\(record.partition):\(record.offset)", reason: h.string(RoutingHeader.errorReason),
                mapping: h.string(RoutingHeader.errorMapping), mappingVersion: h.string(RoutingHeader.errorMappingVersion),
                rule: h.string(RoutingHeader.errorRule), source: h.string(MessageEnvelope.Header.source),
                messageId: h.string(MessageEnvelope.Header.id), error: withError ? h.string(RoutingHeader.errorMessage) : nil,
                deadLetteredAt: h.string(RoutingHeader.deadLetteredAt),
                replayed: (try? trail.contains(action: Self.replayAction, object: Self.object(selection.topic, record))) ?? false)
        }
        if selection.reason == nil {
            Gauge(label: "medbus_dlq_depth", dimensions: [("topic", selection.topic)]).record(summaries.lazy.filter { !$0.replayed }.count)
        }
        return summaries
    }

    /// Updates `medbus_dlq_depth` of each topic every `interval` until the task is cancelled, so the gauge
    /// follows new dead letters without anyone listing them. A topic that cannot be read (not created yet)
    /// keeps its last value and is tried again next time.
    public func sampleDepth(of topics: [String], every interval: Duration = .seconds(30)) async {
        while !Task.isCancelled {
            for topic in topics {
                do { _ = try await list(Selection(topic: topic), withError: false) } catch {
                    logger.debug("dead-letter depth not sampled", metadata: ["topic": "\(topic)", "error": "\(error)"])
                }
            }
            try? await Task.sleep(for: interval)
        }
    }

    public struct ReplayResult: Sendable, Codable, Equatable {
        /// Objects (`topic/partition/offset`) sent back to their raw topic now.
        public var replayed: [String] = []
        /// Replayed before: skipped.
        public var alreadyReplayed: [String] = []
        /// Without a recorded source topic: cannot be replayed.
        public var unreplayable: [String] = []
        /// Positions asked for that are not in the selection.
        public var notFound: [String] = []

        public init() {}
    }

    /// Sends the selected dead letters at `positions` (all selected ones when empty) back to the
    /// topic they came from, each at most once, recording each replay for `actor`/`role`.
    /// - Throws: `Failure` on the first record Kafka does not acknowledge (those before it stay replayed).
    public func replay(_ selection: Selection, positions: [DeadLetterPosition], actor: String, role: String) async throws -> ReplayResult {
        let records = try await read(selection)
        var result = ReplayResult()
        result.notFound = positions.filter { p in !records.contains { p.matches($0) } }.map { "\(selection.topic)/\($0.partition)/\($0.offset)" }
        let chosen = records.filter { record in positions.isEmpty || positions.contains { $0.matches(record) } }
        guard !chosen.isEmpty else { return result }
        let producer = try KafkaProducer(config: kafka, logger: quiet)
        do {
            for record in chosen {
                let object = Self.object(selection.topic, record)
                if try trail.contains(action: Self.replayAction, object: object) { result.alreadyReplayed.append(object); continue }
                guard let original = RoutingHeader.original(of: record) else { result.unreplayable.append(object); continue }
                let report = try await producer.send(original)
                if let error = report.error {
                    _ = try? trail.record(actor: actor, role: role, action: Self.replayAction, object: object, outcome: .failed, detail: error.message)
                    throw Failure.replayFailed(object: object, detail: error.message)
                }
                try trail.record(actor: actor, role: role, action: Self.replayAction, object: object,
                                 detail: "to \(original.topic) partition \(report.partition) offset \(report.offset ?? -1)")
                result.replayed.append(object)
            }
        } catch {
            await producer.shutdown()
            throw error
        }
        await producer.shutdown()
        logger.info("dead letters replayed", metadata: ["topic": "\(selection.topic)", "replayed": "\(result.replayed.count)", "skipped": "\(result.alreadyReplayed.count)"])
        return result
    }

    public static let replayAction = "dlq.replay"

    static func object(_ topic: String, _ record: KafkaConsumerMessage) -> String { "\(topic)/\(record.partition)/\(record.offset)" }

    private var quiet: Logger {
        var logger = logger
        logger.logLevel = .critical
        return logger
    }
}
