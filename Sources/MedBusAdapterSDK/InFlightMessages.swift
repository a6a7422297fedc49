import Foundation

/// The messages a `DurableIngest` is publishing right now, by MedBus message id, so that a second copy
/// arriving meanwhile (a sender retransmitting before its first copy was answered, two copies in one
/// polled batch) waits for the first copy's outcome instead of publishing the stored message again.
///
/// A caller claims an id before it publishes that message and finishes the claim with the outcome; who
/// finds the id claimed gets a `Waiter`, registered at once, that yields the outcome.
final class InFlightMessages: @unchecked Sendable {
    // @unchecked: `claims` is only touched with `lock` held.
    private let lock = NSLock()
    /// Waiters per claimed id; an id is claimed while it has an entry.
    private var claims: [String: [Waiter]] = [:]

    /// Why a claimed message did not reach Kafka.
    struct PublishFailure: Error {
        var reason: String
    }

    /// Claims `id`: nil if the caller now publishes it, else a waiter for the caller that does.
    func claim(_ id: String) -> Waiter? {
        lock.withLock {
            guard claims[id] != nil else {
                claims[id] = []
                return nil
            }
            let waiter = Waiter()
            claims[id]!.append(waiter)
            return waiter
        }
    }

    /// Ends the claim on `id` and hands `result` to everyone waiting for it.
    func finish(_ id: String, _ result: Result<Void, PublishFailure>) {
        let waiters = lock.withLock { claims.removeValue(forKey: id) ?? [] }
        for waiter in waiters { waiter.resolve(result) }
    }

    /// The outcome of another caller's claim, available once that caller finishes it.
    final class Waiter: @unchecked Sendable {
        // @unchecked: both fields are only touched with `lock` held.
        private let lock = NSLock()
        private var result: Result<Void, PublishFailure>?
        private var continuation: CheckedContinuation<Result<Void, PublishFailure>, Never>?

        fileprivate func resolve(_ result: Result<Void, PublishFailure>) {
            let waiting: CheckedContinuation<Result<Void, PublishFailure>, Never>? = lock.withLock {
                self.result = result
                defer { continuation = nil }
                return continuation
            }
            waiting?.resume(returning: result)
        }

        var value: Result<Void, PublishFailure> {
            get async {
                await withCheckedContinuation { continuation in
                    let ready: Result<Void, PublishFailure>? = lock.withLock {
                        if let result { return result }
                        self.continuation = continuation
                        return nil
                    }
                    if let ready { continuation.resume(returning: ready) }
                }
            }
        }
    }
}
