import CRdKafka

/// Connection settings shared by every Kafka client MedBus creates.
///
/// `properties` is passed through to librdkafka unchanged, so anything an external cluster needs
/// (`security.protocol`, `sasl.*`, `ssl.*`, timeouts) is set here without MedBus knowing about it.
/// Each client type adds its own defaults only where the caller did not set the property.
public struct KafkaConfig: Sendable {
    /// `host:port[,host:port…]`.
    public var bootstrapServers: String
    /// Raw librdkafka configuration properties (override MedBus defaults).
    public var properties: [String: String]

    public init(bootstrapServers: String, properties: [String: String] = [:]) {
        self.bootstrapServers = bootstrapServers
        self.properties = properties
    }

    /// Parses repeated `key=value` options as given on the command line.
    public static func parseProperties(_ options: [String]) throws -> [String: String] {
        var result: [String: String] = [:]
        for option in options {
            guard let eq = option.firstIndex(of: "="), eq != option.startIndex else {
                throw KafkaError.invalidArgument("Kafka option '\(option)' is not of the form key=value")
            }
            result[String(option[..<eq])] = String(option[option.index(after: eq)...])
        }
        return result
    }

    /// The effective properties: MedBus defaults, then the caller's, then `bootstrap.servers`.
    func resolved(defaults: [String: String]) -> [String: String] {
        var merged = defaults.merging(properties) { _, caller in caller }
        merged["bootstrap.servers"] = bootstrapServers
        return merged
    }
}

/// A topic and partition, with an offset where one is meant (commit positions are "next offset to read").
public struct TopicPartitionOffset: Sendable, Hashable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
    }

    public var description: String { "\(topic)[\(partition)]@\(offset)" }
}

/// Facts about the linked librdkafka.
public enum KafkaRuntime {
    public static var librdkafkaVersion: String { String(cString: rd_kafka_version_str()) }
}
