import Logging
import MedBusKafka

/// Announces active mapping versions to every running router over the compacted topic `medbus.mappings`
/// (key = mapping name, value = `MappingAnnouncement` JSON; see `MappingFeed` for the receiving side).
///
/// The registry commits first and announces second, because SQLite is the system of record and Kafka may be
/// unreachable. The gap between the two is closed by `resync(_:)`: it announces every current activation the
/// registry has not yet seen acknowledged and marks it announced. The CLI calls it after each publish or
/// rollback, so a failed announcement is retried by the next change without anyone having to remember it.
///
/// Each call creates its own short-lived idempotent producer (acks=all) and waits for the delivery report: the
/// registry is changed a few times a day from a CLI, so there is nothing to gain from keeping a connection.
public struct MappingDistribution: Sendable {
    public static let defaultTopic = "medbus.mappings"
    /// Largest announcement (JSON, content base64-encoded) accepted; the topic is created to accept it.
    public static let maxAnnouncementBytes = 16 * 1024 * 1024

    public let kafka: KafkaConfig
    public let topic: String
    /// How long one announcement may take before it fails (librdkafka's `message.timeout.ms`).
    public let deliveryTimeout: Duration
    private let logger: Logger

    public init(kafka: KafkaConfig, topic: String = defaultTopic, deliveryTimeout: Duration = .seconds(30),
                logger: Logger = Logger(label: "medbus.registry.distribution")) {
        self.kafka = kafka
        self.topic = topic
        self.deliveryTimeout = deliveryTimeout
        self.logger = logger
    }

    /// The topic as it should be created: compacted (the latest announcement per name is kept forever), one
    /// partition (total order, and the volume is a few records a day), room for big code tables.
    public static func topicSpec(name: String = defaultTopic, replicationFactor: Int = 3) -> NewTopic {
        NewTopic(name: name, partitions: 1, replicationFactor: replicationFactor, configs: [
            "cleanup.policy": "compact",
            "max.message.bytes": String(maxAnnouncementBytes + 64 * 1024),
        ])
    }

    /// Creates the topic if it is missing: through the admin API on a real cluster, through `embedded` on the
    /// embedded cluster (which has no CreateTopics API, and keeps no topic configs). An existing topic is left
    /// as it is.
    /// - Returns: true if the topic was created.
    @discardableResult
    public func ensureTopic(embedded: EmbeddedKafkaCluster? = nil) async throws -> Bool {
        let admin = try KafkaAdmin(config: kafka)
        if try await admin.listTopics().contains(where: { $0.name == topic }) { return false }
        let replication = min(3, max(1, try await admin.brokers().count))
        if let embedded {
            do {
                try embedded.createTopic(topic, partitions: 1, replicationFactor: replication)
            } catch let error as KafkaError where error.code == .topicAlreadyExists {
                return false
            } catch let error as KafkaError {
                throw MappingDistributionError.topicCreationFailed(topic: topic, error)
            }
        } else {
            let outcome = try await admin.createTopics([Self.topicSpec(name: topic, replicationFactor: replication)])
            if let error = outcome[topic] ?? nil {
                if error.code == .topicAlreadyExists { return false }
                throw MappingDistributionError.topicCreationFailed(topic: topic, error)
            }
        }
        logger.info("created mappings topic", metadata: ["topic": "\(topic)"])
        return true
    }

    /// Announces that `version` became active through `activation`, and returns once the cluster has
    /// acknowledged the record (acks=all).
    ///
    /// This does not update the registry: call `registry.markAnnounced(activation)` afterwards, or use `resync`,
    /// which does both.
    /// - Throws: `MappingDistributionError.notDelivered` when Kafka does not acknowledge in `deliveryTimeout`.
    public func announce(_ version: MappingVersion, activation: Activation) async throws {
        try await announce([(version, activation)], onDelivered: { _ in })
    }

    /// Announces every current activation the registry has not marked announced, oldest first, marking each
    /// once Kafka has acknowledged it. Stops at the first failure (what was delivered stays marked).
    /// - Returns: the activations announced, in order.
    @discardableResult
    public func resync(_ registry: MappingRegistry, actor: String = "medbus") async throws -> [Activation] {
        let pending = try registry.unannounced()
        guard !pending.isEmpty else { return [] }
        var announced: [Activation] = []
        try await announce(pending) { activation in
            try registry.markAnnounced(activation, actor: actor)
            announced.append(activation)
        }
        return announced
    }

    /// Sends each announcement in order with one producer, waiting for each delivery before the next, so a
    /// failure leaves nothing after it in flight.
    private func announce(_ items: [(MappingVersion, Activation)], onDelivered: (Activation) throws -> Void) async throws {
        var records: [(KafkaProducerMessage, MappingVersion, Activation)] = []
        for (version, activation) in items {
            guard version.name == activation.name, version.version == activation.version else {
                throw MappingDistributionError.mismatchedActivation(version: "\(version)", activation: "\(activation)")
            }
            let value = try MappingAnnouncement(mapping: version, activation: activation).encoded()
            guard value.count <= Self.maxAnnouncementBytes else {
                throw MappingDistributionError.tooLarge(name: version.name, version: version.version, bytes: value.count, limit: Self.maxAnnouncementBytes)
            }
            let message = KafkaProducerMessage(topic: topic, key: Array(version.name.utf8), value: value, headers: [
                KafkaHeader(key: "medbus-schema", string: MappingAnnouncement.currentSchema),
                KafkaHeader(key: "medbus-mapping-version", string: String(version.version)),
                KafkaHeader(key: "medbus-mapping-digest", string: version.digest),
                KafkaHeader(key: "medbus-activation-sequence", string: String(activation.sequence)),
            ])
            records.append((message, version, activation))
        }

        var properties = kafka.properties
        properties["message.timeout.ms"] = properties["message.timeout.ms"] ?? String(deliveryTimeout.wholeMilliseconds)
        properties["message.max.bytes"] = properties["message.max.bytes"] ?? String(Self.maxAnnouncementBytes + 64 * 1024)
        properties["linger.ms"] = properties["linger.ms"] ?? "0"
        let producer = try KafkaProducer(config: KafkaConfig(bootstrapServers: kafka.bootstrapServers, properties: properties), logger: logger)
        do {
            for (message, version, activation) in records {
                do {
                    let report = try await producer.send(message)
                    logger.info("announced mapping", metadata: [
                        "mapping": "\(version.name)", "version": "\(version.version)", "digest": "\(version.digest.prefix(12))",
                        "activation": "\(activation.sequence)", "action": "\(activation.action.rawValue)",
                        "offset": "\(report.offset.map(String.init) ?? "?")",
                    ])
                } catch let error as KafkaError {
                    throw MappingDistributionError.notDelivered(name: version.name, version: version.version, error)
                }
                try onDelivered(activation)
            }
        } catch {
            await producer.shutdown(timeout: .seconds(1))
            throw error
        }
        await producer.shutdown(timeout: deliveryTimeout)
    }
}

extension Duration {
    var wholeMilliseconds: Int64 {
        let (seconds, attoseconds) = components
        return max(1, seconds * 1000 + attoseconds / 1_000_000_000_000_000)
    }
}
