import Foundation
import Hummingbird
import MedBusRegistry

/// `/v1/mappings`: the active mapping versions (no content), and `/v1/audit`: the audit log.
public struct RegistryRoutes: AdminRoutes {
    let registry: MappingRegistry

    public init(registry: MappingRegistry) { self.registry = registry }

    public struct ActiveMapping: Codable, Sendable, Equatable {
        public var name: String
        public var version: Int
        public var digest: String
        public var author: String
        public var publishedAt: Date
        public var note: String
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("mappings", requires: .states) { _, _, _ in
            let active = try registry.active().map {
                ActiveMapping(name: $0.name, version: $0.version, digest: $0.digest, author: $0.author, publishedAt: $0.publishedAt, note: $0.note)
            }
            return try AdminAPI.json(["mappings": active])
        }
        api.get("audit", requires: .audit) { request, _, _ in
            let entries = try trail.log.entries(
                since: try AdminAPI.time(request, "since") ?? .distantPast, afterID: Int64(request.uri.queryParameters.get("after") ?? "") ?? 0,
                actor: request.uri.queryParameters.get("actor"), limit: try AdminAPI.limit(request, standard: 1000, maximum: 10_000))
            return try AdminAPI.json(["entries": entries.map(AuditRecord.init)])
        }
    }
}
