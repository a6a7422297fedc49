import Foundation
import GRDB
import Logging
import MedBusKafka
import MedBusRegistry

/// Copies the audit log to the `medbus.audit` topic, so security tooling can follow operator
/// actions with any Kafka client.
///
/// The SQLite log is the record (written first, in the same transaction as registry changes);
/// the topic is a feed of it. Each entry becomes one record keyed by its id, JSON as `AuditRecord`.
/// How far the feed got is kept in `admin.sqlite` after Kafka acknowledged the records, so after a
/// crash the last batch may appear twice on the topic — consumers deduplicate by key. Entries
/// written by other processes on the same data directory (the CLI) are picked up within `interval`.
/// The topic itself is specified in `deploy/topics.yaml` (long retention, replication 3).
public struct AuditForwarder: Sendable {
    public static let topic = "medbus.audit"
    let trail: AuditTrail
    let database: AdminDatabase
    let producer: KafkaProducer
    let interval: Duration
    let logger: Logger

    public init(trail: AuditTrail, database: AdminDatabase, producer: KafkaProducer, interval: Duration = .seconds(1), logger: Logger = Logger(label: "medbus.audit")) {
        self.trail = trail
        self.database = database
        self.producer = producer
        self.interval = interval
        self.logger = logger
    }

    /// Forwards until cancelled. Kafka failures are logged and retried at the next interval.
    public func run() async throws {
        while !Task.isCancelled {
            do { _ = try await forwardPending() } catch is CancellationError { return } catch {
                logger.warning("audit forwarding failed; retrying", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: interval)
        }
    }

    /// Forwards the entries not yet on the topic; returns how many.
    public func forwardPending() async throws -> Int {
        let after = try await database.pool.read { db in
            try Int64.fetchOne(db, sql: "SELECT last_id FROM audit_feed WHERE topic = ?", arguments: [Self.topic]) ?? 0
        }
        let entries = try trail.log.entries(afterID: after, limit: 500)
        guard let last = entries.last else { return 0 }
        let encoder = JSONEncoder()
        encoder.dateEncodingStrategy = .iso8601
        encoder.outputFormatting = .sortedKeys
        let messages = try entries.map { entry in
            KafkaProducerMessage(topic: Self.topic, key: Array(String(entry.id).utf8), value: Array(try encoder.encode(AuditRecord(entry))))
        }
        let reports = try await producer.sendBatch(messages)
        if let failure = reports.lazy.compactMap(\.error).first { throw failure }
        try await database.pool.write { db in
            try db.execute(sql: "INSERT INTO audit_feed (topic, last_id) VALUES (?, ?) ON CONFLICT (topic) DO UPDATE SET last_id = excluded.last_id",
                           arguments: [Self.topic, last.id])
        }
        return entries.count
    }
}
