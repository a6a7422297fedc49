import Foundation
import GRDB
import MedBusCrypto
import MedBusSQLite

/// How the message store's commits wait for the disk: `full` fsyncs every commit (survives a power loss),
/// `normal` only at checkpoints (survives a crash or kill -9 of the process, not of the operating system).
/// See `DurableDatabase.Sync`.
public enum StoreSync: String, Sendable, CaseIterable {
    case full
    case normal

    var database: DurableDatabase.Sync { self == .full ? .full : .normal }
}

/// The durable store: every inbound message is committed here before it goes to Kafka and before the sender
/// is acknowledged (inbox/outbox), and operators search it.
///
/// One SQLite file, `medbus.sqlite`, in WAL mode, by default with `synchronous=FULL`: once a write returns, its
/// row survives a crash of the process or a power loss. With `sync: .normal` a returned write survives a crash
/// or kill -9 of the process but not necessarily of the operating system (see `DurableDatabase.Sync`): for
/// deployments where a replicated Kafka cluster (acks=all) holds the messages before they are acknowledged,
/// and the store's rows serve de-duplication, status and audit. Reads run on a pool of connections concurrently with
/// the single writer. Inserts and updates from concurrent callers share transactions (group commit, see
/// `GroupCommitWriter`). After a crash, `open` recovers the WAL automatically.
///
/// Every method throws `StoreError` only. Safe to use from any thread or task.
public final class MessageStore: Sendable {
    /// The database file.
    public let databasePath: String
    /// How each commit waits for the disk.
    public let sync: StoreSync
    let pool: DatabasePool
    let writer: GroupCommitWriter
    let sealer: PayloadSealer

    /// How long a connection waits for a lock held by another process before failing with SQLITE_BUSY.
    private static let busyTimeout: TimeInterval = 5
    /// The WAL is truncated back to this size after a checkpoint, so a burst does not leave a huge file behind.
    private static let walSizeLimit = 64 * 1024 * 1024

    private init(databasePath: String, sync: StoreSync, pool: DatabasePool, keyring: PayloadKeyring?) {
        self.databasePath = databasePath
        self.sync = sync
        self.pool = pool
        self.writer = GroupCommitWriter(pool: pool)
        self.sealer = PayloadSealer(keyring: keyring)
    }

    /// The keyring payloads are sealed with, or nil when they are stored in clear.
    public var payloadKeyring: PayloadKeyring? { sealer.keyring }

    /// Opens the store in `directory`, creating the directory and the database (`medbus.sqlite`) if missing,
    /// checking the file with `PRAGMA quick_check` (which reads the whole file: seconds for gigabytes) and
    /// applying pending migrations (see `DurableDatabase.openPool`).
    ///
    /// With a `keyring`, new payloads and acknowledgements are sealed with its current key (the key id
    /// stored per row) and sealed rows open with whichever of its keys sealed them; rows stored in clear
    /// stay readable. Without one, payloads are stored in clear and sealed rows fail to read with
    /// `StoreError.payloadKeyMissing`.
    ///
    /// `sync` is how each commit waits for the disk: `.full` (the default) fsyncs every commit, `.normal`
    /// only at checkpoints (see `DurableDatabase.Sync` for what each survives).
    ///
    /// - Throws: `StoreError.directoryNotWritable` if the directory cannot be created or written to;
    ///   `StoreError.corrupt` if the file is not an SQLite database or fails the check; `StoreError.sqlite`
    ///   otherwise (a migration failed, the file is locked by another process for longer than the busy timeout).
    public static func open(directory: String, keyring: PayloadKeyring? = nil, sync: StoreSync = .full) throws -> MessageStore {
        do {
            let pool = try DurableDatabase.openPool(
                directory: directory, fileName: "medbus.sqlite", configuration: configuration, sync: sync.database,
                pragmas: [
                    "journal_size_limit = \(walSizeLimit)",
                    // Each group-commit write runs in a savepoint, whose undo journal otherwise goes to a temporary
                    // file: measured at ~40 µs per insert, twice the cost of the insert itself.
                    "temp_store = MEMORY",
                ],
                migrator: StoreSchema.migrator)
            return MessageStore(databasePath: pool.path, sync: sync, pool: pool, keyring: keyring)
        } catch {
            throw StoreError(error)
        }
    }

    /// Closes the store: refuses new writes, waits for queued ones to commit, then closes every connection.
    /// Calling it again does nothing; any other use afterwards throws `StoreError.closed`.
    public func close() throws {
        writer.close()
        do {
            try pool.close()
        } catch {
            throw StoreError(error, path: databasePath)
        }
    }

    /// Runs `PRAGMA quick_check` (every page and record, not index contents): true if the database is sound.
    public func integrityCheck() throws -> Bool {
        try read { db in try DurableDatabase.quickCheckProblem(db) == nil }
    }

    private static var configuration: Configuration {
        var configuration = Configuration()
        configuration.label = "MedBusStore"
        configuration.busyMode = .timeout(busyTimeout)
        configuration.foreignKeysEnabled = true
        configuration.prepareDatabase { db in
            // auto_vacuum can only be switched on before the file has content, and GRDB writes to a new file
            // when it enables WAL right after this; on an existing file the pragma is a no-op. INCREMENTAL
            // lets `prune` hand freed pages back to the file system.
            if !db.configuration.readonly {
                try db.execute(sql: "PRAGMA auto_vacuum = INCREMENTAL")
            }
        }
        return configuration
    }
}

extension MessageStore {
    /// Runs `body` on a reader connection, translating failures into `StoreError`.
    func read<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try pool.read(body) }
    }

    /// Runs `body` in a transaction of its own on the writer connection, translating failures into `StoreError`.
    func write<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try pool.write(body) }
    }

    /// Runs `body` on the writer connection outside any transaction (pragmas that manage their own).
    func writeWithoutTransaction<T>(_ body: (Database) throws -> T) throws -> T {
        try translatingErrors { try pool.writeWithoutTransaction(body) }
    }

    /// Runs `work` in the next group-commit batch (see `GroupCommitWriter`), translating failures into `StoreError`.
    func groupCommit<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await writer.perform(work)
        } catch {
            throw StoreError(error, path: databasePath)
        }
    }

    private func translatingErrors<T>(_ body: () throws -> T) throws -> T {
        guard !writer.isClosed else { throw StoreError.closed }
        do {
            return try body()
        } catch {
            throw StoreError(error, path: databasePath)
        }
    }
}
