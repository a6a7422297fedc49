import ArgumentParser
import Foundation
import MedBusAdminViews
import MedBusCore
import MedBusKafka
import MedBusPrescription

/// `medbus serve`'s prescription options: the service runs when its manifest exists.
struct PrescriptionOptions: ParsableArguments {
    @Option(name: .customLong("rx-service"), help: "Manifest of the prescription service (pharmacy API, signing keys); it runs when the file exists.")
    var manifest: String = "Adapters/pharmacy/rx-service.yaml"

    @Flag(name: .customLong("no-rx"), help: "Do not run the prescription service.")
    var noRx = false

    /// The configuration, or nil when the service is off (no manifest, or --no-rx).
    func load() throws -> RxServiceConfiguration? {
        guard !noRx, FileManager.default.fileExists(atPath: manifest) else { return nil }
        do { return try RxServiceConfiguration.load(path: manifest) } catch { throw CommandFailure("\(error)") }
    }
}

/// Prescription circulation as `medbus serve` (and `medbus rx serve`) runs it: built before the topics are
/// provisioned, run after.
struct PrescriptionServices {
    /// The routing core also reads the events, to map them back to the hospital (Mappings/rx/).
    static let routerInput = RxTopics.events

    let topics: [NewTopic]
    let background: @Sendable () async throws -> Void
    /// The service's store, read only (the admin API's prescription views).
    let ledger: RxLedger

    /// - Throws: `CommandFailure` when the store cannot be opened.
    init(configuration: RxServiceConfiguration, kafka: KafkaConfig, embedded: Bool, dataDirectory: String) throws {
        topics = (configuration.topics + [configuration.inputTopic]).map { NewTopic(name: $0, partitions: 12, replicationFactor: embedded ? 1 : 3) }
        let runner: RxServiceRunner
        do {
            let producer = try KafkaProducer(config: AdapterHost.producerConfig(kafka), logger: Log.logger("medbus.kafka.producer"))
            runner = try RxServiceRunner(configuration: configuration, directory: dataDirectory, kafka: kafka, producer: producer,
                                         logger: Log.logger("medbus.rx"))
        } catch {
            throw CommandFailure("prescriptions: \(error)")
        }
        ledger = runner.service.ledger
        let host = configuration.host
        let scheme = configuration.tls == nil ? "http" : "https"
        background = {
            try await runner.run { port in
                print("Prescription API listening on \(scheme)://\(host):\(port)/v1/prescriptions")
                fflush(nil)
            }
        }
    }
}

/// `medbus rx`: the prescription service on its own, and operators' views of its store.
struct PrescriptionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rx",
        abstract: "E-prescription circulation: run the service, show and list prescriptions.",
        subcommands: [Serve.self, Show.self, List.self]
    )

    struct Serve: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the prescription service alone (HTTP API, HIS intake, Kafka commands, expiry sweeper).",
            discussion: """
            Against --brokers, or the embedded cluster of a `medbus serve` on the same --data-dir. Its topics \
            (rx.issued, rx.events, rx.available.<region>, rx.commands, rx.command-results, dlq.rx) must exist: \
            `medbus serve` creates them. The store is <data-dir>/rx.sqlite.
            """
        )

        @OptionGroup var kafka: KafkaOptions
        @OptionGroup var store: StoreOptions
        @OptionGroup(title: "Admin API") var adminAPI: AdminOptions
        @Option(help: "Manifest of the prescription service.") var manifest: String = "Adapters/pharmacy/rx-service.yaml"

        func run() async throws {
            let configuration: RxServiceConfiguration
            do { configuration = try RxServiceConfiguration.load(path: manifest) } catch { throw CommandFailure("\(error)") }
            let config = try kafka.config(store: store)
            _ = try await connect(config)
            let services = try PrescriptionServices(configuration: configuration, kafka: config, embedded: false, dataDirectory: store.dataDirectory)
            let admin = try adminServices(adminAPI, store: store, messageStore: nil, kafka: config,
                                          extraRoutes: [PrescriptionViews(ledger: services.ledger)], deadLetterTopics: [RxTopics.deadLetters])
            try await runUntilTerminated(nil, background: [services.background] + admin, logger: Log.logger("medbus.rx"))
        }
    }

    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "One prescription's state and history (the signed document with --document).")

        @OptionGroup var store: StoreOptions
        @Argument(help: "Prescription id (rxId), or a trace code with --trace.") var id: String
        @Flag(help: "ID is a trace code.") var trace = false
        @Flag(help: "Also print the signed prescription (contains patient data).") var document = false

        func run() async throws {
            let ledger = try openLedger(store)
            defer { ledger.close() }
            guard let record = try await ledger.record(trace ? .traceCode(id) : .id(id)) else { throw CommandFailure("no prescription \(id)") }
            print("rxId:        \(record.id)")
            print("hospital:    \(record.fixmedinsCode)  number \(record.hospRxno)  region \(record.region)")
            print("trace code:  \(record.traceCode)")
            print("status:      \(record.status.rawValue)\(record.holder.map { "  held by \($0)" } ?? "")\(record.leaseUntil.map { " until \(MessageEnvelope.formatTimestamp($0))" } ?? "")")
            print("dispensed:   \(record.usedCount) of \(record.maxReptCnt)")
            print("valid until: \(MessageEnvelope.formatTimestamp(record.validityEnd))")
            print("signature:   SM2 key \(record.keyID), SM3 \(record.digest)")
            if let centre = record.centre {
                print("centre:      \(centre.operation) \(centre.status.rawValue)\(centre.hiRxno.map { "  hiRxno \($0)" } ?? "")"
                      + (centre.reason.map { "  \($0) after \(centre.attempts) attempt(s): \(centre.detail ?? "")" } ?? ""))
            }
            print("history:")
            for transition in try await ledger.history(id: record.id) {
                print("  \(transition.version)  \(MessageEnvelope.formatTimestamp(transition.at))  \(transition.action.rawValue)  \(transition.from?.rawValue ?? "-") → \(transition.to.rawValue)\(transition.actor.map { "  by \($0)" } ?? "")")
            }
            if document { print(JSONWriter.pretty((try? JSONValue.parse(record.document)) ?? .null)) }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Prescriptions, newest first.")

        @OptionGroup var store: StoreOptions
        @Option(help: "Only this status (valid, claimed, reviewed, dispensed, expired, revoked).") var status: String?
        @Option(help: "At most this many.") var limit: Int = 50

        func run() async throws {
            let wanted: RxStatus?
            if let status {
                guard let parsed = RxStatus(rawValue: status) else {
                    throw ValidationError("--status must be one of \(RxStatus.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                wanted = parsed
            } else {
                wanted = nil
            }
            let ledger = try openLedger(store)
            defer { ledger.close() }
            for record in try await ledger.list(status: wanted, limit: limit) {
                print([record.id, record.fixmedinsCode, record.hospRxno, record.status.rawValue, record.holder ?? "-", "\(record.usedCount)/\(record.maxReptCnt)",
                       MessageEnvelope.formatTimestamp(record.updatedAt)].joined(separator: "\t"))
            }
        }
    }
}

private func openLedger(_ store: StoreOptions) throws -> RxLedger {
    do { return try RxLedger(directory: store.dataDirectory) } catch { throw CommandFailure("\(error)") }
}
