/// What an insert did.
public enum InsertOutcome: Sendable, Equatable {
    /// The row is committed.
    case inserted
    /// A row with the same `id`, or the same `(source, sourceMessageId)`, was already stored; nothing was written.
    /// `existing` is that row, so a retransmission can be answered with its `ackPayload`.
    case duplicate(existing: StoredMessage)
}
