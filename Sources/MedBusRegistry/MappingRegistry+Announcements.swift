import Foundation
import GRDB
import MedBusSQLite

extension MappingRegistry {
    /// The mappings whose current activation has not been announced to routers yet, oldest activation first.
    ///
    /// Only the *current* activation of each name is returned: announcing a superseded one would make it the
    /// newest record for that key on the compacted topic, and compaction would then keep it instead of the
    /// current one. Superseded activations are settled by `markAnnounced` of a later one.
    public func unannounced() throws -> [(MappingVersion, Activation)] {
        try database.read { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.activationColumns) FROM mapping_activations
                WHERE announced_at IS NULL
                  AND sequence IN (SELECT MAX(sequence) FROM mapping_activations GROUP BY name)
                ORDER BY sequence
                """)
            return try rows.map(Self.activation).map { activation in
                // The foreign key guarantees the version row exists.
                guard let version = try Self.fetchVersion(db, name: activation.name, version: activation.version) else {
                    throw RegistryError.unknownVersion(name: activation.name, version: activation.version, latest: 0)
                }
                return (version, activation)
            }
        }
    }

    /// Records that `activation` reached the `medbus.mappings` topic (its delivery was acknowledged), together
    /// with every earlier activation of the same name that never was: those are superseded and must never be
    /// announced after it. Writes an audit entry. Marking an activation twice changes nothing the second time.
    ///
    /// - Throws: `RegistryError.unknownVersion` if the registry has no such activation; `.missingAuthor`.
    public func markAnnounced(_ activation: Activation, actor: String = "medbus") throws {
        let actor = try AuditLog.checkedActor(actor)
        try database.write { db in
            let exists = try Bool.fetchOne(db, sql: """
                SELECT COUNT(*) > 0 FROM mapping_activations WHERE sequence = ? AND name = ? AND version = ?
                """, arguments: [activation.sequence, activation.name, activation.version]) ?? false
            guard exists else {
                let latest = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM mapping_versions WHERE name = ?", arguments: [activation.name]) ?? 0
                throw RegistryError.unknownVersion(name: activation.name, version: activation.version, latest: latest)
            }
            try db.execute(sql: """
                UPDATE mapping_activations SET announced_at = ?
                WHERE name = ? AND sequence <= ? AND announced_at IS NULL
                """, arguments: [Date().storedMicroseconds, activation.name, activation.sequence])
            guard db.changesCount > 0 else { return }
            _ = try AuditLog.insert(db, actor: actor, action: "mapping.announce", object: "mapping:\(activation.name)",
                                    detail: "announced v\(activation.version) (activation #\(activation.sequence)) to routers")
        }
    }
}
