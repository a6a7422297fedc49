import Foundation
import GRDB

/// Coalesces concurrent writes into shared transactions ("group commit"), so that N callers waiting at the
/// same time pay for one fsync instead of N.
///
/// Writes queue up here. When the writer connection is free it starts a transaction, takes every write
/// queued so far (up to `maximumBatchSize`), runs each in its own savepoint, commits once, and only then
/// resumes the callers. A write
/// that throws (a missing row, ...) is rolled back alone and reported to its own caller; the others still
/// commit. If the transaction itself fails (disk full, I/O error), every caller in the batch gets that error
/// and nothing of the batch is stored.
///
/// Transactions run on GRDB's writer dispatch queue, never on a Swift concurrency thread; callers suspend on
/// a continuation meanwhile. Each batch is scheduled separately, so synchronous writes of the store
/// (`insertBatch`, `prune`) interleave with batches instead of waiting for the queue to drain.
///
/// Cancelling a caller's task does not withdraw its write: once queued, it commits or fails with its batch.
final class GroupCommitWriter: @unchecked Sendable {
    // @unchecked: the mutable state below is only touched with `lock` held.
    private let pool: DatabasePool
    private let lock = NSLock()
    private var queued: [any BatchedWrite] = []
    /// True from the moment a batch is scheduled until a scheduled batch finds the queue empty.
    private var draining = false
    private var closed = false
    private var transactions = 0

    /// Bounds how long the first caller of a batch waits for the others (about 20 ms of inserts).
    static let maximumBatchSize = 1_000

    init(pool: DatabasePool) {
        self.pool = pool
    }

    /// Number of batch transactions started so far (for tests and diagnostics).
    var transactionCount: Int { lock.withLock { transactions } }

    var isClosed: Bool { lock.withLock { closed } }

    /// Runs `work` inside the next batch transaction and returns its result once that transaction commits.
    ///
    /// Throws what `work` threw (its savepoint is rolled back, the rest of the batch is unaffected), the
    /// error that made the batch transaction fail, or `StoreError.closed` after `close()`.
    func perform<T: Sendable>(_ work: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let write = PendingWrite(work: work, continuation: continuation)
            let (accepted, mustSchedule) = lock.withLock {
                guard !closed else { return (false, false) }
                queued.append(write)
                let mustSchedule = !draining
                draining = true
                return (true, mustSchedule)
            }
            if !accepted {
                continuation.resume(throwing: StoreError.closed)
            } else if mustSchedule {
                scheduleBatch()
            }
        }
    }

    /// Refuses new writes, then returns once every write queued before has committed or failed.
    func close() {
        lock.withLock { closed = true }
        // Each empty synchronous write waits behind the batch already on the writer queue; a batch schedules
        // the next one only while writes remain, and none can be added any more.
        while lock.withLock({ draining }) {
            pool.writeWithoutTransaction { _ in }
        }
    }

    private func scheduleBatch() {
        pool.asyncWriteWithoutTransaction { db in self.commitBatch(db) }
    }

    /// Runs on the writer queue.
    private func commitBatch(_ db: Database) {
        let batch: [any BatchedWrite] = lock.withLock {
            let batch = Array(queued.prefix(Self.maximumBatchSize))
            queued.removeFirst(batch.count)
            if batch.isEmpty {
                draining = false
            } else {
                transactions += 1
            }
            return batch
        }
        guard !batch.isEmpty else { return }

        var transactionError: (any Error)?
        do {
            // If SQLite rolls the whole transaction back on its own (disk full, I/O error), GRDB makes every
            // later statement and the commit throw SQLITE_ABORT, so nothing of the batch commits piecemeal.
            try db.inTransaction(.immediate) {
                for write in batch { write.run(db) }
                return .commit
            }
        } catch {
            transactionError = error
        }
        for write in batch { write.finish(transactionError: transactionError) }
        scheduleBatch()
    }
}

/// A write waiting in the group-commit queue, type-erased so writes of different result types share a batch.
private protocol BatchedWrite: Sendable {
    /// Runs the work in its own savepoint inside the open batch transaction, and keeps its outcome.
    func run(_ db: Database)
    /// Resumes the caller: with the kept outcome if the batch committed, else with `transactionError`.
    func finish(transactionError: (any Error)?)
}

private final class PendingWrite<T: Sendable>: BatchedWrite, @unchecked Sendable {
    // @unchecked: `outcome` is written by `run` and read by `finish`, one after the other on the writer queue.
    private let work: @Sendable (Database) throws -> T
    private let continuation: CheckedContinuation<T, any Error>
    // Replaced by `run`; `finish` only reads it after `run` when the batch committed.
    private var outcome: Result<T, any Error> = .failure(StoreError.sqlite("write was not attempted"))

    init(work: @escaping @Sendable (Database) throws -> T, continuation: CheckedContinuation<T, any Error>) {
        self.work = work
        self.continuation = continuation
    }

    func run(_ db: Database) {
        do {
            try db.inSavepoint {
                outcome = .success(try work(db))
                return .commit
            }
        } catch {
            outcome = .failure(error)
        }
    }

    func finish(transactionError: (any Error)?) {
        if let transactionError {
            continuation.resume(throwing: transactionError)
        } else {
            continuation.resume(with: outcome)
        }
    }
}
