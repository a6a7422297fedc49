/// One Kafka record to route: its payload and headers (`medbus-source`, `medbus-message-type`,
/// `medbus-message-id`, `medbus-received-at`, …).
public struct MappingInput: Sendable {
    public var payload: [UInt8]
    public var headers: [String: String]

    public init(payload: [UInt8], headers: [String: String]) {
        self.payload = payload
        self.headers = headers
    }
}

/// One record a mapping produced, ready to send.
public struct MappedRecord: Sendable, Hashable {
    public static let jsonContentType = "application/json"
    public static let hl7v2ContentType = "x-application/hl7-v2+er7"

    public var mapping: String
    public var version: Int?
    /// The target's name within its mapping.
    public var target: String
    public var topic: String
    public var key: String?
    public var value: [UInt8]
    public var contentType: String

    public init(mapping: String, version: Int?, target: String, topic: String, key: String?, value: [UInt8], contentType: String) {
        self.mapping = mapping
        self.version = version
        self.target = target
        self.topic = topic
        self.key = key
        self.value = value
        self.contentType = contentType
    }
}

public enum MappingOutcome: Sendable, Hashable {
    /// Possibly empty: targets whose `when` did not hold emit nothing.
    case records([MappedRecord])
    /// Every mapping that matched the record filtered it out.
    case filtered
}

/// Why a record could not be mapped; becomes the `medbus-error-reason` header on `dlq.routing`.
///
/// `message` never carries patient values: it names rules, tables, types and (for a missing code) the code.
public struct MappingFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        case unparseableInput = "unparseable-input"
        case noMapping = "no-mapping"
        case missingRequired = "missing-required"
        case missingCode = "missing-code"
        case type
        case schema
    }

    public var reason: Reason
    public var mapping: String?
    public var version: Int?
    /// The rule, e.g. `patient.gender`; for `schema`, the target and the JSON pointer (`patient:/gender`).
    public var rule: String?
    public var message: String

    public init(reason: Reason, mapping: String? = nil, version: Int? = nil, rule: String? = nil, message: String) {
        self.reason = reason
        self.mapping = mapping
        self.version = version
        self.rule = rule
        self.message = message
    }

    public var description: String {
        var text = reason.rawValue
        if let mapping { text += " in \(mapping)" + (version.map { " v\($0)" } ?? "") }
        if let rule { text += " at \(rule)" }
        return text + ": " + message
    }
}
