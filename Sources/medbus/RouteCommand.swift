import ArgumentParser
import Foundation
import MedBusKafka
import MedBusRegistry
import MedBusRouting

/// `medbus route`: the routing core on its own (`medbus serve` runs one too). Scale out by
/// starting more instances with distinct --instance ids: they share the consumer group, and
/// Kafka spreads the raw partitions over them.
struct RouteCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "route",
        abstract: "Route raw.* records through the published mappings to their target topics.",
        discussion: """
        Consumes raw.* in the consumer group medbus-router, applies the mappings active on \
        medbus.mappings (new versions and rollbacks are picked up without restart) and produces \
        the outputs together with the consumed offsets in one Kafka transaction per batch. \
        Records that fail go to dlq.routing with the reason; `medbus dlq replay` re-drives them.
        """
    )

    @OptionGroup var kafka: KafkaOptions
    @OptionGroup var store: StoreOptions
    @OptionGroup(title: "Admin API") var adminAPI: AdminOptions

    @Option(help: "This instance's id, stable across restarts: its transactional id is medbus-router-<instance>, which fences a crashed predecessor.")
    var instance: String = ProcessInfo.processInfo.hostName

    @Option(name: .customLong("input"), help: "Input topics, or regular expressions starting with ^ (repeatable).")
    var inputs: [String] = ["^raw\\..*"]

    func run() async throws {
        let config = try kafka.config(store: store)
        _ = try await connect(config)
        let instance = instance
        let service = routingService(config: config, instance: instance, inputs: inputs)
        let admin = try adminServices(adminAPI, store: store, messageStore: nil, kafka: config, deadLetterTopics: ["dlq.routing"])
        try await runUntilTerminated(nil, background: [{ try await service.run() }] + admin, logger: Log.logger("medbus.route"))
    }
}

/// The router as `route` and `serve` run it; prints one line per mapping set it routes with.
func routingService(config: KafkaConfig, instance: String, inputs: [String] = ["^raw\\..*"]) -> MappingRoutingService {
    MappingRoutingService(
        configuration: RoutingConfiguration(kafka: config, inputTopics: inputs, transactionalID: "medbus-router-\(instance)"),
        feed: MappingFeed(kafka: config, logger: Log.quietKafka),
        logger: Log.logger("medbus.route")
    ) { version in
        print("Router \(instance) routing with \(version)")
        fflush(nil)
    }
}
