import Foundation
import Logging
import MedBusAdapterSDK
import MedBusDispatch
import MedBusHISAdapter
import MedBusHTTPAdapter
import MedBusKafka
import MedBusSOAPAdapter
import MedBusStore
import MedBusTableAdapter

/// Runs the adapters of a set of manifests over one store and one producer, until shutdown.
final class AdapterHost: Sendable {
    private let adapters: [any RunnableAdapter]
    private let ingest: DurableIngest
    private let kafka: KafkaConfig

    /// - Throws: `CommandFailure` for a manifest of an unknown kind or with invalid options.
    init(manifests: [AdapterManifest], store: MessageStore, producer: KafkaProducer, kafka: KafkaConfig) throws {
        let ingest = DurableIngest(store: store, producer: producer, logger: Log.logger("medbus.ingest"))
        self.ingest = ingest
        self.kafka = kafka
        adapters = try manifests.map { manifest in
            let logger = Log.logger("medbus.adapter.\(manifest.kind)")
            do {
                switch manifest.kind {
                case HL7MLLPAdapter.kind: return try HL7MLLPAdapter(manifest: manifest, ingest: ingest, logger: logger)
                case HTTPHISAdapter.kind: return try HTTPHISAdapter(manifest: manifest, ingest: ingest, logger: logger)
                case SOAPHISAdapter.kind: return try SOAPHISAdapter(manifest: manifest, ingest: ingest, logger: logger)
                case HL7FileAdapter.kind: return try HL7FileAdapter(manifest: manifest, ingest: ingest, logger: logger)
                case DispatchAdapter.kind: return try DispatchAdapter(manifest: manifest, ingest: ingest, logger: logger)
                case IntermediateTableAdapter.kind:
                    // Its progress lives beside the message store: <data-dir>/table-<name>.sqlite.
                    let directory = URL(fileURLWithPath: store.databasePath).deletingLastPathComponent().path
                    return try IntermediateTableAdapter(manifest: manifest, ingest: ingest, stateDirectory: directory, logger: logger)
                default: break
                }
            } catch {
                throw CommandFailure("\(manifest.file): \(error)")
            }
            throw CommandFailure("\(manifest.file): unknown adapter kind '\(manifest.kind)' (known: \(HL7MLLPAdapter.kind), \(HTTPHISAdapter.kind), \(SOAPHISAdapter.kind), \(HL7FileAdapter.kind), \(IntermediateTableAdapter.kind), \(DispatchAdapter.kind))")
        }
    }

    /// Adapters answer a sender per message: their producer sends at once (see `DurableIngest.producerConfig`).
    static func producerConfig(_ config: KafkaConfig) -> KafkaConfig {
        DurableIngest.producerConfig(config)
    }

    /// Runs every adapter; prints one line per listener once it is bound. Returns after
    /// `shutdown()` once all have finished their in-flight messages.
    func run() async throws {
        // Messages a crash left between Kafka's acknowledgement and the store's record of it
        // are settled before any sender is served, so their retransmissions are not republished.
        for adapter in adapters {
            let manifest = adapter.manifest
            let settled = try await ingest.recoverInDoubt(source: manifest.source, topic: try manifest.rawTopic, kafka: kafka)
            if settled.published + settled.missing > 0 {
                print("Adapter \(manifest.name): \(settled.published) in-doubt messages found on Kafka, \(settled.missing) to be retransmitted")
            }
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for adapter in adapters {
                group.addTask {
                    try await adapter.run { port in
                        print(AdapterProcess.boundLine(adapter.manifest, port: port))
                        fflush(nil)
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    func shutdown() {
        adapters.forEach { $0.shutdown() }
    }
}
