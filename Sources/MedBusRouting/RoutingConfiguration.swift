import Foundation
import MedBusKafka

/// Everything a routing core instance needs besides its router.
public struct RoutingConfiguration: Sendable {
    public var kafka: KafkaConfig
    /// The consumer group shared by all router instances: Kafka spreads input partitions over them.
    public var groupID: String
    /// Topics or librdkafka regular expressions (a leading `^`) to consume.
    public var inputTopics: [String]
    /// Stable per instance (e.g. `medbus-router-<instance>`): a restarted instance with the same id
    /// fences its predecessor, whose open transaction is then aborted by the coordinator.
    public var transactionalID: String
    public var deadLetterTopic: String
    /// Most records per batch, hence per Kafka transaction.
    public var maxBatch: Int
    /// Most concurrent routing tasks per batch.
    public var parallelism: Int
    /// How far back the in-doubt scan reads the target topics (see `InDoubtOutputs`). Must cover
    /// the age of the oldest uncommitted output, i.e. at least `transaction.timeout.ms`.
    public var recoveryWindow: Duration

    /// Records per batch (and transaction) unless configured: a transaction costs a few broker
    /// round trips whatever its size, so larger batches route more per second, at the price of
    /// more records routed again after a crash.
    public static let defaultMaxBatch = 1000

    public init(
        kafka: KafkaConfig,
        groupID: String = "medbus-router",
        inputTopics: [String] = ["^raw\\..*"],
        transactionalID: String,
        deadLetterTopic: String = "dlq.routing",
        maxBatch: Int = RoutingConfiguration.defaultMaxBatch,
        parallelism: Int = ProcessInfo.processInfo.activeProcessorCount,
        recoveryWindow: Duration = .seconds(15 * 60)
    ) {
        self.kafka = kafka
        self.groupID = groupID
        self.inputTopics = inputTopics
        self.transactionalID = transactionalID
        self.deadLetterTopic = deadLetterTopic
        self.maxBatch = max(1, maxBatch)
        self.parallelism = max(1, parallelism)
        self.recoveryWindow = recoveryWindow
    }
}
