import CoreMetrics
import Foundation
import GRDB
import MedBusSQLite

/// The saga log: `<data-dir>/settlement.sqlite`, opened like MedBusStore and MedBusRegistry
/// (`DurableDatabase.openPool`: WAL, `synchronous=FULL`, integrity check), so a transition that
/// returned survives a crash or power loss. Timestamps are `Date.storedMicroseconds`.
///
/// `settlements` holds each saga's current record (one row, unique per hospital and charge batch:
/// the idempotency key); `settlement_transitions` is the append-only history (triggers refuse
/// updates and deletes); `settlement_messages` maps every msgid ever sent to its settlement, so a
/// reply is correlated even after a restart. Writes of concurrent sagas are group-committed
/// (`GroupCommit`). Every method throws `SettlementError.store` only.
final class SettlementStore: Sendable {
    let path: String
    private let pool: DatabasePool
    private let writer: GroupCommit
    private let messageIDs = MessageIDSequence()

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
        writer = GroupCommit(pool: pool)
    }

    /// Opens (creating if needed) the saga log in `directory`, checks its integrity and applies pending
    /// migrations (see `DurableDatabase.openPool`).
    static func open(directory: String) throws -> SettlementStore {
        var configuration = Configuration()
        configuration.label = "MedBusSettlement"
        configuration.busyMode = .timeout(5)
        do throws(SQLiteFailure) {
            let pool = try DurableDatabase.openPool(directory: directory, fileName: fileName, configuration: configuration,
                                                    migrator: SettlementSchema.migrator)
            return SettlementStore(path: URL(fileURLWithPath: directory).appendingPathComponent(fileName).path, pool: pool)
        } catch {
            throw Self.translate(error)
        }
    }

    private static let fileName = "settlement.sqlite"

    func close() {
        try? pool.close()
    }

    /// Inserts a new saga, or returns the existing one for the same (fixmedins_code, chrg_bchno).
    /// - Returns: the saga as stored and whether this call created it.
    func create(_ record: SagaRecord) async throws -> (SagaRecord, created: Bool) {
        let data = Self.encode(record)
        return try await write { db in
            try db.execute(sql: """
                INSERT INTO settlements (id, fixmedins_code, chrg_bchno, state, step, msgid, attempt, needs_work, record, created_at, updated_at)
                VALUES (?, ?, ?, ?, NULL, NULL, 0, 1, ?, ?, ?)
                ON CONFLICT (fixmedins_code, chrg_bchno) DO NOTHING
                """, arguments: [record.id, record.request.fixmedinsCode, record.request.chrgBchno, record.state.rawValue,
                                 data, record.createdAt.storedMicroseconds, record.updatedAt.storedMicroseconds])
            if db.changesCount == 1 {
                try Self.appendTransition(db, id: record.id, from: nil, to: record, reason: nil)
                return (record, true)
            }
            let existing = try Data.fetchOne(db, sql: "SELECT record FROM settlements WHERE fixmedins_code = ? AND chrg_bchno = ?",
                                             arguments: [record.request.fixmedinsCode, record.request.chrgBchno])!
            return (try Self.decode(existing), false)
        }
    }

    /// A platform msgid not used before: `fixmedins_code + yyyyMMddHHmmss + 4-digit sequence`
    /// (0001–8999), picked in memory (see `MessageIDSequence`). A step's msgid is recorded for
    /// correlation by the `commit` that makes it the outstanding request, in the same transaction.
    func nextMessageID(fixmedinsCode: String, at date: Date) async throws -> String {
        if let msgid = messageIDs.next(fixmedinsCode: fixmedinsCode, at: date) { return msgid }
        let length = fixmedinsCode.count + MessageIDSequence.suffixLength
        let largest = try await read { db in
            try String.fetchOne(db, sql: """
                SELECT max(msgid) FROM (SELECT msgid FROM settlement_messages WHERE msgid BETWEEN ?1 AND ?2 AND length(msgid) = ?3
                                        UNION ALL SELECT msgid FROM platform_queries WHERE msgid BETWEEN ?1 AND ?2 AND length(msgid) = ?3)
                """, arguments: [fixmedinsCode + "0", fixmedinsCode + "9", length])
        }
        messageIDs.start(fixmedinsCode, after: largest)
        return messageIDs.next(fixmedinsCode: fixmedinsCode, at: date)!
    }

    /// A msgid for a request outside any saga (3201 reconciliation), from the same sequence,
    /// recorded before it is used.
    func allocateQueryMessageID(fixmedinsCode: String, infno: String, at date: Date) async throws -> String {
        let msgid = try await nextMessageID(fixmedinsCode: fixmedinsCode, at: date)
        try await write { db in
            try db.execute(sql: "INSERT INTO platform_queries (msgid, infno, created_at) VALUES (?, ?, ?)",
                           arguments: [msgid, infno, date.storedMicroseconds])
        }
        return msgid
    }

    /// Commits `record` as the saga's new state and appends the transition to the history.
    /// `newRequest`: the outstanding request has a new msgid, recorded here for correlation.
    func commit(_ record: SagaRecord, from: SettlementState, reason: String? = nil, newRequest: Bool = false) async throws {
        let data = Self.encode(record)
        try await write { db in
            if newRequest, let pending = record.pending {
                try db.execute(sql: "INSERT INTO settlement_messages (msgid, settlement_id, step, created_at) VALUES (?, ?, ?, ?)",
                               arguments: [pending.msgid, record.id, pending.step.rawValue, record.updatedAt.storedMicroseconds])
            }
            try db.execute(sql: """
                UPDATE settlements SET state = ?, step = ?, msgid = ?, attempt = ?, needs_work = ?, record = ?, updated_at = ?
                WHERE id = ?
                """, arguments: [record.state.rawValue, record.pending?.step.rawValue, record.pending?.msgid, record.pending?.attempt ?? 0,
                                 record.needsWork, data, record.updatedAt.storedMicroseconds, record.id])
            if from != record.state || reason != nil {
                try Self.appendTransition(db, id: record.id, from: from, to: record, reason: reason)
            }
        }
        // README metrics table; a no-op until the process bootstraps a metrics backend.
        if from != record.state { Counter(label: "medbus_settlement_transitions_total", dimensions: [("state", record.state.rawValue)]).increment() }
    }

    func load(id: String) async throws -> SagaRecord? {
        try await read { db in
            try Data.fetchOne(db, sql: "SELECT record FROM settlements WHERE id = ?", arguments: [id]).map(Self.decode)
        }
    }

    /// The saga's status, without decoding the parts of its record a status does not show.
    func status(id: String) async throws -> SettlementStatus? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT fixmedins_code, chrg_bchno, record FROM settlements WHERE id = ?", arguments: [id]).map { row in
                try SettlementStatus(stored: [UInt8](row["record"] as Data), fixmedinsCode: row["fixmedins_code"], chrgBchno: row["chrg_bchno"])
            }
        }
    }

    /// The saga's state without reading its record (waiting for a final state polls this).
    func state(id: String) async throws -> SettlementState? {
        try await read { db in
            try String.fetchOne(db, sql: "SELECT state FROM settlements WHERE id = ?", arguments: [id]).flatMap(SettlementState.init(rawValue:))
        }
    }

    /// The settlements the request msgids belong to (unknown msgids left out), in one read.
    func settlementIDs(forMessages msgids: [String]) async throws -> [String: String] {
        guard !msgids.isEmpty else { return [:] }
        return try await read { db in
            let placeholders = Array(repeating: "?", count: msgids.count).joined(separator: ",")
            var owners: [String: String] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT msgid, settlement_id FROM settlement_messages WHERE msgid IN (\(placeholders))",
                                        arguments: StatementArguments(msgids)) {
                owners[row["msgid"]] = row["settlement_id"]
            }
            return owners
        }
    }

    /// Sagas with a step to run or outputs to publish: what a restart resumes.
    func unfinishedIDs() async throws -> [String] {
        try await read { db in try String.fetchAll(db, sql: "SELECT id FROM settlements WHERE needs_work = 1 ORDER BY created_at") }
    }

    /// Sagas in `state` created in [from, to), oldest first (reconciliation's candidates).
    func records(state: SettlementState, createdFrom from: Date, to: Date) async throws -> [SagaRecord] {
        try await read { db in
            try Data.fetchAll(db, sql: """
                SELECT record FROM settlements WHERE state = ? AND created_at >= ? AND created_at < ? ORDER BY created_at
                """, arguments: [state.rawValue, from.storedMicroseconds, to.storedMicroseconds]).map(Self.decode)
        }
    }

    /// How many settlements are in each state (for the `medbus_settlement_sagas` gauge).
    func countsByState() async throws -> [String: Int] {
        try await read { db in
            var counts: [String: Int] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT state, COUNT(*) AS n FROM settlements GROUP BY state") { counts[row["state"]] = row["n"] }
            return counts
        }
    }

    /// Newest first, optionally only one state, one hospital, created in [from, to); `offset` rows skipped (paging).
    func list(state: SettlementState?, hospital: String? = nil, createdFrom from: Date? = nil, to: Date? = nil,
              limit: Int, offset: Int = 0) async throws -> [SagaRecord] {
        var filter = RowFilter()
        filter.equals("state", state?.rawValue)
        filter.equals("fixmedins_code", hospital)
        filter.timeRange("created_at", from: from, to: to)
        let (clause, arguments) = (filter.whereClause, filter.arguments(then: [limit, offset]))
        return try await read { db in
            try Data.fetchAll(db, sql: "SELECT record FROM settlements \(clause) ORDER BY created_at DESC, id LIMIT ? OFFSET ?", arguments: arguments)
                .map(Self.decode)
        }
    }

    /// One saga's history, oldest first.
    func transitions(id: String) async throws -> [SettlementTransition] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT from_state, to_state, step, msgid, attempt, reason, at FROM settlement_transitions
                WHERE settlement_id = ? ORDER BY seq
                """, arguments: [id]).map { row in
                SettlementTransition(from: (row["from_state"] as String?).flatMap(SettlementState.init(rawValue:)),
                                     to: SettlementState(rawValue: row["to_state"])!, step: row["step"], msgid: row["msgid"],
                                     attempt: row["attempt"], reason: row["reason"], at: Date(storedMicroseconds: row["at"]))
            }
        }
    }

    private static func appendTransition(_ db: Database, id: String, from: SettlementState?, to record: SagaRecord, reason: String?) throws {
        try db.execute(sql: """
            INSERT INTO settlement_transitions (settlement_id, from_state, to_state, step, msgid, attempt, reason, at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?)
            """, arguments: [id, from?.rawValue, record.state.rawValue, record.pending?.step.rawValue, record.pending?.msgid,
                             record.pending?.attempt ?? 0, reason, record.updatedAt.storedMicroseconds])
    }

    // MARK: - Plumbing

    /// Through group commit: concurrent sagas' writes share a transaction (see `GroupCommit`).
    private func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await writer.write(body) } catch { throw Self.translate(error) }
    }

    private func read<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do { return try await pool.read(body) } catch { throw Self.translate(error) }
    }

    private static func encode(_ record: SagaRecord) -> Data { Data(record.storedBytes) }

    private static func decode(_ data: Data) throws -> SagaRecord { try SagaRecord(stored: [UInt8](data)) }

    /// Keeps SQLite's result code and message only (see `SQLiteFailure`): GRDB's description quotes SQL
    /// and could quote arguments.
    private static func translate(_ error: any Error) -> SettlementError {
        switch error {
        case let error as SettlementError: error
        case let error as SQLiteFailure: translate(error)
        case is DatabaseError: translate(SQLiteFailure(error, path: fileName))
        default: .store(String(describing: type(of: error)))
        }
    }

    private static func translate(_ failure: SQLiteFailure) -> SettlementError {
        switch failure {
        case .directoryNotWritable(let path): .store("cannot create or write to the directory \(path)")
        case .corrupt(let path, let detail): .store("\(path) is damaged: \(detail)")
        case .failed(let detail): .store(detail)
        }
    }
}

/// One entry of a saga's history.
public struct SettlementTransition: Sendable {
    public var from: SettlementState?
    public var to: SettlementState
    /// The step whose request is outstanding after the transition (`2207`, `claim`…).
    public var step: String?
    public var msgid: String?
    public var attempt: Int
    public var reason: String?
    public var at: Date
}
