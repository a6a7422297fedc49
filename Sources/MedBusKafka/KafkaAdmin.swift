import CRdKafka
import Logging

/// A topic to create.
public struct NewTopic: Sendable, Hashable {
    public var name: String
    public var partitions: Int
    public var replicationFactor: Int
    /// Topic configs such as `cleanup.policy=compact`, `retention.ms`, `min.insync.replicas`.
    public var configs: [String: String]

    public init(name: String, partitions: Int, replicationFactor: Int, configs: [String: String] = [:]) {
        self.name = name
        self.partitions = partitions
        self.replicationFactor = replicationFactor
        self.configs = configs
    }
}

/// A topic as the cluster's metadata describes it.
public struct TopicDescription: Sendable, Hashable {
    public struct Partition: Sendable, Hashable {
        public var id: Int32
        public var leader: Int32
        public var replicas: [Int32]
        public var inSyncReplicas: [Int32]
    }

    public var name: String
    public var partitions: [Partition]
    public var replicationFactor: Int { partitions.first?.replicas.count ?? 0 }
}

/// Cluster administration: topics and their configs, broker metadata.
///
/// Every call waits on the network, so each runs off the cooperative pool and is bounded by a
/// timeout. Note that librdkafka's mock cluster (the embedded Kafka) does not implement
/// CreateTopics or DescribeConfigs: against it those calls fail with the broker's error, and
/// topics are created through `EmbeddedKafkaCluster.createTopic` instead.
public final class KafkaAdmin: Sendable {
    private let client: RDKafkaClient

    public init(config: KafkaConfig, logger: Logger = Logger(label: "medbus.kafka.admin")) throws {
        var properties = config.resolved(defaults: ["client.id": "medbus-admin", "allow.auto.create.topics": "false"])
        properties["allow.auto.create.topics"] = "false"
        client = try RDKafkaClient(kind: .producer, properties: properties, logger: logger)
        let rk = client
        client.startPolling { _ = rd_kafka_poll(rk.handle, 100) }
    }

    deinit { client.destroy() }

    /// The ids of the brokers the cluster reports; proves the cluster is reachable.
    /// - Throws: `KafkaError` (`_TRANSPORT`, `_TIMED_OUT`…) when no broker answers in time.
    public func brokers(timeout: Duration = .seconds(10)) async throws -> [Int32] {
        try await withMetadata(timeout: timeout) { md in
            (0..<Int(md.pointee.broker_cnt)).map { md.pointee.brokers[$0].id }
        }
    }

    /// Every topic in the cluster (internal ones, starting with `__`, excluded), by name.
    public func listTopics(timeout: Duration = .seconds(10)) async throws -> [TopicDescription] {
        try await withMetadata(timeout: timeout) { md in
            (0..<Int(md.pointee.topic_cnt)).compactMap { i -> TopicDescription? in
                let t = md.pointee.topics[i]
                let name = String(cString: t.topic)
                guard !name.hasPrefix("__"), t.err == RD_KAFKA_RESP_ERR_NO_ERROR else { return nil }
                let partitions = (0..<Int(t.partition_cnt)).map { j in
                    let p = t.partitions[j]
                    return TopicDescription.Partition(
                        id: p.id, leader: p.leader,
                        replicas: Array(UnsafeBufferPointer(start: p.replicas, count: Int(p.replica_cnt))),
                        inSyncReplicas: Array(UnsafeBufferPointer(start: p.isrs, count: Int(p.isr_cnt)))
                    )
                }
                return TopicDescription(name: name, partitions: partitions.sorted { $0.id < $1.id })
            }.sorted { $0.name < $1.name }
        }
    }

    /// One topic's partitions and replicas.
    /// - Throws: `KafkaError` with code `UNKNOWN_TOPIC_OR_PART` when it does not exist.
    public func describeTopic(_ name: String, timeout: Duration = .seconds(10)) async throws -> TopicDescription {
        guard let topic = try await listTopics(timeout: timeout).first(where: { $0.name == name }) else {
            throw KafkaError(code: .unknownTopicOrPartition, message: "topic '\(name)' does not exist")
        }
        return topic
    }

    /// Creates topics. Each result is `nil` on success or the broker's error for that topic
    /// (`TOPIC_ALREADY_EXISTS` included, so callers can treat it as success when applying).
    public func createTopics(_ topics: [NewTopic], timeout: Duration = .seconds(30)) async throws -> [String: KafkaError?] {
        let rk = client
        let ms = timeout.milliseconds
        return try await Blocking.run {
            var errstr = [CChar](repeating: 0, count: 512)
            var newTopics: [OpaquePointer?] = []
            defer { newTopics.forEach { rd_kafka_NewTopic_destroy($0) } }
            for topic in topics {
                guard let nt = rd_kafka_NewTopic_new(topic.name, Int32(topic.partitions), Int32(topic.replicationFactor), &errstr, errstr.count) else {
                    throw KafkaError.invalidArgument("topic '\(topic.name)': \(errstr.cString)")
                }
                newTopics.append(nt)
                for (key, value) in topic.configs.sorted(by: { $0.key < $1.key }) {
                    let err = rd_kafka_NewTopic_set_config(nt, key, value)
                    if err != RD_KAFKA_RESP_ERR_NO_ERROR { throw KafkaError(err, "topic '\(topic.name)' config \(key)") }
                }
            }
            return try adminCall(rk.handle, timeout: ms, op: RD_KAFKA_ADMIN_OP_CREATETOPICS, what: "create topics") { options, queue in
                rd_kafka_CreateTopics(rk.handle, &newTopics, newTopics.count, options, queue)
            } result: { event in
                var count = 0
                guard let results = rd_kafka_CreateTopics_result_topics(rd_kafka_event_CreateTopics_result(event), &count) else { return [:] }
                var outcome: [String: KafkaError?] = [:]
                for i in 0..<count {
                    let r = results[i]
                    let name = String(cString: rd_kafka_topic_result_name(r))
                    let err = rd_kafka_topic_result_error(r)
                    outcome[name] = err == RD_KAFKA_RESP_ERR_NO_ERROR ? nil
                        : KafkaError(code: KafkaError.Code(err), message: "create topic '\(name)': \(rd_kafka_topic_result_error_string(r).map { String(cString: $0) } ?? "")")
                }
                return outcome
            }
        }
    }

    /// A topic's effective configs (name → value), defaults included.
    public func describeConfigs(topic: String, timeout: Duration = .seconds(30)) async throws -> [String: String] {
        let rk = client
        let ms = timeout.milliseconds
        return try await Blocking.run {
            var resources: [OpaquePointer?] = [rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, topic)]
            defer { resources.forEach { rd_kafka_ConfigResource_destroy($0) } }
            return try adminCall(rk.handle, timeout: ms, op: RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS, what: "describe configs of '\(topic)'") { options, queue in
                rd_kafka_DescribeConfigs(rk.handle, &resources, 1, options, queue)
            } result: { event in
                var count = 0
                guard let results = rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(event), &count), count > 0 else { return [:] }
                let resource = results[0]
                let err = rd_kafka_ConfigResource_error(resource)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else { throw KafkaError(err, "describe configs of '\(topic)'") }
                var entryCount = 0
                guard let entries = rd_kafka_ConfigResource_configs(resource, &entryCount) else { return [:] }
                var configs: [String: String] = [:]
                for i in 0..<entryCount {
                    configs[String(cString: rd_kafka_ConfigEntry_name(entries[i]))] = rd_kafka_ConfigEntry_value(entries[i]).map { String(cString: $0) }
                }
                return configs
            }
        }
    }

    private func withMetadata<T: Sendable>(timeout: Duration, _ body: @escaping @Sendable (UnsafePointer<rd_kafka_metadata>) -> T) async throws -> T {
        let rk = client
        let ms = timeout.milliseconds
        return try await Blocking.run {
            var md: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(rk.handle, 1, nil, &md, ms)
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let md else { throw KafkaError(err, "read cluster metadata") }
            defer { rd_kafka_metadata_destroy(md) }
            return body(md)
        }
    }
}

/// Runs one admin request on a private queue and waits for its result event.
private func adminCall<T>(
    _ handle: OpaquePointer,
    timeout ms: Int32,
    op: rd_kafka_admin_op_t,
    what: String,
    request: (OpaquePointer?, OpaquePointer?) -> Void,
    result: (OpaquePointer) throws -> T
) throws -> T {
    let queue = rd_kafka_queue_new(handle)
    defer { rd_kafka_queue_destroy(queue) }
    let options = rd_kafka_AdminOptions_new(handle, op)
    defer { rd_kafka_AdminOptions_destroy(options) }
    var errstr = [CChar](repeating: 0, count: 512)
    _ = rd_kafka_AdminOptions_set_request_timeout(options, ms, &errstr, errstr.count)
    _ = rd_kafka_AdminOptions_set_operation_timeout(options, ms, &errstr, errstr.count)
    request(options, queue)
    // Give the request a little longer than its own timeout so its error, not ours, is reported.
    guard let event = rd_kafka_queue_poll(queue, ms + 5000) else {
        throw KafkaError(code: .timedOut, message: "\(what): no answer within \(ms) ms")
    }
    defer { rd_kafka_event_destroy(event) }
    let err = rd_kafka_event_error(event)
    guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
        throw KafkaError(code: KafkaError.Code(err), message: "\(what): \(rd_kafka_event_error_string(event).map { String(cString: $0) } ?? "")")
    }
    return try result(event)
}
