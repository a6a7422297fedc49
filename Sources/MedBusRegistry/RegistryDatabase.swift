import Foundation
import GRDB

/// The registry's SQLite file, shared by `MappingRegistry` and `AuditLog`: one `DatabasePool` in WAL mode with
/// `synchronous=FULL`, so once a publish returns it survives a crash or a power loss.
///
/// Every change runs in an IMMEDIATE transaction: the write lock is taken before the highest version number is
/// read, so two processes publishing the same name at once (two operators, two CLI runs) queue up instead of
/// both computing N+1. The second waits up to `busyTimeout` for the first.
final class RegistryDatabase: Sendable {
    let path: String
    private let pool: DatabasePool
    private let closedFlag = ClosedFlag()

    /// How long a change waits for another process's write lock before failing with SQLITE_BUSY.
    private static let busyTimeout: TimeInterval = 10

    static let fileName = "registry.sqlite"

    private init(path: String, pool: DatabasePool) {
        self.path = path
        self.pool = pool
    }

    /// Opens (creating if missing) `directory/registry.sqlite`, checks it with `PRAGMA quick_check` and applies
    /// pending migrations.
    static func open(directory: URL) throws -> RegistryDatabase {
        try ensureWritable(directory: directory)
        let path = directory.appendingPathComponent(fileName).path
        do {
            let pool = try DatabasePool(path: path, configuration: configuration)
            try pool.writeWithoutTransaction { db in
                // GRDB uses synchronous=NORMAL with WAL, which may lose the last commits on power loss. Only the
                // writer connection commits, so setting FULL here is enough.
                try db.execute(sql: "PRAGMA synchronous = FULL")
                if let problem = try quickCheckProblem(db) {
                    throw RegistryError.corrupt(path: path, detail: problem)
                }
            }
            try RegistrySchema.migrator.migrate(pool)
            return RegistryDatabase(path: path, pool: pool)
        } catch {
            throw RegistryError(error, path: path)
        }
    }

    func close() throws {
        guard closedFlag.close() else { return }
        do { try pool.close() } catch { throw RegistryError(error, path: path) }
    }

    /// Runs `body` on a reader connection (a consistent snapshot).
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try pool.read(body) }
    }

    /// Runs `body` in an IMMEDIATE transaction on the writer connection; a throw rolls everything back.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors {
            try pool.writeWithoutTransaction { db in
                var result: T?
                try db.inTransaction(.immediate) {
                    result = try body(db)
                    return .commit
                }
                return result!
            }
        }
    }

    func quickCheck() throws -> String? {
        try read { try Self.quickCheckProblem($0) }
    }

    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        guard !closedFlag.isClosed else { throw RegistryError.closed }
        do { return try body() } catch { throw RegistryError(error, path: path) }
    }

    private static var configuration: Configuration {
        var configuration = Configuration()
        configuration.label = "MedBusRegistry"
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        return configuration
    }

    /// Checks up front, so a bad directory is reported as such instead of as an SQLite open error.
    private static func ensureWritable(directory: URL) throws {
        let files = FileManager.default
        let probe = directory.appendingPathComponent(".medbus-registry-probe-\(ProcessInfo.processInfo.processIdentifier)-\(UUID().uuidString)").path
        do {
            try files.createDirectory(at: directory, withIntermediateDirectories: true)
            guard files.createFile(atPath: probe, contents: Data()) else {
                throw RegistryError.directoryNotWritable(path: directory.path)
            }
            try files.removeItem(atPath: probe)
        } catch {
            throw RegistryError.directoryNotWritable(path: directory.path)
        }
    }

    /// SQLite's first complaint as one line, or nil if `PRAGMA quick_check` says "ok".
    private static func quickCheckProblem(_ db: Database) throws -> String? {
        let verdict = try String.fetchOne(db, sql: "PRAGMA quick_check") ?? "quick_check returned nothing"
        guard verdict != "ok" else { return nil }
        let problems = verdict.split(whereSeparator: \.isNewline).filter { !$0.hasPrefix("***") }
        guard let first = problems.first else { return verdict }
        return problems.count == 1 ? String(first) : "\(first) (and \(problems.count - 1) more problems)"
    }
}

/// One-way "closed" flag guarded by a lock.
final class ClosedFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var closed = false
    var isClosed: Bool { lock.withLock { closed } }
    /// True for the one caller that closes.
    func close() -> Bool {
        lock.withLock {
            defer { closed = true }
            return !closed
        }
    }
}
