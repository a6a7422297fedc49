import ArgumentParser
import MedBusAdapterSDK
import MedBusDispatch

/// `medbus-adapter-dispatch MANIFEST --brokers B`: one dispatch-120 adapter as its own process
/// (`medbus serve` runs the same adapter for every `kind: dispatch-120` manifest it is given).
@main
struct DispatchAdapterMain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus-adapter-dispatch",
        abstract: "Receive a 120 centre's CAD events (TCP lines, HTTP) and publish each to dispatch.events once.",
        discussion: "Stops on SIGINT/SIGTERM once the events in flight are acknowledged. Task timelines and pre-arrival notices run in medbus serve."
    )

    @OptionGroup var process: AdapterProcessOptions

    func run() async throws {
        try await process.run(kind: DispatchAdapter.kind) { try DispatchAdapter(manifest: $0, ingest: $1) }
    }
}
