import Foundation
import GRDB
import MedBusSQLite

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
    /// pending migrations (see `DurableDatabase.openPool`).
    static func open(directory: URL) throws -> RegistryDatabase {
        do {
            let pool = try DurableDatabase.openPool(
                directory: directory.path, fileName: fileName, configuration: configuration, migrator: RegistrySchema.migrator)
            return RegistryDatabase(path: pool.path, pool: pool)
        } catch {
            throw RegistryError(error)
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
        try read { try DurableDatabase.quickCheckProblem($0) }
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
