import Foundation
import Logging
import MedBusCore
import MedBusKafka
import MedBusMapping
import MedBusRegistry
import MedBusRouting

// The link between three modules: the registry's feed of active mappings, the mapping engine,
// and the generic routing core.

/// Runs the routing core with the mappings active on `medbus.mappings`: waits until at least one
/// mapping is published (so a fresh system does not dead-letter everything), starts the core,
/// and hands every later change to it; the core switches at its next transaction boundary.
///
/// A published version that does not compile here (e.g. it uses a feature this build lacks) is
/// logged and the previous version of that mapping stays in force: one bad publish cannot stop
/// routing.
struct MappingRoutingService: Sendable {
    let configuration: RoutingConfiguration
    let feed: MappingFeed
    let logger: Logger
    /// Called with the mapping set's version when routing starts and after every switch.
    let onVersion: @Sendable (String) -> Void
    /// How often the core's counters (with the version in force) are logged.
    var statisticsInterval: Duration = .seconds(30)

    func run() async throws {
        var compiled: [String: Mapping] = [:]
        var initial: MappingRouter?
        for try await active in feed {
            compiled = compile(active, previous: compiled)
            if !compiled.isEmpty { initial = MappingRouter(compiled.values); break }
        }
        guard let initial else { return }  // cancelled before anything was published
        let core = RoutingCore(configuration: configuration, router: initial, logger: logger)
        onVersion(initial.version)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await core.run() }
            group.addTask { [compiled] in
                // A second pass over the feed starts from the whole active set again; unchanged
                // versions are recognised and skipped.
                var current = compiled
                var version = initial.version
                for try await active in feed {
                    current = compile(active, previous: current)
                    let router = MappingRouter(current.values)
                    guard !current.isEmpty, router.version != version else { continue }
                    await core.update(router: router)
                    version = router.version
                    logger.info("mappings switched", metadata: ["version": "\(version)"])
                    onVersion(version)
                }
            }
            group.addTask {
                // Until the admin API exports metrics (issue 8), the counters go to the log.
                while true {
                    try await Task.sleep(for: statisticsInterval)
                    let stats = await core.statistics
                    logger.info("routing statistics", metadata: [
                        "version": "\(stats.version)", "consumed": "\(stats.consumed)", "routed": "\(stats.routed)",
                        "deadLettered": "\(stats.deadLettered)", "skipped": "\(stats.skipped)", "alreadyPresent": "\(stats.alreadyPresent)",
                        "transactions": "\(stats.transactions)", "aborts": "\(stats.aborts)",
                    ])
                }
            }
            // Whichever ends first (the core on cancellation or failure) ends all.
            try await group.next()
            group.cancelAll()
        }
    }

    private func compile(_ active: [String: MappingVersion], previous: [String: Mapping]) -> [String: Mapping] {
        var result: [String: Mapping] = [:]
        for (name, published) in active {
            if let existing = previous[name], existing.version == published.version {
                result[name] = existing
                continue
            }
            do {
                let bundle = try JSONDecoder().decode(MappingBundle.self, from: Data(published.content))
                result[name] = try Mapping.compile(bundle, version: published.version)
            } catch {
                logger.error("published mapping does not compile; keeping the previous version",
                             metadata: ["mapping": "\(name)", "version": "\(published.version)", "error": "\(error)"])
                if let existing = previous[name] { result[name] = existing }
            }
        }
        return result
    }
}
