import Foundation

/// The workers of active sagas, one per settlement id: every event for a settlement goes through
/// here, so one settlement's events are handled by exactly one worker, in order.
///
/// A worker whose saga has nothing left to do is retired; the next event for that settlement
/// starts a fresh worker that first waits for the retired one to finish its queue, so two workers
/// never run one saga at the same time.
actor SagaRegistry {
    private let context: SagaContext
    private var workers: [String: SagaWorker] = [:]
    private var retired: [String: (token: UUID, task: Task<Void, Never>)] = [:]
    private var stopped = false

    init(context: SagaContext) {
        self.context = context
    }

    /// Hands `event` to the settlement's worker, starting one if needed. `committed` is the saga
    /// as just committed (a new saga): a worker started here begins from it instead of reading it back.
    /// - Returns: false once the registry is stopped (the event is dropped).
    @discardableResult
    func deliver(_ id: String, _ event: SagaEvent, committed: SagaRecord? = nil) -> Bool {
        guard !stopped else { return false }
        if let worker = workers[id], worker.enqueue(event) { return true }
        let worker = SagaWorker(id: id, committed: committed, context: context, registry: self,
                                after: retired.removeValue(forKey: id)?.task ?? workers[id]?.task)
        workers[id] = worker
        return worker.enqueue(event)
    }

    /// Hands each event to its settlement's worker, in order.
    func deliver(_ events: [(String, SagaEvent)]) {
        for (id, event) in events { deliver(id, event) }
    }

    /// True when a worker runs this saga (a restart then need not resume it).
    func isActive(_ id: String) -> Bool { workers[id] != nil }

    /// Called by a worker whose saga has nothing left to do.
    func retire(id: String, token: UUID) {
        guard let worker = workers[id], worker.token == token else { return }
        workers[id] = nil
        retired[id] = (token, worker.task)
        worker.finishQueue()
    }

    /// Called by a worker whose loop has ended.
    func ended(id: String, token: UUID) {
        if workers[id]?.token == token { workers[id] = nil }
        if retired[id]?.token == token { retired[id] = nil }
    }

    /// Stops every worker after the event it is handling and waits for them.
    func stopAll() async {
        stopped = true
        let tasks = workers.values.map(\.task) + retired.values.map(\.task)
        for worker in workers.values { worker.stop() }
        workers.removeAll()
        retired.removeAll()
        for task in tasks { await task.value }
    }
}
