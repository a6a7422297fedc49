import ArgumentParser
import MedBusAdapterSDK
import MedBusSOAPAdapter

/// `medbus-adapter-soap MANIFEST --brokers B`: one SOAP/WebService HIS adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: soap-his` manifest it is given).
@main
struct SOAPAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-soap",
        abstract: "Serve a SOAP 1.1/1.2 WebService that publishes HL7 v3 messages to raw.his.<hospital>.",
        discussion: "WSDL at GET <path>?wsdl. Stops on SIGINT/SIGTERM once requests in flight are answered. Messages are stored in <data-dir>/medbus.sqlite."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        try await process.run(kind: SOAPHISAdapter.kind) { try SOAPHISAdapter(manifest: $0, ingest: $1) }
    }
}
