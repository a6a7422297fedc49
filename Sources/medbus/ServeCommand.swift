import ArgumentParser
import Dispatch
import Foundation
import MedBusCore
import MedBusKafka
import MedBusStore

/// `medbus serve`: the main job. Opens the store, connects to Kafka (or starts the embedded
/// cluster), makes sure the standard topics exist, and runs until SIGINT/SIGTERM.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Run MedBus (embedded Kafka and SQLite unless --brokers is given).",
        discussion: """
        Without --brokers, an in-process Kafka-protocol cluster (librdkafka's mock cluster) is \
        started on loopback and its bootstrap address printed; any Kafka client on this machine \
        can use it. It keeps data in memory only, and each partition retains at most ~5 MiB or \
        100,000 message sets (older data is dropped silently): the SQLite store is what survives \
        a restart.
        """
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "Topics to create at start (see deploy/topics.yaml).")
    var topics: String = "deploy/topics.yaml"

    @Option(name: .customLong("embedded-brokers"), help: "Broker count of the embedded cluster.")
    var embeddedBrokers: Int = 3

    func validate() throws {
        guard (1...16).contains(embeddedBrokers) else { throw ValidationError("--embedded-brokers must be between 1 and 16") }
    }

    func run() async throws {
        let logger = Log.logger("medbus.serve")
        let messageStore = try store.open()
        let topicSpecs: [NewTopic]
        do {
            topicSpecs = FileManager.default.fileExists(atPath: topics) ? try TopicsFile.load(path: topics) : []
        } catch {
            throw CommandFailure("\(error)")
        }

        let embedded: EmbeddedKafkaCluster?
        let config: KafkaConfig
        if let brokers = kafka.brokers {
            embedded = nil
            config = KafkaConfig(bootstrapServers: brokers, properties: try kafka.properties())
        } else {
            let cluster = try EmbeddedKafkaCluster(brokers: embeddedBrokers, logger: Log.logger("medbus.kafka.embedded"))
            embedded = cluster
            config = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: try kafka.properties())
            try cluster.bootstrapServers.write(toFile: store.embeddedBootstrapFile, atomically: true, encoding: .utf8)
        }
        defer { if embedded != nil { try? FileManager.default.removeItem(atPath: store.embeddedBootstrapFile) } }

        let admin = try await connect(config)
        for (topic, outcome) in try await TopicProvisioner(admin: admin, embedded: embedded).apply(topicSpecs) {
            logger.info("topic", metadata: ["topic": "\(topic)", "outcome": "\(outcome)"])
        }

        let mode = embedded == nil ? "external cluster" : "embedded cluster, in memory"
        print("MedBus \(MedBusVersion.current) serving")
        print("Kafka bootstrap: \(config.bootstrapServers) (\(mode))")
        print("Store: \(messageStore.databasePath)")
        fflush(nil)
        logger.info("ready", metadata: ["kafka": "\(config.bootstrapServers)", "mode": "\(mode)", "store": "\(messageStore.databasePath)"])

        let signal = await Signals.waitForTermination()
        logger.info("shutting down", metadata: ["signal": "\(signal)"])
        try? messageStore.close()
    }
}

/// Waits for SIGINT or SIGTERM without blocking a cooperative thread.
enum Signals {
    /// Dispatch sources must stay alive while armed; one process waits at most once per signal.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    static func waitForTermination() async -> Int32 {
        await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            let queue = DispatchQueue(label: "medbus.signals")
            let once = OnceFlag()
            for sig in [SIGINT, SIGTERM] {
                signal(sig, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                source.setEventHandler {
                    if once.set() { continuation.resume(returning: sig) }
                }
                source.resume()
                sources.append(source)
            }
        }
    }
}

/// A flag that can be set once, from any thread.
final class OnceFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var isSet = false
    /// True for the first caller only.
    func set() -> Bool { lock.withLock { defer { isSet = true }; return !isSet } }
}
