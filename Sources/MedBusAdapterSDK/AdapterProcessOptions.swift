import ArgumentParser

/// The command line every `medbus-adapter-<kind>` executable takes — `MANIFEST --brokers B
/// [--kafka-option k=v]… [--data-dir D]` — and what it then does (`AdapterProcess.run`). An
/// executable is its `@OptionGroup` plus the adapter type it builds.
public struct AdapterProcessOptions: ParsableArguments {
    @Argument(help: "Adapter manifest (YAML) of this program's kind.") public var manifest: String
    @Option(help: "Kafka bootstrap servers.") public var brokers: String
    @Option(name: .customLong("kafka-option"), help: "librdkafka property key=value (repeatable).") public var kafkaOptions: [String] = []
    @Option(help: "Directory of the message store (medbus.sqlite) and the adapter's own state.") public var dataDir = "data"

    public init() {}

    /// Runs the manifest's adapter until SIGINT/SIGTERM; see `AdapterProcess.run`.
    public func run(kind: String, makeAdapter: (AdapterManifest, DurableIngest) throws -> any RunnableAdapter) async throws {
        try await AdapterProcess.run(manifestPath: manifest, kind: kind, brokers: brokers, kafkaOptions: kafkaOptions,
                                     dataDirectory: dataDir, makeAdapter: makeAdapter)
    }
}
