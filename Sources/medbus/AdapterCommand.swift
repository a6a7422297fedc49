import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusCore
import MedBusKafka

/// `medbus adapter run FILE`: one adapter as its own process.
struct AdapterCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "adapter",
        abstract: "Run adapters as their own processes.",
        subcommands: [Run.self]
    )

    struct Run: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the adapter of one manifest (Adapters/<Kind>/manifests/*.yaml) until SIGINT/SIGTERM.",
            discussion: "It uses --brokers, or the embedded cluster of a `medbus serve` on the same --data-dir."
        )
        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup var storeSync: StoreSyncOption
        @OptionGroup(title: "Admin API") var adminAPI: AdminOptions
        @Argument(help: "Adapter manifest.") var manifest: String

        func run() async throws {
            let logger = Log.logger("medbus.adapter")
            let loaded: AdapterManifest
            do { loaded = try AdapterManifest.load(path: manifest) } catch { throw CommandFailure("\(error)") }
            try storeSync.check(kafka)
            let messageStore = try store.open(createKeyIfMissing: true, sync: storeSync.level)
            let config = try kafka.config(store: store)
            let admin = try await connect(config)
            let topic = try loaded.rawTopic
            guard try await admin.listTopics().contains(where: { $0.name == topic }) else {
                throw CommandFailure("topic '\(topic)' does not exist; create it (medbus topics create \(topic)) or run the adapter inside `medbus serve`")
            }
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: Log.logger("medbus.kafka.producer"))
            let host = try AdapterHost(manifests: [loaded], store: messageStore, producer: producer, kafka: config)
            let adminBackground = try adminServices(adminAPI, store: store, messageStore: messageStore, kafka: config)
            try await runUntilTerminated(host, background: adminBackground, logger: logger)
            await producer.shutdown()
            try? messageStore.close()
        }
    }
}
