import ArgumentParser
import MedBusAdapterSDK
import MedBusTableAdapter

/// `medbus-adapter-table MANIFEST --brokers B`: one intermediate-table adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: intermediate-table` manifest it is given).
@main
struct TableAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-table",
        abstract: "Poll a HIS intermediate table and publish each row once to raw.his.<hospital>.",
        discussion: "Stops on SIGINT/SIGTERM after the row in progress. State: <data-dir>/medbus.sqlite (messages) and <data-dir>/table-<name>.sqlite (progress)."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        // Rows a crash left stored but unconfirmed are settled on Kafka first (AdapterProcess.run), so
        // reading them again from the table answers them from the store instead of publishing twice.
        try await process.run(kind: IntermediateTableAdapter.kind) { try IntermediateTableAdapter(manifest: $0, ingest: $1, stateDirectory: process.dataDir) }
    }
}
