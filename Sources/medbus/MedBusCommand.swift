import ArgumentParser
import MedBusKafka
import Foundation

/// `medbus`: the one executable. It only wires the modules together; each subcommand lives in
/// its own file.
@main
struct MedBusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "medbus",
        abstract: "MedBus: a Kafka-native healthcare integration gateway.",
        discussion: """
        Run everything on one machine with `medbus serve` (an embedded, in-memory Kafka-protocol \
        cluster and a SQLite store in ./data), or point it at an Apache Kafka cluster with \
        --brokers. Errors are one line on standard error with a non-zero exit code.
        """,
        version: MedBusVersion.current,
        subcommands: [
            ServeCommand.self, AdapterCommand.self, TopicsCommand.self, MappingCommand.self, RouteCommand.self, MessagesCommand.self, DeadLetterCommand.self, TokenCommand.self, AuditCommand.self, SettleCommand.self, DispatchCommand.self, PrescriptionCommand.self, SimulateCommand.self, BenchCommand.self,
            VersionCommand.self, StoreWriterCommand.self,
        ]
    )
}

enum MedBusVersion {
    static let current = "0.1.0"
}

struct VersionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "version", abstract: "Print the MedBus and librdkafka versions.")

    func run() {
        print("medbus \(MedBusVersion.current) (librdkafka \(KafkaRuntime.librdkafkaVersion))")
    }
}

/// A failure that ends a command: printed as one line, exit code 1.
struct CommandFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
