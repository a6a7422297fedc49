import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusKafka
import MedBusStore
import MedBusTableAdapter

/// `medbus-adapter-table MANIFEST --brokers B`: one intermediate-table adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: intermediate-table` manifest).
@main
struct TableAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-table",
        abstract: "Poll a HIS intermediate table and publish each row once to raw.his.<hospital>.",
        discussion: "Stops on SIGINT/SIGTERM after the row in progress. State: <data-dir>/medbus.sqlite (messages) and <data-dir>/table-<name>.sqlite (progress)."
    )

    @Argument(help: "Adapter manifest (kind: intermediate-table).") var manifest: String
    @Option(help: "Kafka bootstrap servers.") var brokers: String
    @Option(name: .customLong("kafka-option"), help: "librdkafka property key=value (repeatable).") var kafkaOptions: [String] = []
    @Option(help: "Directory of the message store and the adapter's state.") var dataDir = "data"

    func run() async throws {
        AdapterProcess.bootstrapLogging()
        let loaded = try AdapterManifest.load(path: manifest)
        guard loaded.kind == IntermediateTableAdapter.kind else {
            throw ValidationError("\(manifest): kind is '\(loaded.kind)'; this program runs kind \(IntermediateTableAdapter.kind)")
        }
        let config = DurableIngest.producerConfig(KafkaConfig(bootstrapServers: brokers, properties: try KafkaConfig.parseProperties(kafkaOptions)))
        let store = try MessageStore.open(directory: dataDir)
        let producer = try KafkaProducer(config: config)
        let ingest = DurableIngest(store: store, producer: producer)
        let adapter = try IntermediateTableAdapter(manifest: loaded, ingest: ingest, stateDirectory: dataDir)

        // Rows a crash left stored but unconfirmed are looked up on Kafka first, so reading
        // them again from the table answers them from the store instead of publishing twice.
        let settled = try await ingest.recoverInDoubt(source: loaded.source, topic: try loaded.rawTopic, kafka: config)
        print("Adapter \(loaded.name): \(settled.published) in-doubt rows found on Kafka, \(settled.missing) to publish again")

        let signals = AdapterProcess.onTerminationSignals { adapter.shutdown() }
        try await adapter.run { _ in
            print("Adapter \(loaded.name) (\(loaded.kind)) polling into \((try? loaded.rawTopic) ?? "")")
            fflush(nil)
        }
        signals.forEach { $0.cancel() }
        await producer.shutdown()
        try store.close()
    }
}
