import Foundation
import GRDB
import MedBusSQLite

extension MappingRegistry {
    /// Publishes `content` as the next version of `name` (1 for a new name) and makes it active.
    ///
    /// Refuses content identical to the active version's: a publish that changes nothing would only make the
    /// history longer and wake every router. Content identical to an older, inactive version is accepted as a
    /// new version (a rollback says the same thing more clearly, but both are correct).
    ///
    /// - Throws: `RegistryError.invalidName`, `.missingAuthor`, `.emptyContent`, `.unchanged`, or `.sqlite`.
    /// - Returns: the new version, as stored.
    public func publish(name: String, content: [UInt8], author: String, note: String) throws -> MappingVersion {
        try MappingName.validate(name)
        let author = try AuditLog.checkedActor(author)
        guard !content.isEmpty else { throw RegistryError.emptyContent(name: name) }
        let digest = MappingVersion.digest(of: content)
        return try database.write { db in
            let active = try Self.activeVersionAndDigest(db, name: name)
            if let active, active.digest == digest {
                throw RegistryError.unchanged(name: name, activeVersion: active.version, digest: digest)
            }
            let latest = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM mapping_versions WHERE name = ?", arguments: [name]) ?? 0
            let now = Date().roundedToStoredPrecision
            let version = MappingVersion(name: name, version: latest + 1, digest: digest, author: author, publishedAt: now, note: note, content: content)
            try db.execute(sql: """
                INSERT INTO mapping_versions (name, version, digest, author, published_at, note, content)
                VALUES (?, ?, ?, ?, ?, ?, ?)
                """, arguments: [name, version.version, digest, author, now.storedMicroseconds, note, Data(content)])
            let activation = try Self.insertActivation(db, name: name, version: version.version, action: .publish, author: author, at: now, note: note)
            _ = try AuditLog.insert(db, actor: author, action: "mapping.publish", object: "mapping:\(name)",
                                    detail: "published v\(version.version) sha256 \(digest) (\(content.count) bytes), activation #\(activation.sequence)\(Self.noteSuffix(note))")
            return version
        }
    }

    /// Makes the earlier (or later) `version` of `name` active again, recording who did it, when and why.
    ///
    /// Nothing is copied or renumbered: the version keeps its number, and the new activation's sequence is what
    /// tells routers it is the newest decision.
    ///
    /// - Throws: `RegistryError.unknownMapping`, `.unknownVersion`, `.alreadyActive`, `.missingAuthor`, `.sqlite`.
    /// - Returns: the version that is now active.
    public func rollback(name: String, to version: Int, author: String, note: String) throws -> MappingVersion {
        let author = try AuditLog.checkedActor(author)
        return try database.write { db in
            guard let latest = try Int.fetchOne(db, sql: "SELECT MAX(version) FROM mapping_versions WHERE name = ?", arguments: [name]) else {
                throw RegistryError.unknownMapping(name)
            }
            guard let target = try Self.fetchVersion(db, name: name, version: version) else {
                throw RegistryError.unknownVersion(name: name, version: version, latest: latest)
            }
            let active = try Self.activeVersionAndDigest(db, name: name)
            if active?.version == version { throw RegistryError.alreadyActive(name: name, version: version) }
            let now = Date().roundedToStoredPrecision
            let activation = try Self.insertActivation(db, name: name, version: version, action: .rollback, author: author, at: now, note: note)
            _ = try AuditLog.insert(db, actor: author, action: "mapping.rollback", object: "mapping:\(name)",
                                    detail: "rolled back from v\(active.map { String($0.version) } ?? "?") to v\(version) sha256 \(target.digest), activation #\(activation.sequence)\(Self.noteSuffix(note))")
            return target
        }
    }

    static func insertActivation(_ db: Database, name: String, version: Int, action: Activation.Action, author: String, at: Date, note: String) throws -> Activation {
        try db.execute(sql: """
            INSERT INTO mapping_activations (name, version, action, author, activated_at, note)
            VALUES (?, ?, ?, ?, ?, ?)
            """, arguments: [name, version, action.rawValue, author, at.storedMicroseconds, note])
        return Activation(sequence: db.lastInsertedRowID, name: name, version: version, action: action, author: author, at: at, note: note)
    }

    private static func noteSuffix(_ note: String) -> String {
        note.isEmpty ? "" : "; note: \(note)"
    }
}
