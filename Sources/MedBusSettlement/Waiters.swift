import Foundation

/// Tasks waiting for something to happen to a key: a settlement reaching a final state (key =
/// settlement id), an insurer answering a query (key = msgid). A waiter registers before it
/// checks whether the thing already happened, so a signal in between is never missed.
actor Waiters<Value: Sendable> {
    private enum Slot {
        case armed
        case fired(Value)
        case waiting(CheckedContinuation<Value?, Never>)
    }

    private var slots: [String: [UUID: Slot]] = [:]

    /// Waits for `signal(key, …)` up to `timeout`; `check` runs after registering and may find
    /// the value already there. Returns nil on timeout.
    func wait(for key: String, timeout: Duration, check: @Sendable () async throws -> Value? = { nil }) async rethrows -> Value? {
        let token = UUID()
        slots[key, default: [:]][token] = .armed
        let found: Value?
        do { found = try await check() } catch {
            remove(key, token)
            throw error
        }
        if let found {
            remove(key, token)
            return found
        }
        if case .fired(let value) = slots[key]?[token] {
            remove(key, token)
            return value
        }
        return await withCheckedContinuation { continuation in
            slots[key, default: [:]][token] = .waiting(continuation)
            Task {
                try? await Task.sleep(for: timeout)
                self.expire(key, token)
            }
        }
    }

    /// Wakes every waiter of `key` with `value`.
    func signal(_ key: String, _ value: Value) {
        guard let tokens = slots[key] else { return }
        for (token, slot) in tokens {
            switch slot {
            case .armed: slots[key]?[token] = .fired(value)
            case .waiting(let continuation):
                slots[key]?[token] = nil
                continuation.resume(returning: value)
            case .fired: break
            }
        }
        if slots[key]?.isEmpty == true { slots[key] = nil }
    }

    /// Signals the keys someone waits for; returns them (the others are nobody's here).
    func signal(_ values: [(String, Value)]) -> Set<String> {
        var signalled: Set<String> = []
        for (key, value) in values where slots[key] != nil {
            signal(key, value)
            signalled.insert(key)
        }
        return signalled
    }

    private func expire(_ key: String, _ token: UUID) {
        if case .waiting(let continuation) = slots[key]?[token] {
            remove(key, token)
            continuation.resume(returning: nil)
        }
    }

    private func remove(_ key: String, _ token: UUID) {
        slots[key]?[token] = nil
        if slots[key]?.isEmpty == true { slots[key] = nil }
    }
}
