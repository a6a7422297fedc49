import MedBusKafka

/// Makes a cluster have the topics of a `TopicsFile`: creates what is missing and reports, for
/// what exists, where it differs from the file. Applying twice changes nothing the second time.
///
/// It never changes an existing topic: adding partitions would move keys to other partitions
/// and break per-key order (one patient's messages), and config changes deserve an operator's
/// decision. Drift is reported instead.
public struct TopicProvisioner: Sendable {
    public enum Outcome: Sendable, Equatable, CustomStringConvertible {
        case created
        /// Exists; `drift` lists differences from the file (empty when it matches).
        case exists(drift: [String])
        case failed(String)

        public var description: String {
            switch self {
            case .created: "created"
            case .exists(let drift) where drift.isEmpty: "exists"
            case .exists(let drift): "exists, differs: \(drift.joined(separator: "; "))"
            case .failed(let reason): "FAILED: \(reason)"
            }
        }
    }

    let admin: KafkaAdmin
    /// When set, topics are created through the embedded cluster (it has no CreateTopics API).
    let embedded: EmbeddedKafkaCluster?

    public init(admin: KafkaAdmin, embedded: EmbeddedKafkaCluster? = nil) {
        self.admin = admin
        self.embedded = embedded
    }

    public func apply(_ topics: [NewTopic]) async throws -> [(topic: String, outcome: Outcome)] {
        let existing = Dictionary(uniqueKeysWithValues: try await admin.listTopics().map { ($0.name, $0) })
        var outcomes: [String: Outcome] = [:]
        var toCreate: [NewTopic] = []
        for topic in topics {
            if let current = existing[topic.name] {
                outcomes[topic.name] = .exists(drift: try await drift(of: current, from: topic))
            } else if let embedded {
                do {
                    try embedded.createTopic(topic.name, partitions: topic.partitions, replicationFactor: topic.replicationFactor)
                    outcomes[topic.name] = .created
                } catch {
                    outcomes[topic.name] = .failed("\(error)")
                }
            } else {
                toCreate.append(topic)
            }
        }
        if !toCreate.isEmpty {
            for (name, error) in try await admin.createTopics(toCreate) {
                switch error {
                case nil: outcomes[name] = .created
                case let error? where error.code == .topicAlreadyExists: outcomes[name] = .exists(drift: [])
                case let error?: outcomes[name] = .failed(error.message)
                }
            }
        }
        return topics.map { ($0.name, outcomes[$0.name] ?? .failed("no answer from the cluster")) }
    }

    private func drift(of current: TopicDescription, from wanted: NewTopic) async throws -> [String] {
        var drift: [String] = []
        if current.partitions.count != wanted.partitions {
            drift.append("partitions \(current.partitions.count) (file: \(wanted.partitions))")
        }
        let replication = embedded.map { min(wanted.replicationFactor, $0.brokerCount) } ?? wanted.replicationFactor
        if current.replicationFactor != replication {
            drift.append("replication \(current.replicationFactor) (file: \(replication))")
        }
        // The embedded cluster keeps no topic configs, so there is nothing to compare.
        guard embedded == nil, !wanted.configs.isEmpty else { return drift }
        let configs = try await admin.describeConfigs(topic: current.name)
        for (key, value) in wanted.configs.sorted(by: { $0.key < $1.key }) where configs[key] != value {
            drift.append("\(key)=\(configs[key] ?? "unset") (file: \(value))")
        }
        return drift
    }
}
