import ArgumentParser
import Foundation
import MedBusCore
import MedBusKafka

/// `medbus topics list|describe|create|apply`.
struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "List, describe and create Kafka topics.",
        subcommands: [List.self, Describe.self, Create.self, Apply.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List topics with partition and replica counts.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let admin = try await connect(try kafka.config(store: store))
            for topic in try await admin.listTopics() {
                print("\(topic.name)\tpartitions=\(topic.partitions.count)\treplication=\(topic.replicationFactor)")
            }
        }
    }

    struct Describe: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show a topic's partitions, leaders, replicas and configs.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Argument(help: "Topic name.") var topic: String

        func run() async throws {
            let admin = try await connect(try kafka.config(store: store))
            let description: TopicDescription
            do {
                description = try await admin.describeTopic(topic)
            } catch let error as KafkaError where error.code == .unknownTopicOrPartition {
                throw CommandFailure("unknown topic '\(topic)'")
            }
            print("topic \(description.name): \(description.partitions.count) partitions, replication \(description.replicationFactor)")
            for p in description.partitions {
                print("  partition \(p.id)\tleader=\(p.leader)\treplicas=\(p.replicas)\tisr=\(p.inSyncReplicas)")
            }
            // The embedded cluster has no DescribeConfigs API; don't let that hold the command up.
            do {
                let configs = try await admin.describeConfigs(topic: topic, timeout: .seconds(5))
                for (key, value) in configs.sorted(by: { $0.key < $1.key }) { print("  \(key)=\(value)") }
            } catch {
                print("  configs: not available from this cluster")
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create one topic.")
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Argument(help: "Topic name.") var topic: String
        @Option var partitions: Int = 6
        @Option var replication: Int = 3
        @Option(name: .customLong("config"), help: ArgumentHelp("A topic config (repeatable).", valueName: "key=value"))
        var configs: [String] = []

        func validate() throws {
            guard TopicName.isValid(topic) else { throw ValidationError("'\(topic)' is not a valid topic name") }
            guard partitions > 0, replication > 0 else { throw ValidationError("--partitions and --replication must be positive") }
        }

        func run() async throws {
            let configMap: [String: String]
            do { configMap = try KafkaConfig.parseProperties(configs) } catch { throw CommandFailure("\(error)") }
            try await applyTopics([NewTopic(name: topic, partitions: partitions, replicationFactor: replication, configs: configMap)], kafka: kafka, store: store)
        }
    }

    struct Apply: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Create the topics of a topics file that do not exist yet; report drift of those that do.",
            discussion: "Idempotent: a second run creates nothing. Existing topics are never altered."
        )
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @Argument(help: "Topics file, e.g. deploy/topics.yaml.") var file: String

        func run() async throws {
            let topics: [NewTopic]
            do { topics = try TopicsFile.load(path: file) } catch { throw CommandFailure("\(error)") }
            try await applyTopics(topics, kafka: kafka, store: store)
        }
    }
}

/// Applies topics and prints one line each; fails if any topic could not be created.
private func applyTopics(_ topics: [NewTopic], kafka: KafkaOptions, store: StoreOptions) async throws {
    let admin = try await connect(try kafka.config(store: store))
    let results = try await TopicProvisioner(admin: admin).apply(topics)
    for (topic, outcome) in results { print("\(topic)\t\(outcome)") }
    let failed = results.filter { if case .failed = $0.outcome { true } else { false } }
    if !failed.isEmpty {
        let hint = kafka.brokers == nil ? " (the embedded cluster has no CreateTopics API: its topics come from `medbus serve --topics FILE`)" : ""
        throw CommandFailure("\(failed.count) of \(results.count) topics could not be created\(hint)")
    }
}
