import ArgumentParser
import Foundation
import MedBusAdapterSDK
import MedBusKafka
import MedBusSOAPAdapter
import MedBusStore

/// `medbus-adapter-soap MANIFEST --brokers B`: one SOAP/WebService HIS adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: soap-his` manifest).
@main
struct SOAPAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-soap",
        abstract: "Serve a SOAP 1.1/1.2 WebService that publishes HL7 v3 messages to raw.his.<hospital>.",
        discussion: "WSDL at GET <path>?wsdl. Stops on SIGINT/SIGTERM once requests in flight are answered. Messages are stored in <data-dir>/medbus.sqlite."
    )

    @Argument(help: "Adapter manifest (kind: soap-his).") var manifest: String
    @Option(help: "Kafka bootstrap servers.") var brokers: String
    @Option(name: .customLong("kafka-option"), help: "librdkafka property key=value (repeatable).") var kafkaOptions: [String] = []
    @Option(help: "Directory of the message store.") var dataDir = "data"

    func run() async throws {
        AdapterProcess.bootstrapLogging()
        let loaded = try AdapterManifest.load(path: manifest)
        guard loaded.kind == SOAPHISAdapter.kind else {
            throw ValidationError("\(manifest): kind is '\(loaded.kind)'; this program runs kind \(SOAPHISAdapter.kind)")
        }
        var config = KafkaConfig(bootstrapServers: brokers, properties: try KafkaConfig.parseProperties(kafkaOptions))
        config.properties["linger.ms"] = config.properties["linger.ms"] ?? "1"
        let store = try MessageStore.open(directory: dataDir)
        let producer = try KafkaProducer(config: config)
        let ingest = DurableIngest(store: store, producer: producer)
        let adapter = try SOAPHISAdapter(manifest: loaded, ingest: ingest)

        // Messages a crash left stored but unconfirmed are looked up on Kafka first, so their
        // retransmissions are answered from the store instead of being published twice.
        let settled = try await ingest.recoverInDoubt(source: loaded.source, topic: try loaded.rawTopic, kafka: config)
        print("Adapter \(loaded.name): \(settled.published) in-doubt messages found on Kafka, \(settled.missing) to be retransmitted")

        let signals = AdapterProcess.onTerminationSignals { adapter.shutdown() }
        try await adapter.run { port in
            print("Adapter \(loaded.name) (\(loaded.kind)) listening on \(loaded.host):\(port)")
            fflush(nil)
        }
        signals.forEach { $0.cancel() }
        await producer.shutdown()
        try store.close()
    }
}
