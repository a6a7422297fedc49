import CoreMetrics
import Foundation
import MedBusRegistry

/// The one audit log of MedBus: the registry's append-only `audit_log` (which already records
/// mapping publishes, rollbacks and announcements in the same transaction as the change), used for
/// every other operator action as well — dead-letter replays, token changes, payload views, and
/// requests refused for lack of permission. `AuditForwarder` copies it to `medbus.audit`.
public struct AuditTrail: Sendable {
    public let log: AuditLog

    public init(log: AuditLog) { self.log = log }

    public enum Outcome: String, Sendable {
        case success, denied, failed
    }

    /// Appends an entry for an admin API caller (actor = token name, role = token role).
    @discardableResult
    public func record(_ principal: AdminPrincipal, action: String, object: String, outcome: Outcome = .success, detail: String = "") throws -> AuditEntry {
        try record(actor: principal.name, role: principal.role.rawValue, action: action, object: object, outcome: outcome, detail: detail)
    }

    /// Appends an entry for a local CLI user (role `local`: whoever can write the data directory).
    @discardableResult
    public func record(actor: String, role: String = "local", action: String, object: String, outcome: Outcome = .success, detail: String = "") throws -> AuditEntry {
        let entry = try log.record(actor: actor, role: role, action: action, object: object, outcome: outcome.rawValue, detail: detail)
        Counter(label: "medbus_audit_records_total", dimensions: [("action", action), ("outcome", outcome.rawValue)]).increment()
        return entry
    }

    /// Whether `action` was ever recorded successfully for `object` (used as the ledger of at-most-once replays).
    public func contains(action: String, object: String) throws -> Bool {
        try log.contains(action: action, object: object)
    }
}

/// An audit entry as the admin API, `medbus.audit` records and `medbus audit list --json` show it.
public struct AuditRecord: Codable, Sendable, Equatable {
    public var id: Int64
    public var at: Date
    public var actor: String
    public var role: String
    public var action: String
    public var object: String
    public var outcome: String
    public var detail: String

    public init(_ entry: AuditEntry) {
        (id, at, actor, role, action, object, outcome, detail) =
            (entry.id, entry.at, entry.actor, entry.role, entry.action, entry.object, entry.outcome, entry.detail)
    }
}
