import Foundation
import Logging

/// One poll of the HIS table, in three steps, each committing its progress to the state only
/// after Kafka acknowledged what it covers:
/// 1. new rows above the high-water mark, up to the first gap that has not settled (`IdWindow`);
/// 2. holes: ids skipped earlier that have appeared since (a late commit), published out of order;
/// 3. with `onUpdate: republish`, rows whose version column changed since they were published.
actor TablePoller {
    private let database: any TableDatabase
    private let state: TableAdapterState
    private let settings: TableAdapterSettings
    private let publisher: RowPublisher
    private let queries: TableQueries
    private let logger: Logger
    private var window: IdWindow
    /// The highest version each update scan saw, with when the scan started. The scan's cursor
    /// moves to a maximum only once it is `settle` old, so an update committed late (its
    /// timestamp older than versions already seen) is still found by the next scans.
    private var scanMaxima: [(at: ContinuousClock.Instant, version: TableValue)] = []

    init(database: any TableDatabase, state: TableAdapterState, settings: TableAdapterSettings, publisher: RowPublisher, logger: Logger) {
        self.database = database
        self.state = state
        self.settings = settings
        self.publisher = publisher
        self.queries = TableQueries(settings: settings, dialect: database.dialect)
        self.logger = logger
        self.window = IdWindow(settle: settings.settle)
    }

    /// - Returns: true when a full page of new rows was published (more may be waiting).
    func pollOnce() async throws -> Bool {
        let fullPage = try await publishNewRows()
        try await publishLateRows()
        if settings.onUpdate == .republish { try await republishUpdates() }
        return fullPage
    }

    nonisolated func close() { database.close() }

    private func publishNewRows() async throws -> Bool {
        let mark = try state.highWaterMark
        let rows = try await database.query(queries.newRows(afterMark: mark != nil), mark.map { [.number(String($0))] } ?? [])
        let items = try rows.map(item)
        let plan = window.plan(highWaterMark: mark, ids: items.map(\.id), now: .now)
        let offered = Array(items.prefix(plan.publishCount))
        guard !offered.isEmpty else { return false }
        let results = await publisher.publish(offered, database: database)
        // The mark moves over the longest prefix that is done; what follows a failure is retried.
        var newMark = mark
        var versions: [(Int64, String)] = []
        for item in offered {
            guard let result = results[item.id], result != .notDone else { break }
            newMark = item.id
            if case .published = result, let version = item.version { versions.append((item.id, version)) }
        }
        guard let newMark, newMark != mark else { return false }
        let holes = plan.holes.filter { $0 < newMark }
        try state.commit(highWaterMark: newMark, newHoles: holes, published: versions)
        if !holes.isEmpty { logger.info("ids skipped after waiting; looked for as holes", metadata: ["count": "\(holes.count)", "below": "\(newMark)"]) }
        if plan.untrackedGapIds > 0 { logger.warning("gap too wide to track; ids skipped", metadata: ["count": "\(plan.untrackedGapIds)", "below": "\(newMark)"]) }
        return newMark == offered.last?.id && rows.count == settings.batchSize
    }

    private func publishLateRows() async throws {
        let (holes, expired) = try state.holes(retention: settings.holeRetention, limit: 500)
        if expired > 0 { logger.warning("holes expired; those ids are no longer looked for", metadata: ["count": "\(expired)"]) }
        guard !holes.isEmpty else { return }
        let items = try await database.query(queries.rows(ids: holes), []).map(item)
        guard !items.isEmpty else { return }
        logger.warning("rows committed late; published out of id order", metadata: ["count": "\(items.count)"])
        let results = await publisher.publish(items, database: database)
        let done = items.filter { results[$0.id].map { $0 != .notDone } ?? false }
        try state.commit(highWaterMark: nil, filledHoles: done.map(\.id), published: done.compactMap { item in item.version.map { (item.id, $0) } })
    }

    private func republishUpdates() async throws {
        guard let mark = try state.highWaterMark else { return }
        let cursor = try state.versionCursor
        let started = ContinuousClock.now
        var last: (version: TableValue, id: Int64)?
        while true {
            let rows: [TableRow]
            if let last {
                rows = try await database.query(queries.updatesNextPage(), [last.version, .number(String(last.id)), .number(String(mark))])
            } else if let cursor {
                rows = try await database.query(queries.updatesFirstPage(withCursor: true), [cursor, .number(String(mark))])
            } else {
                rows = try await database.query(queries.updatesFirstPage(withCursor: false), [.number(String(mark))])
            }
            let items = try rows.map(item)
            guard let lastRow = rows.last, let lastItem = items.last, let lastVersion = lastRow[settings.versionColumn!] else { break }
            let published = try state.publishedVersions(items.map(\.id))
            let changed = items.filter { item in published[item.id].map { $0 != item.version } ?? false }
            if !changed.isEmpty {
                let results = await publisher.publish(changed, database: database)
                let done = changed.filter { results[$0.id].map { $0 != .notDone } ?? false }
                try state.commit(highWaterMark: nil, published: done.compactMap { item in item.version.map { (item.id, $0) } })
                logger.info("updated rows published again", metadata: ["count": "\(done.count)"])
                // Not all done: scan again from the same cursor next time.
                guard done.count == changed.count else { return }
            }
            last = (lastVersion, lastItem.id)
            if rows.count < settings.batchSize { break }
        }
        if let last { scanMaxima.append((started, last.version)) }
        let now = ContinuousClock.now
        if let settled = scanMaxima.lastIndex(where: { now - $0.at >= settings.settle }) {
            try state.commit(highWaterMark: nil, versionCursor: scanMaxima[settled].version)
            scanMaxima.removeFirst(settled + 1)
        }
    }

    private func item(_ row: TableRow) throws -> RowPublisher.Item {
        guard let id = row[settings.idColumn]?.int64 else {
            throw TableDatabaseError("column '\(settings.idColumn)' (idColumn) must be a non-null integer in every row of the query")
        }
        let version = settings.onUpdate == .republish ? (row[settings.versionColumn!]?.text ?? "") : nil
        return RowPublisher.Item(id: id, row: row, version: version)
    }
}

/// The SQL the poller runs: the manifest's query wrapped as a subquery, so a view, a join or a
/// filter in it works unchanged.
struct TableQueries {
    let dialect: TableDialect
    let source: String
    let id: String
    let version: String
    let limit: Int

    init(settings: TableAdapterSettings, dialect: TableDialect) {
        self.dialect = dialect
        source = "(\(settings.query)) AS medbus_rows"
        id = Self.quoted(settings.idColumn)
        version = Self.quoted(settings.versionColumn ?? settings.idColumn)
        limit = settings.batchSize
    }

    static func quoted(_ name: String) -> String { "\"\(name.replacingOccurrences(of: "\"", with: "\"\""))\"" }

    private func p(_ n: Int) -> String { dialect.placeholder(n) }

    func newRows(afterMark: Bool) -> String {
        "SELECT * FROM \(source)\(afterMark ? " WHERE \(id) > \(p(1))" : "") ORDER BY \(id) LIMIT \(limit)"
    }

    /// Ids are integers the adapter produced, so they are written into the SQL.
    func rows(ids: [Int64]) -> String {
        "SELECT * FROM \(source) WHERE \(id) IN (\(ids.map(String.init).joined(separator: ","))) ORDER BY \(id)"
    }

    /// First page of an update scan: from the cursor (`$1`) if there is one; `$2` (or `$1`) the mark.
    func updatesFirstPage(withCursor hasCursor: Bool) -> String {
        let start = hasCursor ? "\(version) >= \(p(1)) AND \(id) <= \(p(2))" : "\(version) IS NOT NULL AND \(id) <= \(p(1))"
        return "SELECT * FROM \(source) WHERE \(start) ORDER BY \(version), \(id) LIMIT \(limit)"
    }

    /// Next page: after (`$1` version, `$2` id), up to the mark `$3`.
    func updatesNextPage() -> String {
        "SELECT * FROM \(source) WHERE (\(version) > \(p(1)) OR (\(version) = \(p(1)) AND \(id) > \(p(2)))) AND \(id) <= \(p(3)) ORDER BY \(version), \(id) LIMIT \(limit)"
    }
}
