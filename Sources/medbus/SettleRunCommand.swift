import ArgumentParser
import Foundation
import MedBusKafka

/// `medbus settle run`: the settlement orchestrator, its API and the NHSA insurer adapter — what
/// `medbus serve` runs for settlement — as a process of its own against an external cluster, so
/// it can be deployed, restarted (or killed) apart from the adapters and the router. The topics
/// must exist (`medbus serve` or `medbus topics` provisions them).
struct SettleRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the settlement orchestrator, its HTTP API and the NHSA insurer adapter on their own (saga log DATA_DIR/settlement.sqlite).",
        discussion: "On restart every unfinished settlement resumes from its last committed step. Reference insurers run separately (`medbus simulate nhsa|commercial`) unless --simulators is given."
    )
    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup(title: "Settlement") var settlement: SettlementOptions

    func validate() throws {
        if settlement.noSettlement { throw ValidationError("--no-settlement is for `medbus serve`; this command runs only settlement") }
    }

    func run() async throws {
        let logger = Log.logger("medbus.settlement")
        let config = try kafka.config(store: store)
        _ = try await connect(config)
        let services = try SettlementServices(options: settlement, kafka: config, embedded: false, dataDirectory: store.dataDirectory, defaultHospitals: [])
        print("Settlement orchestrator running, saga log in \(store.dataDirectory)")
        fflush(nil)
        try await runUntilTerminated(nil, background: services.background, logger: logger)
    }
}
