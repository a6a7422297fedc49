import ArgumentParser
import MedBusAdapterSDK
import MedBusHISAdapter

/// `medbus-adapter-mllp MANIFEST --brokers B`: one hl7v2-mllp adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: hl7v2-mllp` manifest it is given).
@main
struct MLLPAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-mllp",
        abstract: "Receive HL7 v2 over MLLP, publish each message to raw.his.<hospital>, answer with an ACK once it is on Kafka.",
        discussion: "Stops on SIGINT/SIGTERM once the messages in flight are answered."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        try await process.run(kind: HL7MLLPAdapter.kind) { try HL7MLLPAdapter(manifest: $0, ingest: $1) }
    }
}
