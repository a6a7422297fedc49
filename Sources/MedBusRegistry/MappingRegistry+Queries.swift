import Foundation
import GRDB
import MedBusSQLite

extension MappingRegistry {
    /// Every version of `name`, oldest first (which one is active when: `history(name:)`).
    /// - Throws: `RegistryError.unknownMapping` if no version of `name` was ever published.
    public func versions(name: String) throws -> [MappingVersion] {
        let versions = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.versionColumns) FROM mapping_versions WHERE name = ? ORDER BY version", arguments: [name])
                .map(Self.mappingVersion)
        }
        guard !versions.isEmpty else { throw RegistryError.unknownMapping(name) }
        return versions
    }

    /// Every activation of `name` (publishes and rollbacks), oldest first; the last one names the active version.
    /// - Throws: `RegistryError.unknownMapping` if no version of `name` was ever published.
    public func history(name: String) throws -> [Activation] {
        let activations = try database.read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.activationColumns) FROM mapping_activations WHERE name = ? ORDER BY sequence", arguments: [name])
                .map(Self.activation)
        }
        guard !activations.isEmpty else { throw RegistryError.unknownMapping(name) }
        return activations
    }

    /// One version, or nil if `name` has no such version.
    public func version(name: String, version: Int) throws -> MappingVersion? {
        try database.read { db in try Self.fetchVersion(db, name: name, version: version) }
    }

    /// The active version of every mapping, by name.
    public func active() throws -> [MappingVersion] {
        try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT \(Self.versionColumns("v")) FROM mapping_activations a
                JOIN mapping_versions v ON v.name = a.name AND v.version = a.version
                WHERE a.sequence IN (SELECT MAX(sequence) FROM mapping_activations GROUP BY name)
                ORDER BY v.name
                """).map(Self.mappingVersion)
        }
    }

    /// The active version of `name`, or nil if it was never published.
    public func active(name: String) throws -> MappingVersion? {
        try database.read { db in
            guard let version = try Self.activeVersionAndDigest(db, name: name)?.version else { return nil }
            return try Self.fetchVersion(db, name: name, version: version)
        }
    }

    // MARK: - Rows

    static let versionColumns = versionColumns(nil)

    static func versionColumns(_ table: String?) -> String {
        let prefix = table.map { "\($0)." } ?? ""
        return ["name", "version", "digest", "author", "published_at", "note", "content"].map { prefix + $0 }.joined(separator: ", ")
    }

    static let activationColumns = "sequence, name, version, action, author, activated_at, note"

    static func fetchVersion(_ db: Database, name: String, version: Int) throws -> MappingVersion? {
        try Row.fetchOne(db, sql: "SELECT \(versionColumns) FROM mapping_versions WHERE name = ? AND version = ?", arguments: [name, version])
            .map(mappingVersion)
    }

    /// The active version of `name` and its digest, read without the content.
    static func activeVersionAndDigest(_ db: Database, name: String) throws -> (version: Int, digest: String)? {
        try Row.fetchOne(db, sql: """
            SELECT v.version, v.digest FROM mapping_activations a
            JOIN mapping_versions v ON v.name = a.name AND v.version = a.version
            WHERE a.name = ? ORDER BY a.sequence DESC LIMIT 1
            """, arguments: [name]).map { (version: $0["version"], digest: $0["digest"]) }
    }

    static func mappingVersion(_ row: Row) -> MappingVersion {
        let content: Data = row["content"]
        return MappingVersion(name: row["name"], version: row["version"], digest: row["digest"], author: row["author"],
                              publishedAt: Date(storedMicroseconds: row["published_at"]), note: row["note"], content: [UInt8](content))
    }

    static func activation(_ row: Row) -> Activation {
        let action: String = row["action"]
        return Activation(sequence: row["sequence"], name: row["name"], version: row["version"],
                          // The CHECK constraint admits only the two actions.
                          action: Activation.Action(rawValue: action) ?? .publish,
                          author: row["author"], at: Date(storedMicroseconds: row["activated_at"]), note: row["note"])
    }
}
