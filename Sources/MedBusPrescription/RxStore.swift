import Foundation
import GRDB
import MedBusCore
import MedBusKafka
import MedBusSQLite

/// The prescription state machine's durable half: `<data-dir>/rx.sqlite`, opened like the other stores
/// (`DurableDatabase.openPool`: WAL, `synchronous=FULL`, integrity check), so a transition that returned
/// survives a crash or power loss.
///
/// Every write is atomic (a savepoint): it changes the prescription, appends its history, queues the records
/// announcing it (`rx_outbox`) and, for a command, records the command's result. Writes apply one at a time,
/// so of concurrent claims exactly one sees the prescription `valid`; writes that arrive together share one
/// transaction and one fsync (`GroupCommit`), and each returns only once that transaction committed.
///
/// Published outbox records are not deleted in a commit of their own: the next write deletes them in its
/// transaction (`markPublished(through:)`), so publishing every transition as it commits does not put a
/// second fsync in the writer's queue for each one.
final class RxStore: Sendable {
    let path: String
    private let pool: DatabasePool
    private let groupCommit: GroupCommit
    private let published = OutboxWatermark()
    /// The parsed documents of the prescriptions read lately (the service's answers and events use them too).
    let documents = RxDocumentCache()

    static let fileName = "rx.sqlite"

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
        self.groupCommit = GroupCommit(pool: pool)
    }

    /// - Throws: `RxProblem(.storeFailed)` naming the file (not writable, damaged, …).
    static func open(directory: String) throws(RxProblem) -> RxStore {
        var configuration = Configuration()
        configuration.label = "MedBusPrescription"
        configuration.busyMode = .timeout(5)
        let path = URL(fileURLWithPath: directory).appendingPathComponent(fileName).path
        do throws(SQLiteFailure) {
            let pool = try DurableDatabase.openPool(directory: directory, fileName: fileName, configuration: configuration, migrator: RxSchema.migrator)
            return RxStore(path: path, pool: pool)
        } catch {
            switch error {
            case .directoryNotWritable(let directory): throw RxProblem(.storeFailed, "cannot create or write to the directory \(directory)")
            case .corrupt(let path, let detail): throw RxProblem(.storeFailed, "\(path) is damaged: \(detail)")
            case .failed(let detail): throw RxProblem(.storeFailed, "\(path): \(detail)")
            }
        }
    }

    /// Deletes what was published (a service that stops cleanly republishes nothing), then closes.
    func close() {
        if let through = published.undeleted {
            try? pool.write { db in try db.execute(sql: "DELETE FROM rx_outbox WHERE seq <= ?", arguments: [through]) }
        }
        try? pool.close()
    }

    // MARK: - Issue

    struct Issue: Sendable {
        var record: RxRecord
        var inputDigest: String
        var outbox: [RxOutboxRecord]
    }

    enum IssueOutcome: Sendable {
        case created(RxRecord)
        /// The hospital sent this prescription number before: the same content finds the prescription
        /// already issued, a different one is refused.
        case existing(RxRecord, sameContent: Bool)
    }

    /// Inserts the prescriptions of `issues` in one transaction (one fsync for a batch).
    func issue(_ issues: [Issue]) async throws(RxProblem) -> [IssueOutcome] {
        try await write { db in
            let insert = try db.cachedStatement(sql: """
                INSERT INTO prescriptions (id, fixmedins_code, hosp_rxno, trace_code, qr_token, region, status, holder, lease_until,
                    validity_end, max_rept_cnt, used_count, version, input_digest, document, digest, signature, key_id, review,
                    dispenses, created_at, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, 0, ?, ?, ?, ?, ?, ?, NULL, '[]', ?, ?)
                ON CONFLICT (fixmedins_code, hosp_rxno) DO NOTHING
                """)
            return try issues.map { issue in
                let record = issue.record
                try insert.execute(arguments: [record.id, record.fixmedinsCode, record.hospRxno, record.traceCode, record.qrToken, record.region,
                                     record.status.rawValue, record.validityEnd.storedMicroseconds, record.maxReptCnt, record.version,
                                     issue.inputDigest, Data(record.document), record.digest, Data(record.signature), record.keyID,
                                     record.createdAt.storedMicroseconds, record.updatedAt.storedMicroseconds])
                if db.changesCount == 1 {
                    try Self.appendTransition(db, id: record.id, RxTransition(version: record.version, action: .issue, from: nil, to: record.status,
                                                                              actor: nil, reason: nil, detail: nil, at: record.createdAt))
                    try Self.enqueue(db, issue.outbox, at: record.createdAt)
                    return .created(record)
                }
                let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT \(Self.recordColumns), input_digest FROM prescriptions WHERE fixmedins_code = ? AND hosp_rxno = ?"),
                                           arguments: [record.fixmedinsCode, record.hospRxno])!
                return .existing(try Self.record(row), sameContent: (row[Self.recordColumnCount] as String) == issue.inputDigest)
            }
        }
    }

    // MARK: - Transitions

    enum Lookup: Sendable, CustomStringConvertible {
        case id(String)
        case traceCode(String)
        case qrToken(String)

        var column: String {
            switch self {
            case .id: "id"
            case .traceCode: "trace_code"
            case .qrToken: "qr_token"
            }
        }

        var value: String {
            switch self {
            case .id(let value), .traceCode(let value), .qrToken(let value): value
            }
        }

        var description: String {
            switch self {
            case .id(let id): "prescription \(id)"
            case .traceCode: "the trace code given"
            case .qrToken: "the QR token given"
            }
        }
    }

    enum ApplyOutcome: Sendable {
        /// The request was applied (transition nil: it changed nothing, e.g. the holder claiming again).
        case applied(RxRecord, RxTransition?)
        case refused(RxProblem, RxRecord?)
        /// The command id was seen before: its stored result.
        case replayed(JSONValue)
    }

    /// Applies `request` to one prescription in one transaction. Time goes first: a prescription whose validity
    /// ended is expired, a claim whose lease ran out lapses (each a committed, published transition of its own),
    /// and only then is `request` applied or refused.
    ///
    /// - Parameters:
    ///   - commandID: a command's id: seen before → `.replayed` (its result record queued again, if it has one);
    ///     otherwise `result` of the outcome is recorded under it, in the same transaction.
    ///   - announce: the records that publish a transition.
    ///   - result: the command result record, from the outcome.
    func apply(_ lookup: Lookup, _ request: RxRequest, at now: Date, lease: Duration, commandID: String? = nil,
               announce: @escaping @Sendable (RxRecord, RxTransition) -> [RxOutboxRecord],
               result: @escaping @Sendable (ApplyOutcome) -> (JSONValue, RxOutboxRecord?)? = { _ in nil }) async throws(RxProblem) -> ApplyOutcome {
        try await write { [documents] db in
            if let commandID, let stored = try Data.fetchOne(db.cachedStatement(sql: "SELECT result FROM rx_commands WHERE command_id = ?"), arguments: [commandID]) {
                let value = try JSONValue.parse(Array(stored))
                let outcome = ApplyOutcome.replayed(value)
                if let record = result(outcome)?.1 { try Self.enqueue(db, [record], at: now) }
                return outcome
            }
            var outcome: ApplyOutcome
            if var record = try Self.fetch(db, lookup) {
                while let (after, transition) = record.applyingDueTransition(at: now, lease: lease) {
                    try Self.commit(db, after, transition, announce: announce, at: now)
                    record = after
                }
                let current = record
                switch Result(catching: { () throws(RxProblem) in
                    try current.applying(request, at: now, lease: lease, prescription: { documents.document(of: current) })
                }) {
                case .success(let (after, transition)?):
                    try Self.commit(db, after, transition, announce: announce, at: now)
                    outcome = .applied(after, transition)
                case .success(nil):
                    outcome = .applied(record, nil)
                case .failure(let problem):
                    outcome = .refused(problem, record)
                }
            } else {
                outcome = .refused(RxProblem(.notFound, "no prescription for \(lookup)"), nil)
            }
            if let commandID, let (stored, record) = result(outcome) {
                let rxID: String? = switch outcome {
                case .applied(let record, _): record.id
                case .refused(_, let record): record?.id
                case .replayed: nil
                }
                try db.cachedStatement(sql: "INSERT INTO rx_commands (command_id, rx_id, result, at) VALUES (?, ?, ?, ?)")
                    .execute(arguments: [commandID, rxID, Data(stored.jsonBytes), now.storedMicroseconds])
                try Self.enqueue(db, record.map { [$0] } ?? [], at: now)
            }
            return outcome
        }
    }

    /// Expires every prescription whose validity ended and lapses every claim whose lease ran out at `now`, up to
    /// `limit` prescriptions, in one transaction. Returns the transitions made.
    func sweep(at now: Date, lease: Duration, limit: Int = 500, announce: @escaping @Sendable (RxRecord, RxTransition) -> [RxOutboxRecord]) async throws(RxProblem) -> [RxTransition] {
        try await write { db in
            let rows = try Row.fetchAll(db, sql: """
                SELECT \(Self.recordColumns) FROM prescriptions WHERE status IN ('valid', 'claimed', 'reviewed') AND validity_end <= ?1
                UNION
                SELECT \(Self.recordColumns) FROM prescriptions WHERE status IN ('claimed', 'reviewed') AND lease_until <= ?1
                LIMIT ?2
                """, arguments: [now.storedMicroseconds, limit])
            var made: [RxTransition] = []
            for row in rows {
                var record = try Self.record(row)
                while let (after, transition) = record.applyingDueTransition(at: now, lease: lease) {
                    try Self.commit(db, after, transition, announce: announce, at: now)
                    record = after
                    made.append(transition)
                }
            }
            return made
        }
    }

    // MARK: - The centre

    /// Records the prescription's state at the insurance e-prescription centre, with the records announcing it
    /// (a dead letter for a rejected call), in one transaction. Returns false when there is no such prescription.
    func recordCentre(id: String, _ state: RxCentreState, records: [RxOutboxRecord]) async throws(RxProblem) -> Bool {
        try await write { db in
            try db.execute(sql: "UPDATE prescriptions SET centre = ? WHERE id = ?", arguments: [state.json.jsonText, id])
            guard db.changesCount == 1 else { return false }
            try Self.enqueue(db, records, at: state.at)
            return true
        }
    }

    // MARK: - Reading

    func load(_ lookup: Lookup) async throws(RxProblem) -> RxRecord? {
        try await read { db in try Self.fetch(db, lookup) }
    }

    /// Newest first, optionally one status only, one hospital, created in [from, to); `offset` rows skipped (paging).
    func list(status: RxStatus?, hospital: String? = nil, createdFrom from: Date? = nil, to: Date? = nil,
              limit: Int, offset: Int = 0) async throws(RxProblem) -> [RxRecord] {
        var filter = RowFilter()
        filter.equals("status", status?.rawValue)
        filter.equals("fixmedins_code", hospital)
        filter.timeRange("created_at", from: from, to: to)
        let (clause, arguments) = (filter.whereClause, filter.arguments(then: [limit, offset]))
        return try await read { db in
            try Row.fetchAll(db, sql: "SELECT \(Self.recordColumns) FROM prescriptions \(clause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: arguments)
                .map(Self.record)
        }
    }

    /// How many prescriptions are in each status (for the `medbus_prescriptions` gauge).
    func countsByStatus() async throws(RxProblem) -> [RxStatus: Int] {
        try await read { db in
            var counts: [RxStatus: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT status, count(*) AS n FROM prescriptions GROUP BY status") {
                if let status = RxStatus(rawValue: row["status"]) { counts[status] = row["n"] }
            }
            return counts
        }
    }

    /// One prescription's history, oldest first.
    func transitions(id: String) async throws(RxProblem) -> [RxTransition] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM rx_transitions WHERE rx_id = ? ORDER BY version", arguments: [id]).map { row in
                RxTransition(version: row["version"], action: RxAction(rawValue: row["action"])!, from: (row["from_status"] as String?).flatMap(RxStatus.init),
                             to: RxStatus(rawValue: row["to_status"])!, actor: row["actor"], reason: row["reason"],
                             detail: try (row["detail"] as String?).map { try JSONValue.parse($0) }, at: Date(storedMicroseconds: row["at"]))
            }
        }
    }

    // MARK: - Outbox

    /// The oldest records not yet published, in the order they were committed.
    func pendingOutbox(limit: Int) async throws(RxProblem) -> [(seq: Int64, record: RxOutboxRecord, at: Date)] {
        let after = published.through
        return try await read { db in
            let select = try db.cachedStatement(sql: """
                SELECT seq, topic, key, value, message_id, message_type, headers, created_at FROM rx_outbox WHERE seq > ? ORDER BY seq LIMIT ?
                """)
            return try Row.fetchAll(select, arguments: [after, limit]).map { row in
                let headers = try (row[6] as String?).map { try JSONValue.parse($0).objectFields.map { ($0.key, $0.value.stringValue ?? "") } } ?? []
                return (row[0], RxOutboxRecord(topic: row[1], key: row[2], value: Array(row[3] as Data), messageID: row[4],
                                               messageType: row[5], headers: headers.sorted { $0.0 < $1.0 }),
                        Date(storedMicroseconds: row[7]))
            }
        }
    }

    /// Kafka acknowledged the records up to `seq`: `pendingOutbox` skips them, and the next write deletes them.
    /// (After a crash before that write they are published again: at least once, as every outbox record.)
    func markPublished(through seq: Int64) {
        published.advance(to: seq)
    }

    /// Deletes the published records now, if no write did (the publisher calls it when writes are rare).
    func deletePublished() async throws(RxProblem) {
        guard published.undeleted != nil else { return }
        try await write { _ in }
    }

    // MARK: - Plumbing

    private static func commit(_ db: Database, _ record: RxRecord, _ transition: RxTransition,
                               announce: (RxRecord, RxTransition) -> [RxOutboxRecord], at now: Date) throws {
        try db.cachedStatement(sql: """
            UPDATE prescriptions SET status = ?, holder = ?, lease_until = ?, used_count = ?, version = ?, review = ?, dispenses = ?, updated_at = ?
            WHERE id = ? AND version = ?
            """).execute(arguments: [record.status.rawValue, record.holder, record.leaseUntil?.storedMicroseconds, record.usedCount, record.version,
                             record.review?.jsonText, JSONValue.array(record.dispenses).jsonText, record.updatedAt.storedMicroseconds,
                             record.id, record.version - 1])
        // The version check makes a lost update impossible even if two writers ever raced.
        guard db.changesCount == 1 else { throw RxProblem(.storeFailed, "prescription \(record.id) changed concurrently") }
        try appendTransition(db, id: record.id, transition)
        try enqueue(db, announce(record, transition), at: now)
    }

    private static func appendTransition(_ db: Database, id: String, _ transition: RxTransition) throws {
        try db.cachedStatement(sql: """
            INSERT INTO rx_transitions (rx_id, version, action, from_status, to_status, actor, reason, detail, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [id, transition.version, transition.action.rawValue, transition.from?.rawValue, transition.to.rawValue, transition.actor,
                             transition.reason, transition.detail?.jsonText, transition.at.storedMicroseconds])
    }

    private static func enqueue(_ db: Database, _ records: [RxOutboxRecord], at now: Date) throws {
        guard !records.isEmpty else { return }
        let insert = try db.cachedStatement(sql: "INSERT INTO rx_outbox (topic, key, value, message_id, message_type, headers, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        for record in records {
            let headers = record.headers.isEmpty ? nil : JSONValue.object(record.headers.map { ($0.0, .string($0.1)) }).jsonText
            try insert.execute(arguments: [record.topic, record.key, Data(record.value), record.messageID, record.messageType, headers, now.storedMicroseconds])
        }
    }

    /// The columns `record(_:)` reads, in its order. Read by position and through cached statements: on the
    /// claim path, inside the one writer, compiling `SELECT *` and finding columns by name cost more than the rest.
    private static let recordColumns = """
        id, fixmedins_code, hosp_rxno, trace_code, qr_token, region, status, holder, lease_until, validity_end, max_rept_cnt, used_count, \
        version, document, digest, signature, key_id, review, dispenses, created_at, updated_at, centre
        """
    private static let recordColumnCount = 22

    /// The prescription `lookup` finds.
    private static func fetch(_ db: Database, _ lookup: Lookup) throws -> RxRecord? {
        try Row.fetchOne(db.cachedStatement(sql: "SELECT \(recordColumns) FROM prescriptions WHERE \(lookup.column) = ?"), arguments: [lookup.value]).map(record)
    }

    private static func record(_ row: Row) throws -> RxRecord {
        RxRecord(
            id: row[0], fixmedinsCode: row[1], hospRxno: row[2], traceCode: row[3], qrToken: row[4],
            region: row[5], status: RxStatus(rawValue: row[6]) ?? .valid, holder: row[7],
            leaseUntil: (row[8] as Int64?).map(Date.init(storedMicroseconds:)),
            validityEnd: Date(storedMicroseconds: row[9]), maxReptCnt: row[10], usedCount: row[11],
            version: row[12], document: Array(row[13] as Data), digest: row[14], signature: Array(row[15] as Data),
            keyID: row[16], review: try (row[17] as String?).map { try JSONValue.parse($0) },
            dispenses: try JSONValue.parse(row[18] as String).arrayValue ?? [],
            createdAt: Date(storedMicroseconds: row[19]), updatedAt: Date(storedMicroseconds: row[20]),
            centre: try (row[21] as String?).map { try RxCentreState(json: JSONValue.parse($0)) })
    }

    /// `body` in its own savepoint of the next group commit, with the deletion of the published outbox records.
    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(RxProblem) -> T {
        let undeleted = published.undeleted
        do {
            let value = try await groupCommit.write { db in
                if let undeleted { try db.cachedStatement(sql: "DELETE FROM rx_outbox WHERE seq <= ?").execute(arguments: [undeleted]) }
                return try body(db)
            }
            if let undeleted { published.deleted(through: undeleted) }
            return value
        } catch { throw Self.translate(error) }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws(RxProblem) -> T {
        do { return try await pool.read(body) } catch { throw Self.translate(error) }
    }

    /// Keeps SQLite's result code and message only (see `SQLiteFailure`): GRDB's description quotes SQL and
    /// could quote arguments.
    private static func translate(_ error: any Error) -> RxProblem {
        switch error {
        case let problem as RxProblem: problem
        case is DatabaseError: RxProblem(.storeFailed, "\(SQLiteFailure(error, path: fileName))")
        default: RxProblem(.storeFailed, String(describing: type(of: error)))
        }
    }
}

/// How far the outbox is published, and how far its rows are deleted.
private final class OutboxWatermark: @unchecked Sendable {
    private let lock = NSLock()
    private var published: Int64 = 0
    private var deleted: Int64 = 0

    var through: Int64 { lock.withLock { published } }

    /// The last published seq, when rows up to it may remain.
    var undeleted: Int64? { lock.withLock { published > deleted ? published : nil } }

    func advance(to seq: Int64) { lock.withLock { published = max(published, seq) } }

    func deleted(through seq: Int64) { lock.withLock { deleted = max(deleted, seq) } }
}

/// A record to publish, as the outbox keeps it.
struct RxOutboxRecord: Sendable {
    var topic: String
    var key: String
    var value: [UInt8]
    var messageID: String
    var messageType: String
    /// Added after the envelope headers (the dead-letter headers of a rejected centre call).
    var headers: [(String, String)] = []

    /// With the envelope headers: source `rx`, JSON, received at the time of the transition.
    func producerMessage(at date: Date) -> KafkaProducerMessage {
        KafkaProducerMessage(topic: topic, key: Array(key.utf8), value: value,
                             headers: MessageEnvelope(id: messageID, source: "rx", messageType: messageType, contentType: "application/json", receivedAt: date).headers
                                + headers.map { KafkaHeader(key: $0.0, string: $0.1) })
    }
}
