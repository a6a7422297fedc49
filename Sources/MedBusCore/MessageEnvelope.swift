import Foundation
import MedBusKafka

/// What MedBus knows about a message besides its payload. It travels as Kafka record headers,
/// so any Kafka client (not only MedBus) can route, trace and de-duplicate without parsing the
/// payload. Header names are part of the public contract (see Adapters/README.md).
public struct MessageEnvelope: Sendable, Hashable {
    /// MedBus's own id for the message (unique; idempotency key downstream).
    public var id: String
    /// Where it came from, e.g. `his.h370102001`, `insurer.sdyb`, `dispatch.jn120`.
    public var source: String
    /// The sender's id for it (HL7 MSH-10, insurance `msgid`…), used to detect retransmissions.
    public var sourceMessageId: String?
    /// e.g. `ADT^A01`, `2207`, `dispatch.vitals`.
    public var messageType: String
    /// MIME type of the payload, e.g. `x-application/hl7-v2+er7`, `application/json`.
    public var contentType: String
    public var receivedAt: Date
    /// Ties together the messages of one business flow (a visit's settlement, a prescription).
    public var correlationId: String?
    /// Version of the mapping or schema that produced the payload.
    public var schemaVersion: String?
    /// W3C trace context `traceparent`.
    public var traceParent: String?

    public init(
        id: String = MessageEnvelope.newID(),
        source: String,
        sourceMessageId: String? = nil,
        messageType: String,
        contentType: String,
        receivedAt: Date = Date(),
        correlationId: String? = nil,
        schemaVersion: String? = nil,
        traceParent: String? = nil
    ) {
        self.id = id
        self.source = source
        self.sourceMessageId = sourceMessageId
        self.messageType = messageType
        self.contentType = contentType
        self.receivedAt = Self.toMilliseconds(receivedAt)
        self.correlationId = correlationId
        self.schemaVersion = schemaVersion
        self.traceParent = traceParent
    }

    /// A new message id: a UUID, lower-case, without separators' ambiguity across clients.
    public static func newID() -> String { UUID().uuidString.lowercased() }

    /// Header names, the contract shared with non-Swift producers and consumers.
    public enum Header {
        public static let id = "medbus-message-id"
        public static let source = "medbus-source"
        public static let sourceMessageId = "medbus-source-message-id"
        public static let messageType = "medbus-message-type"
        public static let contentType = "content-type"
        public static let receivedAt = "medbus-received-at"
        public static let correlationId = "medbus-correlation-id"
        public static let schemaVersion = "medbus-schema-version"
        public static let traceParent = "traceparent"
    }

    public var headers: [KafkaHeader] {
        var headers = [
            KafkaHeader(key: Header.id, string: id),
            KafkaHeader(key: Header.source, string: source),
            KafkaHeader(key: Header.messageType, string: messageType),
            KafkaHeader(key: Header.contentType, string: contentType),
            KafkaHeader(key: Header.receivedAt, string: Self.formatTimestamp(receivedAt)),
        ]
        let optional: [(String, String?)] = [
            (Header.sourceMessageId, sourceMessageId),
            (Header.correlationId, correlationId),
            (Header.schemaVersion, schemaVersion),
            (Header.traceParent, traceParent),
        ]
        for case let (key, value?) in optional { headers.append(KafkaHeader(key: key, string: value)) }
        return headers
    }

    /// Reads an envelope from record headers.
    /// - Throws: `EnvelopeError` naming the missing or malformed header.
    public init(headers: [KafkaHeader]) throws {
        func required(_ key: String) throws -> String {
            guard let value = headers.string(key), !value.isEmpty else { throw EnvelopeError.missingHeader(key) }
            return value
        }
        let received = try required(Header.receivedAt)
        guard let receivedAt = Self.parseTimestamp(received) else {
            throw EnvelopeError.malformedHeader(Header.receivedAt, expected: "RFC 3339 timestamp")
        }
        self.init(
            id: try required(Header.id),
            source: try required(Header.source),
            sourceMessageId: headers.string(Header.sourceMessageId),
            messageType: try required(Header.messageType),
            contentType: try required(Header.contentType),
            receivedAt: receivedAt,
            correlationId: headers.string(Header.correlationId),
            schemaVersion: headers.string(Header.schemaVersion),
            traceParent: headers.string(Header.traceParent)
        )
    }

    /// RFC 3339 in UTC with milliseconds, e.g. `2025-01-15T02:30:45.123Z` (rounded, not truncated).
    public static func formatTimestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let (seconds, fraction) = milliseconds.quotientAndRemainder(dividingBy: 1000)
        let whole = Date(timeIntervalSince1970: TimeInterval(fraction < 0 ? seconds - 1 : seconds))
        let text = whole.formatted(.iso8601.year().month().day().time(includingFractionalSeconds: false).timeZone(separator: .omitted))
        return "\(text.dropLast()).\(String(format: "%03d", (fraction + 1000) % 1000))Z"
    }

    /// Parses RFC 3339 with or without fractional seconds; the result has millisecond precision,
    /// like every envelope timestamp, so a formatted date parses back to an equal one.
    public static func parseTimestamp(_ text: String) -> Date? {
        ((try? Date.ISO8601FormatStyle(includingFractionalSeconds: true).parse(text))
            ?? (try? Date.ISO8601FormatStyle().parse(text))).map(toMilliseconds)
    }

    /// Envelope timestamps travel with millisecond precision, so they are kept that way.
    static func toMilliseconds(_ date: Date) -> Date {
        Date(timeIntervalSince1970: (date.timeIntervalSince1970 * 1000).rounded() / 1000)
    }
}

public enum EnvelopeError: Error, Equatable, CustomStringConvertible {
    case missingHeader(String)
    case malformedHeader(String, expected: String)

    public var description: String {
        switch self {
        case .missingHeader(let name): "record header '\(name)' is missing"
        case .malformedHeader(let name, let expected): "record header '\(name)' is not a valid \(expected)"
        }
    }
}
