import MedBusKafka

/// Failures of announcing mappings to routers.
public enum MappingDistributionError: Error, CustomStringConvertible {
    /// The version and the activation passed to `announce` are not about the same mapping version.
    case mismatchedActivation(version: String, activation: String)
    /// The announcement is bigger than the topic accepts.
    case tooLarge(name: String, version: Int, bytes: Int, limit: Int)
    /// Kafka did not acknowledge the announcement. The registry change is committed; `resync` sends it later.
    case notDelivered(name: String, version: Int, KafkaError)
    /// The topic is missing and could not be created.
    case topicCreationFailed(topic: String, KafkaError)

    public var description: String {
        switch self {
        case .mismatchedActivation(let version, let activation):
            "cannot announce \(version) with activation \(activation): they name different versions"
        case .tooLarge(let name, let version, let bytes, let limit):
            "mapping \(name) v\(version): announcement of \(bytes) bytes exceeds the \(limit)-byte limit of the mappings topic"
        case .notDelivered(let name, let version, let error):
            "mapping \(name) v\(version) is saved in the registry but routers were not told (\(error)); "
                + "it will be announced by the next publish or rollback, or run a resync once Kafka is reachable"
        case .topicCreationFailed(let topic, let error):
            "cannot create the mappings topic \(topic): \(error)"
        }
    }
}
