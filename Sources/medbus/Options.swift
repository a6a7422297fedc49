import ArgumentParser
import Foundation
import MedBusKafka
import MedBusStore

/// Where the SQLite store lives.
struct StoreOptions: ParsableArguments {
    @Option(name: .customLong("data-dir"), help: "Directory of the SQLite store (created if missing).")
    var dataDirectory: String = "./data"

    /// Opens the store, turning its errors into one clear line.
    func open() throws -> MessageStore {
        do {
            return try MessageStore.open(directory: dataDirectory)
        } catch let error as StoreError {
            throw CommandFailure("store: \(error)")
        }
    }

    /// Written by `serve` while it runs its embedded cluster, so other commands can find it.
    var embeddedBootstrapFile: String { (dataDirectory as NSString).appendingPathComponent("embedded-kafka.bootstrap") }
}

/// Which Kafka cluster to use.
struct KafkaOptions: ParsableArguments {
    @Option(name: .customLong("brokers"), help: "Bootstrap servers of an external Kafka cluster (host:port,...).")
    var brokers: String?

    @Option(name: .customLong("kafka-option"), help: ArgumentHelp("A librdkafka property passed through, e.g. security.protocol=SASL_SSL (repeatable).", valueName: "key=value"))
    var kafkaOptions: [String] = []

    func properties() throws -> [String: String] {
        do { return try KafkaConfig.parseProperties(kafkaOptions) } catch { throw CommandFailure("\(error)") }
    }

    /// The cluster named by --brokers, else the embedded cluster of a `medbus serve` running on
    /// the same data directory.
    func config(store: StoreOptions) throws -> KafkaConfig {
        if let brokers { return KafkaConfig(bootstrapServers: brokers, properties: try properties()) }
        guard let data = FileManager.default.contents(atPath: store.embeddedBootstrapFile) else {
            throw CommandFailure("no --brokers given and no running `medbus serve` found for data directory \(store.dataDirectory)")
        }
        return KafkaConfig(bootstrapServers: String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines), properties: try properties())
    }
}

/// Checks that a cluster answers, so a wrong address fails in seconds with a clear line.
func connect(_ config: KafkaConfig, timeout: Duration = .seconds(10)) async throws -> KafkaAdmin {
    let admin: KafkaAdmin
    do {
        admin = try KafkaAdmin(config: config, logger: Log.quietKafka)
        _ = try await admin.brokers(timeout: timeout)
    } catch let error as KafkaError {
        throw CommandFailure("Kafka cluster \(config.bootstrapServers) unreachable: \(error.message)")
    }
    return admin
}
