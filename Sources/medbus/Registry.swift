import Foundation
import MedBusKafka
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
