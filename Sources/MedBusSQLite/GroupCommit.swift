import Foundation
import GRDB

/// Group commit for a store that fsyncs every transaction (`synchronous=FULL`): the writes that
/// arrive while a transaction is being committed share the next one — one fsync for all of them
/// instead of one each. Every caller still returns only after its own write is durable, so nothing
/// it announces afterwards can be ahead of the store. Writes still apply one at a time, in order.
///
/// Each write runs in its own savepoint: one that throws is rolled back alone and its caller
/// gets the error; the others commit. No timer: a batch is whatever queued during the previous
/// commit, so a lone write is not delayed.
public final class GroupCommit: @unchecked Sendable {
    private struct Item: Sendable {
        var body: @Sendable (Database) throws -> any Sendable
        var continuation: CheckedContinuation<any Sendable, any Error>
    }

    private let pool: DatabasePool
    private let lock = NSLock()
    private var pending: [Item] = []
    private var writing = false

    public init(pool: DatabasePool) { self.pool = pool }

    public func write<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        let value = try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<any Sendable, any Error>) in
            let start = lock.withLock {
                pending.append(Item(body: { try body($0) }, continuation: continuation))
                if writing { return false }
                writing = true
                return true
            }
            if start { Task { await self.drain() } }
        }
        return value as! T
    }

    /// Commits batches until nothing is queued.
    private func drain() async {
        while true {
            let batch: [Item] = lock.withLock {
                defer { pending = [] }
                if pending.isEmpty { writing = false }
                return pending
            }
            if batch.isEmpty { return }
            let outcomes: [Result<any Sendable, any Error>]
            do {
                outcomes = try await pool.write { db in
                    batch.map { item in
                        Result {
                            var value: (any Sendable)?
                            try db.inSavepoint {
                                value = try item.body(db)
                                return .commit
                            }
                            return value!
                        }
                    }
                }
            } catch {
                outcomes = batch.map { _ in .failure(error) }
            }
            for (item, outcome) in zip(batch, outcomes) { item.continuation.resume(with: outcome) }
        }
    }
}
