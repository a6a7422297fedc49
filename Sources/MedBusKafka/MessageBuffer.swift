import Foundation

struct PartitionKey: Hashable {
    var topic: String
    var partition: Int32
}

/// The bounded hand-over between a client's poll thread and its async readers: records for
/// `KafkaConsumer`, events for `KafkaTopicFollower`.
///
/// The poll thread blocks in `push` while the buffer is full (back-pressure, on its own thread);
/// readers suspend in `popBatch` while it is empty. `finish` ends reading, optionally with an error,
/// after the records already buffered have been read.
final class MessageBuffer<Element: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private let capacity: Int
    private var items: [Element] = []
    private var head = 0
    private var finished = false
    private var failure: Error?
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(capacity: Int) { self.capacity = max(1, capacity) }

    private var count: Int { items.count - head }

    /// Called from the poll thread. Blocks while full; drops the element if the buffer is finished.
    func push(_ message: Element) {
        let waiter: CheckedContinuation<Void, Never>? = condition.withLock {
            while count >= capacity && !finished { condition.wait() }
            guard !finished else { return nil }
            items.append(message)
            return waiters.isEmpty ? nil : waiters.removeFirst()
        }
        waiter?.resume()
    }

    /// Removes buffered elements (making room for a poll thread blocked in `push`).
    func drop(where shouldDrop: (Element) -> Bool) {
        condition.withLock {
            compact()
            items.removeAll(where: shouldDrop)
            condition.broadcast()
        }
    }

    func finish(throwing error: Error?) {
        let toResume: [CheckedContinuation<Void, Never>] = condition.withLock {
            if !finished {
                finished = true
                failure = error
            }
            condition.broadcast()
            defer { waiters.removeAll() }
            return waiters
        }
        toResume.forEach { $0.resume() }
    }

    /// Waits for at least one record; returns up to `maxCount`. Returns `[]` once finished and
    /// drained, or throws the error `finish` was given.
    func popBatch(maxCount: Int) async throws -> [Element] {
        while true {
            if let batch = try takeAvailable(maxCount: maxCount) { return batch }
            try Task.checkCancellation()
            await withTaskCancellationHandler {
                await withCheckedContinuation { continuation in
                    // Checked under the lock: a cancellation that ran `wakeAll` before this
                    // waiter registered would otherwise be missed, leaving it asleep until the
                    // next record.
                    let ready: Bool = condition.withLock {
                        if count > 0 || finished || Task.isCancelled { return true }
                        waiters.append(continuation)
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                wakeAll()
            }
        }
    }

    private func wakeAll() {
        let toResume: [CheckedContinuation<Void, Never>] = condition.withLock {
            defer { waiters.removeAll() }
            return waiters
        }
        toResume.forEach { $0.resume() }
    }

    /// `nil` means "nothing yet, wait".
    private func takeAvailable(maxCount: Int) throws -> [Element]? {
        try condition.withLock {
            if count > 0 {
                let n = min(maxCount, count)
                let batch = Array(items[head..<head + n])
                head += n
                if head > 4096 && head * 2 > items.count { compact() }
                condition.broadcast()
                return batch
            }
            if finished {
                if let failure { throw failure }
                return []
            }
            return nil
        }
    }

    private func compact() {
        items.removeFirst(head)
        head = 0
    }
}

extension MessageBuffer where Element == KafkaConsumerMessage {
    /// Removes buffered records of revoked partitions (their new owner will read them again).
    func drop(partitions: Set<PartitionKey>) {
        drop { partitions.contains(PartitionKey(topic: $0.topic, partition: $0.partition)) }
    }
}

/// What a client's poll thread has handed over (a consumer's records, a follower's events), in order, as an
/// `AsyncSequence`. Ends once the client is closed and what was buffered has been read; throws the client's
/// terminal error, or `CancellationError` when the reading task is cancelled.
public struct KafkaBufferedSequence<Element: Sendable>: AsyncSequence, Sendable {
    let buffer: MessageBuffer<Element>

    public func makeAsyncIterator() -> Iterator { Iterator(buffer: buffer) }

    public struct Iterator: AsyncIteratorProtocol {
        let buffer: MessageBuffer<Element>

        public mutating func next() async throws -> Element? {
            try await buffer.popBatch(maxCount: 1).first
        }
    }
}
