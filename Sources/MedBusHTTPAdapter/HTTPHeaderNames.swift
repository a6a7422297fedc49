import Hummingbird

/// Header names the adapter reads or writes beyond HTTPTypes' well-known ones. (Reached through
/// `HTTPFields.Element`, Hummingbird's re-export, so the module needs no HTTPTypes dependency.)
extension HTTPFields.Element.Name {
    /// Client-chosen key: the same key gets the same answer and is published once.
    static let idempotencyKey = Self("Idempotency-Key")!
    static let requestID = Self("X-Request-ID")!
    /// W3C trace context, carried into the envelope.
    static let traceParent = Self("traceparent")!
    /// MedBus's id for the message or the rejection, for operators' searches.
    static let medBusMessageID = Self("X-MedBus-Message-Id")!
}
