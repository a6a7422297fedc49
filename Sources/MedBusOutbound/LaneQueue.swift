import MedBusKafka
import NIOConcurrencyHelpers

/// The bounded hand-over from the dispatcher's reader to one partition lane.
///
/// Bounded so that a lane stuck retrying against a down receiver does not make the reader pull
/// its whole partition into memory: the reader waits in `push` instead. `finish` ends the lane:
/// waiting pushers return (their records are dropped, uncommitted, so the next consumer of the
/// partition reads them again) and `pop` returns nil.
final class LaneQueue: Sendable {
    private struct State {
        var items: [KafkaConsumerMessage] = []
        var head = 0
        var finished = false
        var popper: CheckedContinuation<KafkaConsumerMessage?, Never>?
        var pushers: [CheckedContinuation<Void, Never>] = []
        var count: Int { items.count - head }
    }

    let capacity: Int
    private let state = NIOLockedValueBox(State())

    init(capacity: Int) { self.capacity = max(1, capacity) }

    /// Adds a record, waiting while the lane holds `capacity` records. Drops it once finished.
    func push(_ record: KafkaConsumerMessage) async {
        while true {
            enum Step { case done, wait }
            let (step, popper): (Step, CheckedContinuation<KafkaConsumerMessage?, Never>?) = state.withLockedValue { state in
                if state.finished { return (.done, nil) }
                if let popper = state.popper {
                    state.popper = nil
                    return (.done, popper)
                }
                if state.count < capacity {
                    state.items.append(record)
                    return (.done, nil)
                }
                return (.wait, nil)
            }
            if let popper { popper.resume(returning: record) }
            if step == .done { return }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let ready = state.withLockedValue { state -> Bool in
                    if state.finished || state.count < capacity { return true }
                    state.pushers.append(continuation)
                    return false
                }
                if ready { continuation.resume() }
            }
        }
    }

    /// The next record, or nil once finished. One lane pops; it is never called concurrently.
    func pop() async -> KafkaConsumerMessage? {
        let (record, finished, pusher): (KafkaConsumerMessage?, Bool, CheckedContinuation<Void, Never>?) = state.withLockedValue { state in
            if state.finished { return (nil, true, nil) }
            guard state.count > 0 else { return (nil, false, nil) }
            let record = state.items[state.head]
            state.head += 1
            if state.head > 256 && state.head * 2 > state.items.count {
                state.items.removeFirst(state.head)
                state.head = 0
            }
            return (record, false, state.pushers.isEmpty ? nil : state.pushers.removeFirst())
        }
        pusher?.resume()
        if let record { return record }
        if finished { return nil }
        return await withCheckedContinuation { (continuation: CheckedContinuation<KafkaConsumerMessage?, Never>) in
            let immediate: (KafkaConsumerMessage?, CheckedContinuation<Void, Never>?)? = state.withLockedValue { state in
                if state.finished { return (nil, nil) }
                if state.count > 0 {
                    let record = state.items[state.head]
                    state.head += 1
                    return (record, state.pushers.isEmpty ? nil : state.pushers.removeFirst())
                }
                state.popper = continuation
                return nil
            }
            if let immediate {
                immediate.1?.resume()
                continuation.resume(returning: immediate.0)
            }
        }
    }

    /// Ends the lane; records still queued are dropped without being committed.
    func finish() {
        let (popper, pushers) = state.withLockedValue { state in
            state.finished = true
            state.items = []
            state.head = 0
            defer {
                state.popper = nil
                state.pushers = []
            }
            return (state.popper, state.pushers)
        }
        popper?.resume(returning: nil)
        pushers.forEach { $0.resume() }
    }
}
