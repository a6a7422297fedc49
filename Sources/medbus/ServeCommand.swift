import ArgumentParser
import Dispatch
import Foundation
import MedBusAdapterSDK
import MedBusAdmin
import MedBusAdminViews
import MedBusCore
import MedBusKafka
import Logging
import MedBusOutbound
import MedBusRegistry
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
    @OptionGroup var storeSync: StoreSyncOption
    @OptionGroup(title: "Admin API") var adminAPI: AdminOptions
    @OptionGroup(title: "Settlement") var settlement: SettlementOptions
    @OptionGroup(title: "Prescriptions") var prescriptions: PrescriptionOptions

    @Option(help: "Topics to create at start (see deploy/topics.yaml).")
    var topics: String = "deploy/topics.yaml"

    @Option(help: "Folder of adapter manifests (*.yaml); every one is run. Repeatable; names are unique across folders.")
    var adapters: [String] = Self.defaultAdapterFolders

    /// The shipped examples that need nothing outside MedBus (`make run`): HL7 v2 over MLLP, HTTP, 120 dispatch.
    /// Each adapter kind keeps its manifests in `Adapters/<Kind>/manifests/`.
    static let defaultAdapterFolders = ["Adapters/HL7MLLP/manifests", "Adapters/HTTP/manifests", "Adapters/Dispatch120/manifests"]

    @Option(help: "Folder of outbound destination manifests (*.yaml); every one is run.")
    var destinations: String = "Adapters/destinations"

    @Option(help: "Folder of mapping files; those whose name the registry does not know yet are published at start.")
    var mappings: String = "Mappings"

    @Flag(name: .customLong("no-router"), help: "Do not run the routing core in this process (run `medbus route` elsewhere).")
    var noRouter = false

    @Option(name: .customLong("embedded-brokers"), help: "Broker count of the embedded cluster.")
    var embeddedBrokers: Int = 3

    func validate() throws {
        guard (1...16).contains(embeddedBrokers) else { throw ValidationError("--embedded-brokers must be between 1 and 16") }
    }

    func run() async throws {
        let logger = Log.logger("medbus.serve")
        try storeSync.check(kafka)
        let messageStore = try store.open(createKeyIfMissing: true, sync: storeSync.level)
        let topicSpecs: [NewTopic]
        let manifests: [AdapterManifest]
        let destinationManifests: [DestinationManifest]
        do {
            topicSpecs = FileManager.default.fileExists(atPath: topics) ? try TopicsFile.load(path: topics) : []
            manifests = try AdapterManifest.loadAll(directories: adapters)
            destinationManifests = try DestinationManifest.loadAll(directory: destinations)
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
        let settlementServices = settlement.noSettlement ? nil : try SettlementServices(
            options: settlement, kafka: config, embedded: embedded != nil, dataDirectory: store.dataDirectory,
            defaultHospitals: manifests.map(\.sender).filter { $0.count == 12 })
        let rx = try prescriptions.load().map {
            try PrescriptionServices(configuration: $0, kafka: config, embedded: embedded != nil, dataDirectory: store.dataDirectory)
        }
        let dispatch = try DispatchServe(manifests: manifests, destinationTopics: destinationManifests.map(\.topic), dataDirectory: store.dataDirectory, kafka: config)
        // Topics this process needs beyond the topics file: the mapping registry's, each adapter's
        // raw topic (so a hospital's first message has somewhere to go) and each destination's (so
        // its dispatcher can subscribe before the first record).
        let listed = Set(topicSpecs.map(\.name))
        var ownTopics = [MappingDistribution.topicSpec()]
        ownTopics += try Set(manifests.map { try $0.rawTopic }).sorted().map { NewTopic(name: $0, partitions: 24, replicationFactor: 3) }
        ownTopics += Set(destinationManifests.map(\.topic)).sorted().map { NewTopic(name: $0, partitions: 12, replicationFactor: 3) }
        ownTopics += (settlementServices?.topics ?? []).filter { topic in !ownTopics.contains { $0.name == topic.name } }
        ownTopics += dispatch.topics.filter { topic in !ownTopics.contains { $0.name == topic.name } }
        ownTopics += (rx?.topics ?? []).filter { topic in !ownTopics.contains { $0.name == topic.name } }
        for (topic, outcome) in try await TopicProvisioner(admin: admin, embedded: embedded).apply(topicSpecs + ownTopics.filter { !listed.contains($0.name) }) {
            logger.info("topic", metadata: ["topic": "\(topic)", "outcome": "\(outcome)"])
        }
        let producer = try KafkaProducer(config: AdapterHost.producerConfig(config), logger: Log.logger("medbus.kafka.producer"))
        let host = try AdapterHost(manifests: manifests, store: messageStore, producer: producer, kafka: config)

        var background: [@Sendable () async throws -> Void] = []
        for manifest in destinationManifests {
            let dispatcher: OutboundDispatcher
            do { dispatcher = try manifest.makeDispatcher(kafka: config, logger: Log.logger("medbus.outbound")) } catch { throw CommandFailure("\(error)") }
            background.append { try await dispatcher.run() }
            print("Destination \(manifest.name) (\(manifest.kind.rawValue)) delivering \(manifest.topic)")
        }
        if !noRouter {
            let registry = try openRegistry(store)
            let seeded = try await seedMappings(from: mappings, registry: registry, config: config)
            if !seeded.isEmpty { print("Published \(seeded.count) mappings from \(mappings): \(seeded.joined(separator: ", "))") }
            let inputs = ["^raw\\..*"] + (dispatch.timeline == nil ? [] : [DispatchServe.routerInput]) + (rx == nil ? [] : [PrescriptionServices.routerInput])
            let router = routingService(config: config, instance: "serve-\(ProcessInfo.processInfo.hostName)", inputs: inputs)
            background.append { try await router.run() }
        }

        background += settlementServices?.background ?? []
        if let timeline = dispatch.timeline { background.append(timeline) }
        if let rx { background.append(rx.background) }
        // The operator's views of what this process runs, and the depth of every dead-letter topic it provisioned.
        let views: [any AdminRoutes] = (settlementServices.map { [SettlementViews(orchestrator: $0.orchestrator)] } ?? [])
            + (rx.map { [PrescriptionViews(ledger: $0.ledger)] } ?? []) + (dispatch.store.map { [DispatchViews(store: $0)] } ?? [])
        let deadLetterTopics = Set((topicSpecs + ownTopics).map(\.name).filter { $0.hasPrefix("dlq.") }).sorted()
        background += try adminServices(adminAPI, store: store, messageStore: messageStore, kafka: config, extraRoutes: views,
                                        deadLetterTopics: deadLetterTopics, forwardAuditTo: producer)

        let mode = embedded == nil ? "external cluster" : "embedded cluster, in memory"
        print("MedBus \(MedBusVersion.current) serving")
        print("Kafka bootstrap: \(config.bootstrapServers) (\(mode))")
        print("Store: \(messageStore.databasePath)")
        fflush(nil)
        logger.info("ready", metadata: ["kafka": "\(config.bootstrapServers)", "mode": "\(mode)", "store": "\(messageStore.databasePath)"])

        try await runUntilTerminated(host, background: background, logger: logger)
        await producer.shutdown()
        try? messageStore.close()
    }
}

/// Runs the adapters and the background services (router, destinations) until SIGINT/SIGTERM.
/// On a signal the adapters shut down gracefully (each finishes the messages in flight) and the
/// background services are cancelled (the router aborts its open transaction; what it had not
/// committed is routed again on the next start). Any of them failing, such as a port already in
/// use, ends the command at once with its error.
func runUntilTerminated(_ host: AdapterHost?, background: [@Sendable () async throws -> Void] = [], logger: Logger) async throws {
    let services = Task {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for service in background { group.addTask { try await service() } }
            try await group.waitForAll()
        }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
        if let host { group.addTask { try await host.run() } }
        group.addTask {
            do { try await services.value } catch is CancellationError {}
        }
        group.addTask {
            guard let signal = await Signals.waitForTermination() else { return }
            logger.info("shutting down", metadata: ["signal": "\(signal)"])
            host?.shutdown()
            services.cancel()
        }
        do {
            try await group.waitForAll()
        } catch {
            host?.shutdown()
            services.cancel()
            throw error
        }
    }
}

/// Waits for SIGINT or SIGTERM without blocking a cooperative thread.
enum Signals {
    /// Dispatch sources must stay alive while armed.
    nonisolated(unsafe) private static var sources: [DispatchSourceSignal] = []

    /// The signal received, or nil when the waiting task was cancelled.
    static func waitForTermination() async -> Int32? {
        let waiter = SignalWaiter()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Int32?, Never>) in
                waiter.arm(continuation)
                let queue = DispatchQueue(label: "medbus.signals")
                for sig in [SIGINT, SIGTERM] {
                    signal(sig, SIG_IGN)
                    let source = DispatchSource.makeSignalSource(signal: sig, queue: queue)
                    source.setEventHandler { waiter.finish(sig) }
                    source.resume()
                    sources.append(source)
                }
            }
        } onCancel: {
            waiter.finish(nil)
        }
    }
}

/// Resumes a continuation once, whichever comes first: a signal or cancellation.
final class SignalWaiter: @unchecked Sendable {
    private let lock = NSLock()
    private var continuation: CheckedContinuation<Int32?, Never>?
    private var result: Int32??

    func arm(_ continuation: CheckedContinuation<Int32?, Never>) {
        let early: Int32?? = lock.withLock {
            if result == nil { self.continuation = continuation }
            return result
        }
        if let early { continuation.resume(returning: early) }
    }

    func finish(_ signal: Int32?) {
        let waiting: CheckedContinuation<Int32?, Never>? = lock.withLock {
            guard result == nil else { return nil }
            result = .some(signal)
            defer { continuation = nil }
            return continuation
        }
        waiting?.resume(returning: signal)
    }
}
