import MedBusKafka

/// What a router decided for one input record.
public enum RouteDecision: Sendable {
    /// Produce these records (possibly none, possibly to several topics), in this order.
    case route([RoutedRecord])
    /// The record cannot be routed; it goes unchanged to the dead-letter topic with the reason.
    case deadLetter(DeadLetter)
    /// The record is filtered out on purpose: nothing is produced, its offset is still committed.
    case skip
}

/// One output record of a routing decision.
///
/// The routing core completes its headers (envelope, mapping version, source position, see
/// `RoutingHeaders`) before producing it; a header the router sets itself is kept.
public struct RoutedRecord: Sendable {
    public var topic: String
    /// The Kafka key; `nil` produces a key-less record (spread over partitions, so unordered).
    /// Keep the business key here: per-key order holds only for records with the same key.
    public var key: [UInt8]?
    public var value: [UInt8]
    public var headers: [KafkaHeader]

    public init(topic: String, key: [UInt8]?, value: [UInt8], headers: [KafkaHeader] = []) {
        self.topic = topic
        self.key = key
        self.value = value
        self.headers = headers
    }
}

/// Why a record was dead-lettered, for the operators who will look at it. Travels as headers of
/// the dead-letter record, so it must never contain patient data: name the rule and the code,
/// not the value that failed.
public struct DeadLetter: Sendable, Equatable {
    /// A short machine-readable reason, e.g. `missing-code`, `unknown-message-type`.
    public var reason: String
    /// The mapping that rejected the record, e.g. `adt-patient-encounter`.
    public var mapping: String?
    /// That mapping's version; the router's `version` when `nil`.
    public var version: String?
    /// The rule within the mapping, e.g. `PV1-3 → location`.
    public var rule: String?
    /// A readable explanation without patient data.
    public var message: String

    public init(reason: String, mapping: String? = nil, version: String? = nil, rule: String? = nil, message: String) {
        self.reason = reason
        self.mapping = mapping
        self.version = version
        self.rule = rule
        self.message = message
    }
}
