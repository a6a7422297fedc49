import ArgumentParser
import MedBusAdapterSDK
import MedBusHISAdapter

/// `medbus-adapter-file MANIFEST --brokers B`: one hl7v2-file adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: hl7v2-file` manifest it is given).
@main
struct FileAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-file",
        abstract: "Watch a folder for HL7 v2 files and publish each message to raw.his.<hospital> once.",
        discussion: "Stops on SIGINT/SIGTERM after the file in progress."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        try await process.run(kind: HL7FileAdapter.kind) { try HL7FileAdapter(manifest: $0, ingest: $1) }
    }
}
