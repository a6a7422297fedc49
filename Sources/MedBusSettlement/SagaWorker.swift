import Foundation
import Logging

/// One active saga: a queue of events and the task that handles them one at a time.
///
/// Handling an event awaits the saga log and the producer; doing it from a serial queue rather
/// than in an actor's methods keeps a second event from interleaving at those suspension points,
/// so one settlement's steps are strictly ordered while other sagas run concurrently.
final class SagaWorker: Sendable {
    let id: String
    /// Tells this worker from a later one for the same settlement.
    let token: UUID
    let task: Task<Void, Never>
    private let stopping: StopFlag
    private let continuation: AsyncStream<SagaEvent>.Continuation

    init(id: String, committed: SagaRecord?, context: SagaContext, registry: SagaRegistry, after previous: Task<Void, Never>?) {
        self.id = id
        let (stream, continuation) = AsyncStream<SagaEvent>.makeStream()
        self.continuation = continuation
        let token = UUID()
        self.token = token
        let stopping = StopFlag()
        self.stopping = stopping
        task = Task {
            await previous?.value
            await SagaWorker.run(id: id, committed: committed, token: token, events: stream, stopping: stopping, context: context, registry: registry)
        }
    }

    /// - Returns: false when the queue is finished (the worker is retired or stopped).
    func enqueue(_ event: SagaEvent) -> Bool {
        if case .enqueued = continuation.yield(event) { return true }
        return false
    }

    /// No further events; those already queued are still handled.
    func finishQueue() { continuation.finish() }

    /// Ends the loop after the current event (orchestrator shutdown). The current event runs to
    /// its end, so a transition being committed is not cut off halfway.
    func stop() {
        stopping.set()
        continuation.finish()
    }

    private static func run(id: String, committed: SagaRecord?, token: UUID, events: AsyncStream<SagaEvent>, stopping: StopFlag,
                            context: SagaContext, registry: SagaRegistry) async {
        var logger = context.logger
        logger[metadataKey: "settlement"] = "\(id)"
        let driver: SagaDriver
        do {
            var saga = committed
            if saga == nil { saga = try await context.store.load(id: id) }
            guard let saga else {
                logger.error("saga not in the log")
                for await event in events { if case .cancel(let waiter) = event { waiter.resume(throwing: SettlementError.notFound(id: id)) } }
                await registry.ended(id: id, token: token)
                return
            }
            driver = SagaDriver(saga: saga, context: context, registry: registry, logger: logger)
        } catch {
            logger.error("cannot load saga", metadata: ["error": "\(error)"])
            for await event in events { if case .cancel(let waiter) = event { waiter.resume(throwing: error) } }
            await registry.ended(id: id, token: token)
            return
        }
        for await event in events {
            if stopping.isSet {
                if case .cancel(let waiter) = event { waiter.resume(throwing: SettlementError.stopped) }
                continue
            }
            await driver.handle(event)
            if !driver.saga.needsWork { await registry.retire(id: id, token: token) }
        }
        driver.cancelTimer()
        await registry.ended(id: id, token: token)
    }
}


/// Set once by `stop()`, read by the worker's loop.
final class StopFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var value = false
    var isSet: Bool { lock.withLock { value } }
    func set() { lock.withLock { value = true } }
}
