import Foundation
import GRDB
import MedBusSQLite

/// One operator action, as the audit log keeps it.
public struct AuditEntry: Sendable, Hashable {
    /// Increasing in the order entries were committed.
    public var id: Int64
    public var at: Date
    /// Who acted (an operator's name, or `medbus` for the system itself).
    public var actor: String
    /// The actor's role: an admin API token's role, or `local` for the CLI on the data directory.
    public var role: String
    /// What was done, dotted: `mapping.publish`, `mapping.rollback`, `mapping.announce`, …
    public var action: String
    /// What it was done to, e.g. `mapping:his.adt`.
    public var object: String
    /// Version numbers, digests, the operator's note. Never mapping content or message payloads.
    public var detail: String
    /// `success`, `denied` (refused for lack of permission) or `failed`.
    public var outcome: String
}

/// The append-only log of operator actions, in the registry's SQLite file.
///
/// Registry changes write their entry in the same transaction as the change itself, so there is never a change
/// without its entry or an entry for a change that was rolled back. The database refuses updates and deletes of
/// entries. Other modules (the CLI, the admin API) record their own actions with `record`.
///
/// `detail` is for identifiers and short explanations: never put mapping content, message payloads or patient
/// data in it — the log is read by people who are not entitled to see those.
public struct AuditLog: Sendable {
    let database: RegistryDatabase

    /// Appends one entry, committed before this returns.
    /// - Throws: `RegistryError.missingAuthor` when `actor` is blank; `RegistryError` for SQLite failures.
    @discardableResult
    public func record(actor: String, role: String = "local", action: String, object: String, outcome: String = "success", detail: String) throws -> AuditEntry {
        let actor = try Self.checkedActor(actor)
        return try database.write { db in
            try Self.insert(db, actor: actor, role: role, action: action, object: object, outcome: outcome, detail: detail)
        }
    }

    /// Entries at or after `since` (and after entry `afterID`, by `actor` when given), oldest first, at most
    /// `limit` of them (page on with the last entry's `id`).
    public func entries(since: Date = .distantPast, afterID: Int64 = 0, actor: String? = nil, limit: Int = 1000) throws -> [AuditEntry] {
        let since = since == .distantPast ? Int64.min : since.storedMicroseconds
        return try database.read { db in
            try Row.fetchAll(db, sql: """
                SELECT id, at, actor, role, action, object, outcome, detail FROM audit_log
                WHERE at >= ? AND id > ? AND (? IS NULL OR actor = ?) ORDER BY id LIMIT ?
                """, arguments: [since, afterID, actor, actor, max(0, limit)]).map(Self.entry)
        }
    }

    /// Whether `action` was ever recorded successfully for `object`: lets a command that must act at most once
    /// (a dead-letter replay) use the log as its ledger.
    public func contains(action: String, object: String) throws -> Bool {
        try database.read { db in
            try Bool.fetchOne(db, sql: "SELECT EXISTS (SELECT 1 FROM audit_log WHERE action = ? AND object = ? AND outcome = 'success')", arguments: [action, object]) ?? false
        }
    }

    /// Appends an entry inside the caller's transaction.
    static func insert(_ db: Database, actor: String, role: String = "local", action: String, object: String, outcome: String = "success", detail: String) throws -> AuditEntry {
        let at = Date().roundedToStoredPrecision
        try db.execute(
            sql: "INSERT INTO audit_log (at, actor, role, action, object, outcome, detail) VALUES (?, ?, ?, ?, ?, ?, ?)",
            arguments: [at.storedMicroseconds, actor, role, action, object, outcome, detail])
        return AuditEntry(id: db.lastInsertedRowID, at: at, actor: actor, role: role, action: action, object: object, detail: detail, outcome: outcome)
    }

    /// Trims the actor and refuses a blank one: an audit entry that does not say who acted is worthless.
    static func checkedActor(_ actor: String) throws -> String {
        let trimmed = actor.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw RegistryError.missingAuthor }
        return trimmed
    }

    private static func entry(_ row: Row) -> AuditEntry {
        AuditEntry(id: row["id"], at: Date(storedMicroseconds: row["at"]), actor: row["actor"], role: row["role"],
                   action: row["action"], object: row["object"], detail: row["detail"], outcome: row["outcome"])
    }
}
