import NIOConcurrencyHelpers

/// A first-come-first-served async mutex: one holder at a time, waiters suspended (never a
/// blocked thread).
///
/// An MLLP connection carries one message and its ACK at a time, while several partition lanes
/// share the connection; an actor would not do, because it lets a second call in at every
/// suspension point of the first. Waiting is not cancellable: the holder's turn is bounded by
/// its attempt timeout.
final class AsyncGate: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var head = 0
    }

    private let state = NIOLockedValueBox(State())

    init() {}

    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let granted = state.withLockedValue { state -> Bool in
                if !state.held {
                    state.held = true
                    return true
                }
                state.waiters.append(continuation)
                return false
            }
            if granted { continuation.resume() }
        }
    }

    /// Hands the gate to the longest waiter, or opens it.
    func release() {
        let next = state.withLockedValue { state -> CheckedContinuation<Void, Never>? in
            guard state.head < state.waiters.count else {
                state.held = false
                state.waiters.removeAll(keepingCapacity: true)
                state.head = 0
                return nil
            }
            defer { state.head += 1 }
            return state.waiters[state.head]
        }
        next?.resume()
    }

    func withGate<T: Sendable, E: Error>(_ body: () async throws(E) -> T) async throws(E) -> T {
        await acquire()
        defer { release() }
        return try await body()
    }
}
