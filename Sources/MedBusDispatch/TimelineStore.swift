import Foundation
import GRDB
import MedBusCore
import MedBusSQLite
import NIOConcurrencyHelpers

/// The task timelines in SQLite (`<data-dir>/dispatch.sqlite`, WAL, synchronous FULL): every event
/// once (by event id), each task's computed state, and each pre-arrival notice version with
/// whether it reached Kafka yet.
///
/// `apply` takes a batch of events in one transaction: new events are inserted (a redelivered
/// event id is ignored), each task they touch is recomputed from all its events, and the notices
/// now due are recorded as unpublished. Because state is recomputed from the stored events, order
/// of arrival and redelivery cannot change the result.
public final class TimelineStore: Sendable {
    public let databasePath: String
    private let pool: DatabasePool
    private let vitalSigns: VitalSigns
    private let parser: DispatchEventParser
    /// Parsed events of recently touched tasks, so a batch does not re-parse whole histories.
    private let cache = NIOLockedValueBox<[String: [DispatchEvent]]>([:])
    private static let cacheTasks = 20_000

    public struct OpenError: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Throws: `OpenError` naming the file when it cannot be opened, is damaged or a migration fails.
    public static func open(directory: String, vitalSigns: VitalSigns) throws -> TimelineStore {
        var configuration = Configuration()
        configuration.label = "MedBusDispatch"
        configuration.busyMode = .timeout(5)
        do {
            let pool = try DurableDatabase.openPool(directory: directory, fileName: "dispatch.sqlite", configuration: configuration, pragmas: ["temp_store = MEMORY"], migrator: migrator)
            return TimelineStore(pool: pool, vitalSigns: vitalSigns)
        } catch {
            throw OpenError(description: "dispatch timeline database in \(directory): \(error)")
        }
    }

    private init(pool: DatabasePool, vitalSigns: VitalSigns) {
        self.pool = pool
        self.databasePath = pool.path
        self.vitalSigns = vitalSigns
        self.parser = DispatchEventParser(centre: nil, vitalSigns: vitalSigns)
    }

    public func close() throws { try pool.close() }

    private static var migrator: DatabaseMigrator {
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE event (
                    event_id TEXT PRIMARY KEY, task_id TEXT NOT NULL, stage TEXT NOT NULL,
                    at_us INTEGER NOT NULL, payload BLOB NOT NULL, stored_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX event_task ON event(task_id);
                CREATE TABLE task (
                    task_id TEXT PRIMARY KEY, centre TEXT NOT NULL, stage TEXT, stage_at TEXT, destination TEXT,
                    eta TEXT, on_board INTEGER NOT NULL, completed INTEGER NOT NULL, event_count INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL, timeline TEXT NOT NULL
                );
                CREATE INDEX task_active ON task(completed, updated_at);
                CREATE TABLE notice (
                    task_id TEXT NOT NULL, version INTEGER NOT NULL, hospital TEXT NOT NULL, status TEXT NOT NULL,
                    content TEXT NOT NULL, created_at INTEGER NOT NULL, published_at INTEGER,
                    PRIMARY KEY (task_id, version)
                ) WITHOUT ROWID;
                CREATE INDEX notice_unpublished ON notice(published_at) WHERE published_at IS NULL;
                """)
        }
        return migrator
    }

    /// What one `apply` did.
    public struct Applied: Sendable {
        /// Events new to the store (the rest were redeliveries).
        public var inserted = 0
        /// Notices now due, recorded unpublished: publish them, then `markPublished`.
        public var notices: [PrearrivalNotice] = []
    }

    /// Stores `events` and recomputes the tasks they touch, in one transaction.
    public func apply(_ events: [DispatchEvent]) throws -> Applied {
        let now = Date().storedMicroseconds
        var applied = Applied()
        var touched: [String: [DispatchEvent]] = [:]
        do {
            let histories = try pool.write { db -> [String: [DispatchEvent]] in
                for event in events {
                    try db.execute(
                        sql: "INSERT OR IGNORE INTO event (event_id, task_id, stage, at_us, payload, stored_at) VALUES (?, ?, ?, ?, ?, ?)",
                        arguments: [event.eventId, event.taskId, event.stage.rawValue, event.time.microseconds, Data(event.body.jsonBytes), now]
                    )
                    if db.changesCount > 0 {
                        applied.inserted += 1
                        touched[event.taskId, default: []].append(event)
                    }
                }
                var histories: [String: [DispatchEvent]] = [:]
                for (taskId, new) in touched {
                    let history = try self.history(of: taskId, new: new, db)
                    histories[taskId] = history
                    let timeline = TaskTimeline(taskId: taskId, events: history, vitalSigns: vitalSigns)
                    try save(timeline, eventCount: history.count, now: now, db)
                    let due = PrearrivalNotice.due(for: timeline, last: try lastNotice(of: taskId, db), vitalSigns: vitalSigns)
                    for notice in due {
                        try db.execute(
                            sql: "INSERT INTO notice (task_id, version, hospital, status, content, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                            arguments: [notice.taskId, notice.version, notice.hospital, notice.status.rawValue, notice.content.jsonText, now]
                        )
                    }
                    applied.notices += due
                }
                return histories
            }
            cache.withLockedValue { cache in
                if cache.count + histories.count > Self.cacheTasks { cache.removeAll(keepingCapacity: true) }
                cache.merge(histories) { _, new in new }
            }
        } catch {
            // The transaction rolled back: forget what this batch may have cached.
            cache.withLockedValue { cache in for taskId in touched.keys { cache[taskId] = nil } }
            throw error
        }
        return applied
    }

    /// All events of a task: the cached history plus `new`, or a fresh read.
    private func history(of taskId: String, new: [DispatchEvent], _ db: Database) throws -> [DispatchEvent] {
        if let cached = cache.withLockedValue({ $0[taskId] }) { return cached + new }
        return try Row.fetchAll(db, sql: "SELECT payload FROM event WHERE task_id = ?", arguments: [taskId]).compactMap { row in
            let payload: Data = row["payload"]
            if case .event(let event) = parser.parse(Array(payload)) { return event }
            return nil
        }
    }

    private func save(_ timeline: TaskTimeline, eventCount: Int, now: Int64, _ db: Database) throws {
        let stage = timeline.stage
        try db.execute(
            sql: """
                INSERT INTO task (task_id, centre, stage, stage_at, destination, eta, on_board, completed, event_count, updated_at, timeline)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                ON CONFLICT(task_id) DO UPDATE SET centre = excluded.centre, stage = excluded.stage, stage_at = excluded.stage_at,
                    destination = excluded.destination, eta = excluded.eta, on_board = excluded.on_board, completed = excluded.completed,
                    event_count = excluded.event_count, updated_at = excluded.updated_at, timeline = excluded.timeline
                """,
            arguments: [
                timeline.taskId, timeline.centre, stage?.rawValue, stage.flatMap { timeline.reached[$0]?.text }, timeline.destination,
                timeline.eta?.text, timeline.patientOnBoard, timeline.isCompleted, eventCount, now, timeline.json.jsonText,
            ]
        )
    }

    private func lastNotice(of taskId: String, _ db: Database) throws -> PrearrivalNotice? {
        try Row.fetchOne(db, sql: "SELECT * FROM notice WHERE task_id = ? ORDER BY version DESC LIMIT 1", arguments: [taskId]).flatMap(Self.notice)
    }

    private static func notice(_ row: Row) -> PrearrivalNotice? {
        guard let status = PrearrivalNotice.Status(rawValue: row["status"]), let content = try? JSONParser.parse(row["content"] as String) else { return nil }
        return PrearrivalNotice(taskId: row["task_id"], hospital: row["hospital"], version: row["version"], status: status, content: content)
    }

    /// Notices recorded but not yet confirmed on Kafka (after a crash or a Kafka outage), oldest first.
    public func unpublishedNotices() throws -> [PrearrivalNotice] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM notice WHERE published_at IS NULL ORDER BY created_at, task_id, version").compactMap(Self.notice)
        }
    }

    public func markPublished(_ notices: [PrearrivalNotice]) throws {
        guard !notices.isEmpty else { return }
        let now = Date().storedMicroseconds
        try pool.write { db in
            for notice in notices {
                try db.execute(sql: "UPDATE notice SET published_at = ? WHERE task_id = ? AND version = ?", arguments: [now, notice.taskId, notice.version])
            }
        }
    }

    // MARK: Reading, for the CLI and tests

    /// A row of `medbus dispatch tasks`.
    public struct TaskSummary: Sendable, Equatable, Codable {
        public var taskId: String
        public var centre: String
        public var stage: String?
        public var stageAt: String?
        public var destination: String?
        public var eta: String?
        public var patientOnBoard: Bool
        public var completed: Bool
        public var eventCount: Int
        /// When the timeline last changed (an event arrived).
        public var updatedAt: Date
    }

    /// Tasks, most recently updated first; only those not completed unless `includeCompleted` (only completed ones with
    /// `completedOnly`), optionally only those whose latest stage is `stage`, bound for `destination`, updated in
    /// [from, to); `offset` rows skipped (paging).
    public func tasks(includeCompleted: Bool = false, completedOnly: Bool = false, stage: String? = nil, destination: String? = nil,
                      updatedFrom from: Date? = nil, to: Date? = nil, limit: Int = 1000, offset: Int = 0) throws -> [TaskSummary] {
        var filter = RowFilter(completedOnly ? ["completed = 1"] : includeCompleted ? [] : ["completed = 0"])
        filter.equals("stage", stage)
        filter.equals("destination", destination)
        filter.timeRange("updated_at", from: from, to: to)
        return try pool.read { db in
            try Row.fetchAll(
                db, sql: "SELECT * FROM task \(filter.whereClause) ORDER BY updated_at DESC, task_id LIMIT ? OFFSET ?",
                arguments: filter.arguments(then: [limit, offset])
            ).map { row in
                TaskSummary(
                    taskId: row["task_id"], centre: row["centre"], stage: row["stage"], stageAt: row["stage_at"], destination: row["destination"],
                    eta: row["eta"], patientOnBoard: row["on_board"], completed: row["completed"], eventCount: row["event_count"],
                    updatedAt: Date(storedMicroseconds: row["updated_at"])
                )
            }
        }
    }

    /// A task's timeline (see `TaskTimeline.json`), or nil for an unknown task.
    public func timeline(of taskId: String) throws -> JSONValue? {
        try pool.read { db in
            try String.fetchOne(db, sql: "SELECT timeline FROM task WHERE task_id = ?", arguments: [taskId]).flatMap { try? JSONParser.parse($0) }
        }
    }

    /// Every notice version of a task, oldest first.
    public func notices(of taskId: String) throws -> [(notice: PrearrivalNotice, published: Bool)] {
        try pool.read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM notice WHERE task_id = ? ORDER BY version", arguments: [taskId]).compactMap { row in
                Self.notice(row).map { ($0, (row["published_at"] as Int64?) != nil) }
            }
        }
    }

    /// How many tasks have each latest stage (for the `medbus_dispatch_tasks` gauge).
    public func taskCountsByStage() throws -> [String: Int] {
        try pool.read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT stage, COUNT(*) AS n FROM task WHERE stage IS NOT NULL GROUP BY stage") {
                counts[row["stage"]] = row["n"]
            }
            return counts
        }
    }

    /// How many distinct events are stored.
    public func eventCount() throws -> Int {
        try pool.read { db in try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM event") ?? 0 }
    }
}
