import Foundation
import MedBusKafka
import MedBusMapping
import MedBusRegistry

// What the commands that change or consult the registry share: who is acting, where the
// registry lives, and announcing its changes to the routers.

/// Who is acting, for the history and the audit log.
var operatorName: String { ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown" }

func openRegistry(_ store: StoreOptions) throws -> MappingRegistry {
    do {
        try FileManager.default.createDirectory(atPath: store.dataDirectory, withIntermediateDirectories: true)
        return try MappingRegistry.open(directory: URL(fileURLWithPath: store.dataDirectory))
    } catch {
        throw CommandFailure("registry: \(error)")
    }
}

/// Announces every registry change not yet on `medbus.mappings` (this one, and any an earlier
/// command could not deliver), so routers never miss a version.
func announcePending(_ registry: MappingRegistry, _ config: KafkaConfig) async throws {
    let distribution = MappingDistribution(kafka: config, logger: Log.quietKafka)
    do {
        _ = try await distribution.ensureTopic()
        _ = try await distribution.resync(registry, actor: operatorName)
    } catch {
        throw CommandFailure("recorded in the registry, but announcing on Kafka failed (\(error)); the next publish or rollback retries")
    }
}

func timestamp(_ date: Date) -> String {
    ISO8601DateFormatter().string(from: date)
}

func printError(_ line: String) {
    FileHandle.standardError.write(Data((line + "\n").utf8))
}

/// Publishes every mapping file under `directory` (test folders excepted) whose name the
/// registry does not know yet, so a fresh `medbus serve` routes with the shipped mappings. A
/// name already published is left alone: from then on operators change it with
/// `medbus mapping publish`, and a file edited on disk is never picked up behind their back.
func seedMappings(from directory: String, registry: MappingRegistry, config: KafkaConfig) async throws -> [String] {
    guard let walker = FileManager.default.enumerator(atPath: directory) else { return [] }
    let files = walker.compactMap { $0 as? String }
        .filter { ($0.hasSuffix(".yaml") || $0.hasSuffix(".yml")) && !$0.split(separator: "/").contains("tests") }
        .sorted()
    var seeded: [String] = []
    for file in files {
        let path = (directory as NSString).appendingPathComponent(file)
        let bundle = try loadBundle(path)
        guard try registry.active(name: bundle.name) == nil else { continue }
        do { _ = try Mapping.compile(bundle) } catch { throw CommandFailure("\(error)") }
        _ = try registry.publish(name: bundle.name, content: try encodeBundle(bundle), author: "medbus serve", note: "seeded from \(path)")
        seeded.append(bundle.name)
    }
    if !seeded.isEmpty { try await announcePending(registry, config) }
    return seeded
}
