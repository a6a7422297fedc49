import Foundation
import Logging
import MedBusStore

/// Batches `DurableIngest`'s bookkeeping — "published at topic/partition/offset" and the acknowledgement a
/// sender got — into one `MessageStore.record(_:)` write at a time: facts that arrive while a write runs
/// go into the next one, and a message's location and its acknowledgement usually share one UPDATE.
///
/// None of this is on the acknowledgement path: the sender is answered once the message is stored and on
/// Kafka. A fact lost in a crash leaves the row `received`; `DurableIngest.recoverInDoubt` settles it.
final class DeliveryRecorder: @unchecked Sendable {
    // @unchecked: the mutable state below is only touched with `lock` held.
    private let store: MessageStore
    private let logger: Logger
    private let lock = NSLock()
    private var pending: [Delivery] = []
    /// Index into `pending` by message id, so a later fact about the same message merges into its entry.
    private var index: [String: Int] = [:]
    /// The batch being written, until its write returned: together with `pending`, every fact the store
    /// may not show yet.
    private var inWrite: [String: Delivery] = [:]
    private var writing = false
    private var idle: [CheckedContinuation<Void, Never>] = []

    init(store: MessageStore, logger: Logger) {
        self.store = store
        self.logger = logger
    }

    func published(_ id: String, at location: Delivery.Location) {
        add(id) { $0.kafka = location }
    }

    func acknowledged(_ id: String, with ack: Data) {
        add(id) { $0.ack = ack }
    }

    /// Where `id` was published, if that is recorded here but possibly not yet in the store. Once this
    /// returns nil for a published message, the store shows it as published.
    func pendingLocation(of id: String) -> Delivery.Location? {
        lock.withLock { index[id].flatMap { pending[$0].kafka } ?? inWrite[id]?.kafka }
    }

    /// Returns once every fact added before has been written (or failed to be).
    func flush() async {
        await withCheckedContinuation { continuation in
            let done = lock.withLock {
                guard writing else { return true }
                idle.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    private func add(_ id: String, _ change: (inout Delivery) -> Void) {
        let mustStart = lock.withLock {
            if let at = index[id] {
                change(&pending[at])
            } else {
                var delivery = Delivery(id: id)
                change(&delivery)
                index[id] = pending.count
                pending.append(delivery)
            }
            defer { writing = true }
            return !writing
        }
        if mustStart { Task { await writeUntilEmpty() } }
    }

    private func writeUntilEmpty() async {
        while true {
            let (batch, waiters): ([Delivery], [CheckedContinuation<Void, Never>]) = lock.withLock {
                let batch = pending
                pending = []
                index = [:]
                inWrite = Dictionary(batch.map { ($0.id, $0) }, uniquingKeysWith: { $1 })
                guard batch.isEmpty else { return (batch, []) }
                writing = false
                defer { idle = [] }
                return ([], idle)
            }
            guard !batch.isEmpty else {
                for waiter in waiters { waiter.resume() }
                return
            }
            do {
                let missing = try await store.record(batch)
                if !missing.isEmpty { logger.warning("delivery recorded for unknown messages", metadata: ["count": "\(missing.count)", "first": "\(missing[0])"]) }
            } catch {
                logger.warning("deliveries not recorded", metadata: ["count": "\(batch.count)", "error": "\(error)"])
            }
        }
    }
}
