import ArgumentParser
import Foundation
import Logging
import MedBusInsurers
import MedBusKafka
import MedBusSettlement
import MedBusSettlementAPI

/// What `medbus serve` runs for one-stop settlement: the orchestrator (saga log
/// `<data-dir>/settlement.sqlite`), its HTTP API, the NHSA insurer adapter
/// (`Adapters/insurers/insurer-nhsa.yaml`) and — for the demo, on by default with the embedded
/// cluster — both reference insurers: `simulate nhsa` on the adapter's URL and `simulate
/// commercial` for each `--commercial-insurer`.
struct SettlementOptions: ParsableArguments {
    @Flag(name: .customLong("no-settlement"), help: "Do not run the settlement orchestrator, its API and the insurer adapter.")
    var noSettlement = false

    @Option(name: .customLong("settlement-api"), help: "Address of the settlement HTTP API (POST /v1/settlements…), host:port.")
    var api: String = "127.0.0.1:8092"

    @Option(name: .customLong("nhsa-adapter"), help: "Manifest of the NHSA insurer adapter.")
    var nhsaAdapter: String = "Adapters/insurers/insurer-nhsa.yaml"

    @Flag(inversion: .prefixedNo, help: "Run the reference insurers (simulate nhsa on the adapter's URL, simulate commercial). Default: on with the embedded cluster, off with --brokers.")
    var simulators: Bool?

    @Option(name: .customLong("nhsa-policy"), help: "Basic-insurance policy of the NHSA simulator.")
    var nhsaPolicy: String = "Adapters/insurers/policy-shandong-demo.yaml"

    @Option(name: .customLong("commercial-insurer"), help: "A commercial insurer id (topics insurer.<id>.requests/.replies, settlement.claims.<id>); repeatable.")
    var commercialInsurers: [String] = ["hmb"]

    @Option(name: .customLong("commercial-policy"), help: "Policy of the commercial simulators.")
    var commercialPolicy: String = "Adapters/insurers/policy-huiminbao-demo.yaml"

    @Option(name: .customLong("settlement-hospital"), help: "A fixmedins_code to settle for (repeatable). Default: the senders of the HIS adapter manifests; requests from others are refused (unknown-hospital, dlq.settlement).")
    var hospitals: [String] = []
}

/// The settlement system, built before the topics are provisioned and run after.
struct SettlementServices {
    let topics: [NewTopic]
    let orchestrator: SettlementOrchestrator
    let background: [@Sendable () async throws -> Void]

    /// - Throws: `CommandFailure` for an unreadable manifest, policy or address.
    init(options: SettlementOptions, kafka: KafkaConfig, embedded: Bool, dataDirectory: String, defaultHospitals: [String]) throws {
        var tuned = kafka
        if embedded {
            // Every saga step is a request→reply hop; the embedded (mock) cluster answers a fetch
            // only after fetch.wait.max.ms when it had no data (default 500 ms per hop).
            tuned.properties["fetch.wait.max.ms"] = kafka.properties["fetch.wait.max.ms"] ?? "10"
        }
        let kafka = tuned
        let (apiHost, apiPort) = try Self.hostPort(options.api, option: "--settlement-api")
        let manifest: NHSAAdapterManifest
        do { manifest = try NHSAAdapterManifest.load(path: options.nhsaAdapter) } catch { throw CommandFailure("\(error)") }
        var configuration = SettlementConfiguration(commercialInsurers: options.commercialInsurers,
                                                    hospitals: Set(options.hospitals.isEmpty ? defaultHospitals : options.hospitals))
        configuration.platform.opter = manifest.opter
        configuration.platform.opterName = manifest.opterName
        configuration.platform.opterType = manifest.opterType
        do {
            orchestrator = try SettlementOrchestrator(kafka: kafka, storeDirectory: dataDirectory, configuration: configuration,
                                                      logger: Log.logger("medbus.settlement"))
        } catch {
            throw CommandFailure("settlement: \(error)")
        }
        var topics = [manifest.requestsTopic, manifest.repliesTopic, "settlement.requests", "settlement.results", "dlq.settlement"]
        for insurer in options.commercialInsurers {
            topics += ["insurer.\(insurer).requests", "insurer.\(insurer).replies", "settlement.claims.\(insurer)"]
        }
        self.topics = topics.map { NewTopic(name: $0, partitions: 12, replicationFactor: embedded ? 1 : 3) }

        var background: [@Sendable () async throws -> Void] = []
        let orchestrator = self.orchestrator
        background.append { try await orchestrator.run() }
        let api = SettlementAPI(orchestrator: orchestrator, host: apiHost, port: apiPort, logger: Log.logger("medbus.settlement.api"))
        background.append {
            try await withTaskCancellationHandler {
                try await api.run { port in
                    print("Settlement API listening on http://\(apiHost):\(port)/v1/settlements")
                    fflush(nil)
                }
            } onCancel: { api.shutdown() }
        }
        background.append {
            let adapter = try NHSAInsurerAdapter(manifest: manifest, kafka: kafka, logger: Log.logger("medbus.insurer.nhsa"))
            print("Insurer adapter \(manifest.name) calling \(manifest.url)")
            try await withTaskCancellationHandler { try await adapter.run() } onCancel: { Task { await adapter.shutdown() } }
        }
        if options.simulators ?? embedded {
            background += try Self.simulators(options: options, manifest: manifest, kafka: kafka)
        }
        self.background = background
    }

    /// The reference insurers: the NHSA platform on the adapter's URL, a commercial insurer per id.
    private static func simulators(options: SettlementOptions, manifest: NHSAAdapterManifest, kafka: KafkaConfig) throws -> [@Sendable () async throws -> Void] {
        guard let url = URL(string: manifest.url), let host = url.host, let port = url.port else {
            throw CommandFailure("\(manifest.file): url must name host and port for the NHSA simulator")
        }
        let basic: BasicInsurancePolicy
        let commercial: CommercialPolicy
        do {
            basic = try BasicInsurancePolicy.load(path: options.nhsaPolicy)
            commercial = try CommercialPolicy.load(path: options.commercialPolicy)
        } catch {
            throw CommandFailure("\(error)")
        }
        let server = NHSASimulatorServer(simulator: NHSAPlatformSimulator(policy: basic, persons: PersonDirectory()), host: host, port: port,
                                         path: url.path, logger: Log.logger("medbus.simulate.nhsa"))
        var services: [@Sendable () async throws -> Void] = [{
            try await withTaskCancellationHandler {
                try await server.run { port in
                    print("NHSA simulator (demo) listening on http://\(host):\(port)\(url.path)")
                    fflush(nil)
                }
            } onCancel: { server.shutdown() }
        }]
        for insurer in options.commercialInsurers {
            services.append {
                let simulator = try CommercialInsurerSimulator(insurer: insurer, policy: commercial, kafka: kafka, logger: Log.logger("medbus.simulate.commercial"))
                print("Commercial insurer simulator (demo) \(insurer) answering insurer.\(insurer).requests")
                try await withTaskCancellationHandler { try await simulator.run() } onCancel: { Task { await simulator.shutdown() } }
            }
        }
        return services
    }

    static func hostPort(_ text: String, option: String) throws -> (String, Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw CommandFailure("\(option) must be host:port")
        }
        return (String(text[..<colon]), port)
    }
}
