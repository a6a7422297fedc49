import ArgumentParser
import Foundation
import MedBusInsurers
import MedBusKafka

/// `medbus simulate nhsa|commercial`: the reference insurers the demo and the tests settle
/// against. Real insurers replace them by serving the same HTTP envelope or consuming the same
/// topics (see Adapters/insurers/README.md).
struct SimulateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "simulate",
        abstract: "Run a reference insurer: the national platform over HTTP, or a commercial insurer on Kafka.",
        subcommands: [SimulateNHSACommand.self, SimulateCommercialCommand.self, SimulateRxCentreCommand.self]
    )
}

struct SimulateNHSACommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "nhsa",
        abstract: "Serve the national insurance platform's JSON envelope (9001, 1101, 2201/2202, 2204–2208, 2301–2305, 2401/2404, 2601, 3201) from a policy file.",
        discussion: """
        POST envelopes to http://HOST:PORT/fsi/api/rsfComIfsService/callService. GET /_ledger shows \
        settlements, per-person accumulators and the transaction log; POST /_faults {"faults": ["2207:error-after@1"]} \
        replaces the injected faults, DELETE /_faults clears them, POST /_signins/expire expires \
        every sign_no. Everything is in memory: a restart starts an empty year.
        """
    )

    @Option(help: "Address to listen on, host:port (port 0: any free port, printed at start).")
    var listen: String = "127.0.0.1:8091"

    @Option(help: "Basic-insurance policy file, e.g. Adapters/insurers/policy-shandong-demo.yaml.")
    var policy: String

    @Option(help: "Demo persons file (certno → psn_no, insutype, assistance). Without it, any certno gets a synthesized person.")
    var persons: String?

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault (repeatable), e.g. 2207:error-after@1, delay=200, 2206:decline=REASON.", valueName: "[INFNO:]ACTION[=ARG][@COUNT]"))
    var faults: [String] = []

    @Option(help: "Area code written into setl_id, inf_refmsgid and clr_optins.")
    var area: String = "370100"

    @Flag(help: "Accept any sign_no (no 9001 needed first).")
    var noSignIn = false

    func run() async throws {
        let logger = Log.logger("medbus.simulate.nhsa")
        guard let colon = listen.lastIndex(of: ":"), let port = Int(listen[listen.index(after: colon)...]), (0...65535).contains(port) else {
            throw ValidationError("--listen must be host:port")
        }
        let server: NHSASimulatorServer
        do {
            let policy = try BasicInsurancePolicy.load(path: policy)
            let directory = try persons.map(PersonDirectory.load) ?? PersonDirectory()
            let plan = FaultPlan(try faults.map(SimulatorFault.init(parsing:)))
            let simulator = NHSAPlatformSimulator(policy: policy, persons: directory, requireSignIn: !noSignIn, areaCode: area)
            server = NHSASimulatorServer(simulator: simulator, faults: plan, host: String(listen[..<colon]), port: port, logger: logger)
        } catch let error as InsurerConfigError {
            throw CommandFailure("\(error)")
        } catch let error as SimulatorFaultError {
            throw CommandFailure("\(error)")
        }
        let host = String(listen[..<colon])
        try await runUntilTerminated(nil, background: [{
            try await withTaskCancellationHandler {
                try await server.run { port in
                    print("NHSA simulator listening on http://\(host):\(port)\(NHSASimulatorServer.defaultPath)")
                    fflush(nil)
                }
            } onCancel: { server.shutdown() }
        }], logger: logger)
    }
}

struct SimulateCommercialCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "commercial",
        abstract: "Answer commercial direct-pay claims on insurer.<id>.requests with a city-level inclusive (惠民保) policy.",
        discussion: """
        Replies go to insurer.<id>.replies with the request's key and medbus-correlation-id = msgid. \
        Claims and reversals are idempotent by msgid. Everything is in memory.
        """
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions

    @Option(help: "The insurer id: topics insurer.<id>.requests and insurer.<id>.replies.")
    var insurer: String

    @Option(help: "Commercial policy file, e.g. Adapters/insurers/policy-huiminbao-demo.yaml.")
    var policy: String

    @Option(name: .customLong("fault"), help: ArgumentHelp("Inject a fault (repeatable): delay=MS, drop, drop-after, decline[=REASON], duplicate, out-of-order; KEY is claim or reversal.", valueName: "[TYPE:]ACTION[=ARG][@COUNT]"))
    var faults: [String] = []

    @Option(help: "On SIGTERM, write the claim book (claims, the msgids that claimed each, approved amounts) to this JSON file.")
    var ledger: String?

    func run() async throws {
        let logger = Log.logger("medbus.simulate.commercial")
        let config = try kafka.config(store: store)
        _ = try await connect(config)
        let simulator: CommercialInsurerSimulator
        do {
            let policy = try CommercialPolicy.load(path: policy)
            simulator = try CommercialInsurerSimulator(insurer: insurer, policy: policy, kafka: config, faults: FaultPlan(try faults.map(SimulatorFault.init(parsing:))), logger: logger)
        } catch let error as InsurerConfigError {
            throw CommandFailure("\(error)")
        } catch let error as SimulatorFaultError {
            throw CommandFailure("\(error)")
        } catch let error as KafkaError {
            throw CommandFailure("Kafka: \(error.message)")
        }
        print("Commercial insurer \(insurer) answering insurer.\(insurer).requests")
        fflush(nil)
        try await runUntilTerminated(nil, background: [{
            try await withTaskCancellationHandler {
                try await simulator.run()
            } onCancel: { Task { await simulator.shutdown() } }
        }], logger: logger)
        if let ledger {
            do { try await simulator.ledgerJSON.jsonText.write(toFile: ledger, atomically: true, encoding: .utf8) } catch {
                throw CommandFailure("--ledger \(ledger): \(error)")
            }
        }
    }
}
