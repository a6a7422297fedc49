import ArgumentParser
import MedBusStore

/// The command line every `medbus-adapter-<kind>` executable takes — `MANIFEST --brokers B
/// [--kafka-option k=v]… [--data-dir D] [--store-sync full|normal]` — and what it then does (`AdapterProcess.run`). An
/// executable is its `@OptionGroup` plus the adapter type it builds.
public struct AdapterProcessOptions: ParsableArguments {
    @Argument(help: "Adapter manifest (YAML) of this program's kind.") public var manifest: String
    @Option(help: "Kafka bootstrap servers.") public var brokers: String
    @Option(name: .customLong("kafka-option"), help: "librdkafka property key=value (repeatable).") public var kafkaOptions: [String] = []
    @Option(help: "Directory of the message store (medbus.sqlite) and the adapter's own state.") public var dataDir = "data"
    @Option(help: StoreSync.help) public var storeSync: StoreSync = .full

    public init() {}

    /// Runs the manifest's adapter until SIGINT/SIGTERM; see `AdapterProcess.run`.
    public func run(kind: String, makeAdapter: (AdapterManifest, DurableIngest) throws -> any RunnableAdapter) async throws {
        try await AdapterProcess.run(manifestPath: manifest, kind: kind, brokers: brokers, kafkaOptions: kafkaOptions,
                                     dataDirectory: dataDir, storeSync: storeSync, makeAdapter: makeAdapter)
    }
}

extension StoreSync: ExpressibleByArgument {
    /// The help of every `--store-sync` option (adapter executables, `medbus adapter run`, `medbus serve`).
    public static let help = ArgumentHelp(
        "How the message store's commits wait for the disk: full (fsync per commit; survives power loss) or normal (survives kill -9 of the process, not an OS crash; only with a replicated Kafka cluster, see README).",
        valueName: "full|normal")
}
