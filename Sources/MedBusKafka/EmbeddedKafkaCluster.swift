import CRdKafka
import Logging

/// An in-process Kafka-protocol cluster: librdkafka's mock cluster, listening on loopback, that
/// any Kafka client on the machine (kcat, confluent-kafka, MedBus itself) can use.
///
/// It is for one machine and for tests. It keeps data **in memory only**, and each partition
/// retains at most ~5 MiB or 100,000 message sets, dropping older data *silently*; size topics'
/// partition counts for the data they must hold. It does not implement the CreateTopics or
/// DescribeConfigs admin APIs, so topics are created with `createTopic` here.
///
/// The fault-injection calls (`setBrokerDown`, `pushRequestErrors`, …) exist for tests.
public final class EmbeddedKafkaCluster: @unchecked Sendable {
    /// Kafka protocol API keys used for fault injection.
    public enum APIKey: Int16, Sendable {
        case produce = 0, fetch = 1, listOffsets = 2, metadata = 3, offsetCommit = 8, offsetFetch = 9
        case findCoordinator = 10, joinGroup = 11, heartbeat = 12, syncGroup = 14
        case initProducerId = 22, addPartitionsToTxn = 24, addOffsetsToTxn = 25, endTxn = 26, txnOffsetCommit = 28
    }

    private let handle: OpaquePointer
    private let cluster: OpaquePointer
    public let brokerCount: Int
    /// `host:port,…` of the cluster's brokers on 127.0.0.1.
    public let bootstrapServers: String

    /// Starts `brokers` brokers on random loopback ports.
    /// - Throws: `KafkaError` if the cluster cannot be created.
    public init(brokers: Int = 3, logger: Logger = Logger(label: "medbus.kafka.embedded")) throws {
        // The mock cluster lives inside a client instance; this one only hosts it.
        let conf = rd_kafka_conf_new()!
        var errstr = [CChar](repeating: 0, count: 512)
        // It needs no bootstrap servers of its own; keep its notice about that out of the logs.
        _ = rd_kafka_conf_set(conf, "log_level", "4", &errstr, errstr.count)
        guard let rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, &errstr, errstr.count) else {
            rd_kafka_conf_destroy(conf)
            throw KafkaError.invalidArgument("cannot create embedded cluster host: \(errstr.cString)")
        }
        guard let mc = rd_kafka_mock_cluster_new(rk, Int32(brokers)) else {
            rd_kafka_destroy(rk)
            throw KafkaError(code: .fatal, message: "cannot start embedded Kafka cluster with \(brokers) brokers")
        }
        handle = rk
        cluster = mc
        brokerCount = brokers
        bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(mc))
        logger.info("embedded Kafka cluster started", metadata: ["bootstrap": "\(bootstrapServers)", "brokers": "\(brokers)"])
    }

    deinit {
        rd_kafka_mock_cluster_destroy(cluster)
        rd_kafka_destroy(handle)
    }

    /// Creates a topic (replication is capped at the broker count). Creating an existing topic
    /// is an error from the mock (`TOPIC_ALREADY_EXISTS`).
    public func createTopic(_ name: String, partitions: Int, replicationFactor: Int = 3) throws {
        let err = rd_kafka_mock_topic_create(cluster, name, Int32(partitions), Int32(min(replicationFactor, brokerCount)))
        if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, "create topic '\(name)' on the embedded cluster") }
    }

    public func setBrokerDown(_ broker: Int32) {
        _ = rd_kafka_mock_broker_set_down(cluster, broker)
    }

    public func setBrokerUp(_ broker: Int32) {
        _ = rd_kafka_mock_broker_set_up(cluster, broker)
    }

    /// Makes the broker answer every request `rtt` late.
    public func setBrokerRoundTrip(_ broker: Int32, milliseconds: Int) {
        _ = rd_kafka_mock_broker_set_rtt(cluster, broker, Int32(milliseconds))
    }

    /// The next requests of this API fail with these errors, one each, in order.
    public func pushRequestErrors(_ api: APIKey, _ errors: [KafkaError.Code]) {
        let codes = errors.map { rd_kafka_resp_err_t(rawValue: $0.rawValue) }
        rd_kafka_mock_push_request_errors_array(cluster, api.rawValue, codes.count, codes)
    }

    public func setPartitionLeader(topic: String, partition: Int32, broker: Int32) {
        _ = rd_kafka_mock_partition_set_leader(cluster, topic, partition, broker)
    }
}
