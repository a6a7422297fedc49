/// Where a stored message is in its life. The raw value is what the `status` column holds.
public enum MessageStatus: String, Sendable, CaseIterable {
    /// Stored and acknowledged to nobody yet: not on Kafka.
    case received
    /// Kafka acknowledged the write; `topic`, `partition` and `offset` say where it is.
    case published
    /// Could not be processed; `error` says why.
    case failed
    /// Refused as malformed or unacceptable (the sender got a negative acknowledgement); `error`
    /// says why. Kept so operators can see what was refused.
    case rejected
    /// Delivered to its destination(s) by the router.
    case routed
    /// Given up on and written to the dead-letter topic.
    case deadLettered
}
