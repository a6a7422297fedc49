import Dispatch
import Foundation
import Logging
import MedBusKafka
import MedBusStore

/// What a host needs of an adapter, whatever its protocol: `medbus serve`, `medbus adapter run` and
/// every `medbus-adapter-*` executable run adapters through it.
public protocol RunnableAdapter: Sendable {
    var manifest: AdapterManifest { get }
    /// Serves until `shutdown()` has let the messages in flight finish; `onBound` gets the bound port.
    func run(onBound: @escaping @Sendable (Int) -> Void) async throws
    func shutdown()
}

/// What every adapter running as its own process (`medbus-adapter-mllp`, `-http`, `-file`,
/// `-dispatch`, `-table`, `-soap`, a vendor's) does around the adapter itself: log to standard error,
/// stop gracefully on a signal, and — for the shipped kinds — the whole life of one manifest (`run`).
public enum AdapterProcess {
    /// Logs to standard error at `MEDBUS_LOG_LEVEL` (default `info`).
    public static func bootstrapLogging() {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = ProcessInfo.processInfo.environment["MEDBUS_LOG_LEVEL"].flatMap { Logger.Level(rawValue: $0) } ?? .info
            return handler
        }
    }

    /// Calls `shutdown` on SIGINT and SIGTERM instead of dying, so the adapter can finish the work
    /// in progress. Keep the returned sources until the adapter has stopped, then cancel them.
    public static func onTerminationSignals(_ shutdown: @escaping @Sendable () -> Void) -> [any DispatchSourceSignal] {
        [SIGINT, SIGTERM].map { sig in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig)
            source.setEventHandler(handler: shutdown)
            source.resume()
            return source
        }
    }

    /// The line a host prints once an adapter is bound; tests and operators wait for it.
    /// "Adapter <name> (<kind>) listening on <host>:<port>" — or "watching <directory>" for a file
    /// adapter, "polling into <topic>" for an intermediate-table adapter.
    public static func boundLine(_ manifest: AdapterManifest, port: Int) -> String {
        let activity = manifest.kind == "intermediate-table" ? "polling into \((try? manifest.rawTopic) ?? "")"
            : manifest.options["directory"].map { "watching \($0)" } ?? "listening on \(manifest.host):\(port)"
        return "Adapter \(manifest.name) (\(manifest.kind)) \(activity)"
    }

    /// Runs the adapter of one manifest of `kind` as this process until SIGINT/SIGTERM: loads the
    /// manifest, opens the message store in `dataDirectory` (`medbus.sqlite`, synced as `storeSync`), settles the messages a
    /// crash left in doubt, serves, then lets the messages in flight finish.
    ///
    /// - Parameter makeAdapter: builds the adapter of the loaded manifest over the process's ingest.
    /// - Throws: `ManifestError` for an unreadable or invalid manifest or one of another kind; what
    ///   `makeAdapter` throws for invalid options; store and Kafka errors.
    public static func run(
        manifestPath: String, kind: String, brokers: String, kafkaOptions: [String], dataDirectory: String, storeSync: StoreSync = .full,
        makeAdapter: (AdapterManifest, DurableIngest) throws -> any RunnableAdapter
    ) async throws {
        bootstrapLogging()
        let manifest = try AdapterManifest.load(path: manifestPath)
        guard manifest.kind == kind else {
            throw ManifestError(file: manifestPath, message: "kind is '\(manifest.kind)'; this program runs kind \(kind)")
        }
        let config = DurableIngest.producerConfig(KafkaConfig(bootstrapServers: brokers, properties: try KafkaConfig.parseProperties(kafkaOptions)))
        let store = try MessageStore.open(directory: dataDirectory, sync: storeSync)
        let producer = try KafkaProducer(config: config)
        let ingest = DurableIngest(store: store, producer: producer)
        let adapter: any RunnableAdapter
        do { adapter = try makeAdapter(manifest, ingest) } catch { throw ManifestError(file: manifestPath, message: "\(error)") }

        // Messages a crash left stored but unconfirmed are looked up on Kafka first, so their
        // retransmissions are answered from the store instead of being published twice.
        let settled = try await ingest.recoverInDoubt(source: manifest.source, topic: try manifest.rawTopic, kafka: config)
        print("Adapter \(manifest.name): \(settled.published) in-doubt messages found on Kafka, \(settled.missing) to be retransmitted")

        let signals = onTerminationSignals { adapter.shutdown() }
        try await adapter.run { port in
            print(boundLine(manifest, port: port))
            fflush(nil)
        }
        signals.forEach { $0.cancel() }
        await producer.shutdown()
        try store.close()
    }
}
