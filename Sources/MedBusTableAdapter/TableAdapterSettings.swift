import Foundation
import MedBusAdapterSDK

/// What an `intermediate-table` manifest says, checked once when the adapter is created.
///
/// ```yaml
/// kind: intermediate-table
/// name: his-outbox-h37010200001
/// sender: H37010200001
/// options:
///   database: postgresql://medbus@127.0.0.1:5432/his   # or sqlite:/var/lib/his/outbox.db
///   query: SELECT id, patient_id, msg_type, payload, updated_at FROM his_outbox
///   idColumn: id                  # integer, increasing (a sequence / identity / rowid)
///   keyColumn: patient_id         # Kafka key (default: the id)
///   messageTypeColumn: msg_type   # or messageType: ADT^A08
///   payloadColumn: payload        # default: the whole row as a JSON object
///   contentType: x-application/hl7-v2+er7
///   versionColumn: updated_at     # with onUpdate: republish
///   onUpdate: republish           # or ignore (default)
///   statusUpdate: UPDATE his_outbox SET medbus_status = 'published', medbus_id = $2 WHERE id = $1
/// ```
public struct TableAdapterSettings: Sendable {
    public enum UpdatePolicy: String, Sendable {
        /// A row is published once, when first seen; later changes are not published.
        case ignore
        /// A change of `versionColumn` after publication publishes the row again.
        case republish
    }

    public var database: String
    /// The manifest's query, without a trailing semicolon; wrapped as a subquery.
    public var query: String
    public var idColumn: String
    public var keyColumn: String
    public var messageType: String?
    public var messageTypeColumn: String?
    public var payloadColumn: String?
    public var contentType: String
    public var versionColumn: String?
    public var onUpdate: UpdatePolicy
    /// Run after a row is on Kafka: `$1` the row id, `$2` the MedBus message id.
    public var statusUpdate: String?
    public var pollInterval: Duration
    public var batchSize: Int
    /// How long a gap in the ids is waited for before the rows after it are published (see README).
    public var settle: Duration
    /// How long a skipped id is still looked for.
    public var holeRetention: Duration

    public init(manifest: AdapterManifest) throws {
        func fail(_ message: String) -> ManifestError { ManifestError(file: manifest.file, message: message) }
        func required(_ key: String) throws -> String {
            guard let value = manifest.options[key]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else {
                throw fail("options.\(key) is required for kind intermediate-table")
            }
            return value
        }
        let known: Set<String> = [
            "database", "query", "idColumn", "keyColumn", "messageType", "messageTypeColumn", "payloadColumn", "contentType",
            "versionColumn", "onUpdate", "statusUpdate", "pollIntervalMilliseconds", "batchSize", "settleMilliseconds", "holeRetentionSeconds",
        ]
        let unknown = Set(manifest.options.keys).subtracting(known)
        guard unknown.isEmpty else { throw fail("unknown options \(unknown.sorted()) for kind intermediate-table") }

        database = try required("database")
        var query = try required("query")
        while query.hasSuffix(";") { query = String(query.dropLast()).trimmingCharacters(in: .whitespacesAndNewlines) }
        self.query = query
        idColumn = try required("idColumn")
        keyColumn = manifest.options["keyColumn"] ?? idColumn
        messageType = manifest.options["messageType"]
        messageTypeColumn = manifest.options["messageTypeColumn"]
        guard (messageType == nil) != (messageTypeColumn == nil) else { throw fail("give exactly one of options.messageType and options.messageTypeColumn") }
        payloadColumn = manifest.options["payloadColumn"]
        contentType = manifest.options["contentType"] ?? (payloadColumn == nil ? "application/json" : "text/plain; charset=utf-8")
        versionColumn = manifest.options["versionColumn"]
        let policy = manifest.options["onUpdate"] ?? "ignore"
        guard let onUpdate = UpdatePolicy(rawValue: policy) else { throw fail("options.onUpdate must be ignore or republish, not '\(policy)'") }
        guard onUpdate == .ignore || versionColumn != nil else { throw fail("options.onUpdate: republish needs options.versionColumn") }
        self.onUpdate = onUpdate
        statusUpdate = manifest.options["statusUpdate"]
        pollInterval = .milliseconds(try manifest.intOption("pollIntervalMilliseconds", default: 1000))
        batchSize = try manifest.intOption("batchSize", default: 500)
        settle = .milliseconds(try manifest.intOption("settleMilliseconds", default: 5000))
        holeRetention = .seconds(try manifest.intOption("holeRetentionSeconds", default: 3600))
    }
}
