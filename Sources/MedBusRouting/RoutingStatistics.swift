/// Counters of one routing core since it started. Records count once their transaction has
/// committed, so they are what downstream consumers actually got.
public struct RoutingStatistics: Sendable, Equatable {
    /// Input records whose offsets were committed (routed, dead-lettered or skipped).
    public var consumed = 0
    /// Output records produced to target topics.
    public var routed = 0
    /// Records produced to the dead-letter topic.
    public var deadLettered = 0
    /// Input records the router filtered out.
    public var skipped = 0
    /// Outputs not produced again because the in-doubt scan found them already written.
    public var alreadyPresent = 0
    /// Committed transactions (one per batch).
    public var transactions = 0
    /// Aborted transactions (each followed by reprocessing from the committed positions).
    public var aborts = 0
    /// Version of the router that handled the last batch (the newest one after `update`).
    public var version: String

    public init(version: String) { self.version = version }
}
