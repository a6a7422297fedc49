/// Counters of one dispatcher since it started, for metrics and tests.
public struct OutboundStatistics: Sendable, Equatable {
    /// Records the receiver acknowledged positively.
    public var delivered = 0
    /// Failed attempts followed by another attempt of the same record.
    public var retried = 0
    /// Records written to the dead-letter topic (refused for good, or out of attempts).
    public var deadLettered = 0

    public init(delivered: Int = 0, retried: Int = 0, deadLettered: Int = 0) {
        self.delivered = delivered
        self.retried = retried
        self.deadLettered = deadLettered
    }
}
