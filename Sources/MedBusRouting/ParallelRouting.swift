import MedBusKafka

/// Routes a batch on several tasks and returns the decisions in input order.
///
/// The batch is cut into contiguous chunks, one task each. Because decisions are put back in
/// input order and produced in that order, the split can ignore keys and partitions: per-key
/// order holds whatever task routed which record. The router is pure CPU work, so a chunk is
/// never smaller than `minimumChunk` records, below which a task switch costs more than it saves.
enum ParallelRouting {
    static let minimumChunk = 64

    static func route(_ batch: [KafkaConsumerMessage], with router: any MessageRouter, parallelism: Int) async -> [RouteDecision] {
        let tasks = min(parallelism, batch.count / minimumChunk)
        guard tasks > 1 else { return batch.map { decide($0, router) } }
        let chunk = (batch.count + tasks - 1) / tasks
        return await withTaskGroup(of: (Int, [RouteDecision]).self) { group in
            for task in 0..<tasks {
                let range = task * chunk..<min(batch.count, (task + 1) * chunk)
                group.addTask { (task, batch[range].map { decide($0, router) }) }
            }
            var parts = [[RouteDecision]](repeating: [], count: tasks)
            for await (task, decisions) in group { parts[task] = decisions }
            return parts.flatMap { $0 }
        }
    }

    /// A tombstone never reaches the router: there is nothing to map, and an operator should see it.
    static func decide(_ message: KafkaConsumerMessage, _ router: any MessageRouter) -> RouteDecision {
        guard message.value != nil else {
            return .deadLetter(DeadLetter(reason: "empty-record", message: "the record has no value (tombstone)"))
        }
        return router.route(message)
    }
}
