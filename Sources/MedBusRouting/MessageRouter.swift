import MedBusKafka

/// The transform the routing core applies to every input record: the mapping engine implements
/// it; tests use small hand-written routers.
///
/// `route` must be pure CPU work without suspension: the core calls it for a whole batch at
/// once, concurrently from several tasks, before it opens the batch's Kafka transaction. It must
/// not produce to Kafka itself: whatever it returns is produced exactly once by the core, inside
/// the transaction that also commits the input's offset.
public protocol MessageRouter: Sendable {
    /// The mapping set's version, e.g. `adt-patient-encounter@3,oru-result@1`. Stamped on every
    /// output as `medbus-mapping-version` (unless a record carries its own).
    var version: String { get }
    /// Every topic `route` may produce to. The core scans them for in-doubt outputs on startup and
    /// after an aborted transaction (see `InDoubtOutputs`), so a topic missing here may receive
    /// duplicates after a crash on a cluster without transaction isolation.
    var targetTopics: Set<String> { get }
    /// Decides what to produce for `message`. Called concurrently; never with a tombstone
    /// (records without a value are dead-lettered as `empty-record` by the core).
    func route(_ message: KafkaConsumerMessage) -> RouteDecision
}
