import MedBusKafka

/// One way of handing a record to an outside receiver (an MLLP listener, an HTTP endpoint).
///
/// A transport makes exactly **one attempt** per call and reports how it went; retrying, backing
/// off, ordering and dead-lettering are the `OutboundDispatcher`'s job, so every transport gets
/// them the same way. A transport may be called from several partition lanes at once.
public protocol OutboundTransport: Sendable {
    /// A short, payload-free name for logs and the `medbus-destination` dead-letter header,
    /// e.g. `mllp://10.20.0.15:2575`.
    var destination: String { get }

    /// Delivers `record` once. Returns when the receiver has positively acknowledged it.
    /// - Throws: `DeliveryFailure` saying whether the receiver refused the record (and whether
    ///   a resend may succeed) or the attempt failed in transit (timeout, connection refused or
    ///   dropped, server busy).
    func deliver(_ record: KafkaConsumerMessage) async throws(DeliveryFailure)
}

extension OutboundTransport {
    public var destination: String { String(describing: Self.self) }
}

/// Why one delivery attempt did not succeed. `message` is for operators: it names codes,
/// statuses and control ids, never payload content (which is patient data).
public struct DeliveryFailure: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable {
        /// The receiver answered and refused the record: HL7 `AE`/`AR`/`CE`/`CR`, an HTTP 4xx,
        /// or `INVALID` when the record itself cannot be sent by this transport.
        case rejected(code: String)
        /// The attempt failed on the way: timeout, connection refused or dropped, an answer
        /// out of step with the request, HTTP 5xx / 408 / 429.
        case transient
    }

    public var kind: Kind
    public var message: String
    /// Whether sending the same record again may succeed. Transient failures always are;
    /// HL7 `AE`/`CE` are too (HL7 says an application error may clear on resend); `AR`/`CR`
    /// and most HTTP 4xx are not, so the record goes to the dead-letter topic at once.
    public var retriable: Bool
    /// A wait the receiver asked for (HTTP `Retry-After`); the dispatcher waits at least this
    /// long, capped at its maximum backoff.
    public var retryAfter: Duration?

    public init(kind: Kind, message: String, retriable: Bool, retryAfter: Duration? = nil) {
        self.kind = kind
        self.message = message
        self.retriable = retriable
        self.retryAfter = retryAfter
    }

    public static func transient(_ message: String, retryAfter: Duration? = nil) -> DeliveryFailure {
        DeliveryFailure(kind: .transient, message: message, retriable: true, retryAfter: retryAfter)
    }

    public static func rejected(code: String, _ message: String, retriable: Bool) -> DeliveryFailure {
        DeliveryFailure(kind: .rejected(code: code), message: message, retriable: retriable)
    }

    /// The `medbus-error-reason` of a dead letter: `rejected:AR`, `rejected:HTTP-400`, `transient`.
    public var reason: String {
        switch kind {
        case .rejected(let code): "rejected:\(code)"
        case .transient: "transient"
        }
    }

    public var description: String { "\(reason): \(message)" }
}
