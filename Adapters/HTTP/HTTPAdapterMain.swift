import ArgumentParser
import MedBusAdapterSDK
import MedBusHTTPAdapter

/// `medbus-adapter-http MANIFEST --brokers B`: one http-his adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: http-his` manifest it is given).
@main
struct HTTPAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-http",
        abstract: "Receive FHIR R4 JSON and HL7 v3 XML over HTTP and publish each message to raw.his.<hospital>.",
        discussion: "Stops on SIGINT/SIGTERM once the requests in flight are answered."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        try await process.run(kind: HTTPHISAdapter.kind) { try HTTPHISAdapter(manifest: $0, ingest: $1) }
    }
}
