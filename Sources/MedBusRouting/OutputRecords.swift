import MedBusCore
import MedBusKafka

/// Header names the routing core writes. Part of the contract with downstream consumers and
/// operators' tools (dead-letter inspection and replay), like `MessageEnvelope.Header`.
public enum RoutingHeader {
    public static let mappingVersion = "medbus-mapping-version"
    public static let sourceTopic = "medbus-source-topic"
    public static let sourcePartition = "medbus-source-partition"
    public static let sourceOffset = "medbus-source-offset"
    /// Position of the output among its input's outputs: with the source position it names one
    /// output uniquely, which is how the in-doubt scan recognises one already written.
    public static let outputIndex = "medbus-output-index"
    public static let errorReason = "medbus-error-reason"
    public static let errorMapping = "medbus-error-mapping"
    public static let errorMappingVersion = "medbus-error-mapping-version"
    public static let errorRule = "medbus-error-rule"
    public static let errorMessage = "medbus-error-message"
    public static let deadLetteredAt = "medbus-dead-lettered-at"

    /// The record a dead letter was made from: same key, value and envelope headers, on its source
    /// topic, without the headers the core added, so routing it again treats it as new. `nil` when
    /// the dead letter does not name its source topic.
    public static func original(of deadLetter: KafkaConsumerMessage) -> KafkaProducerMessage? {
        guard let topic = deadLetter.headers.string(sourceTopic) else { return nil }
        return KafkaProducerMessage(topic: topic, key: deadLetter.key, value: deadLetter.value,
                                    headers: deadLetter.headers.filter { !deadLetterOwned.contains($0.key) })
    }

    /// Envelope headers every output inherits from its input unless the router set them.
    static let inherited = [
        MessageEnvelope.Header.id, MessageEnvelope.Header.source, MessageEnvelope.Header.messageType,
        MessageEnvelope.Header.correlationId, MessageEnvelope.Header.traceParent, MessageEnvelope.Header.receivedAt,
    ]
    /// Written by the core only: a router's or an input's own value is replaced.
    static let positionalNames = [sourceTopic, sourcePartition, sourceOffset, outputIndex]
    static let deadLetterOwned: Set<String> = Set(positionalNames).union([
        errorReason, errorMapping, errorMappingVersion, errorRule, errorMessage, deadLetteredAt,
    ])
}

/// An input partition, the unit of ordering and of committed positions.
struct InputPartition: Hashable, Sendable, CustomStringConvertible {
    var topic: String
    var partition: Int32

    init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    init(_ message: KafkaConsumerMessage) { self.init(topic: message.topic, partition: message.partition) }

    var description: String { "\(topic)[\(partition)]" }
}

/// Names one output of one input record across attempts and restarts.
struct OutputID: Hashable, Sendable {
    var source: InputPartition
    var sourceOffset: Int64
    var topic: String
    var index: Int

    /// Reads the identity the core stamped on a record it produced; `nil` for other records.
    init?(headers: [KafkaHeader], topic: String) {
        guard let sourceTopic = headers.string(RoutingHeader.sourceTopic),
              let partition = headers.string(RoutingHeader.sourcePartition).flatMap({ Int32($0) }),
              let offset = headers.string(RoutingHeader.sourceOffset).flatMap({ Int64($0) }),
              let index = headers.string(RoutingHeader.outputIndex).flatMap({ Int($0) })
        else { return nil }
        self.init(source: InputPartition(topic: sourceTopic, partition: partition), sourceOffset: offset, topic: topic, index: index)
    }

    init(source: InputPartition, sourceOffset: Int64, topic: String, index: Int) {
        self.source = source
        self.sourceOffset = sourceOffset
        self.topic = topic
        self.index = index
    }
}

/// A record the core is about to produce for one input.
struct PlannedOutput: Sendable {
    enum Kind: Sendable { case routed, deadLetter }
    var id: OutputID
    var kind: Kind
    var message: KafkaProducerMessage
}

/// Turns a routing decision into the records to produce, with their headers completed.
enum OutputRecords {
    /// - Parameters:
    ///   - version: the router's version, for outputs that carry none of their own.
    ///   - now: `medbus-dead-lettered-at`, formatted once per batch.
    static func plan(
        for input: KafkaConsumerMessage,
        decision: RouteDecision,
        version: String,
        deadLetterTopic: String,
        now: String
    ) -> [PlannedOutput] {
        let source = InputPartition(input)
        switch decision {
        case .skip:
            return []
        case .route(let records):
            return records.enumerated().map { index, record in
                PlannedOutput(
                    id: OutputID(source: source, sourceOffset: input.offset, topic: record.topic, index: index),
                    kind: .routed,
                    message: KafkaProducerMessage(topic: record.topic, key: record.key, value: record.value,
                                                  headers: routedHeaders(record.headers, input: input, version: version, index: index))
                )
            }
        case .deadLetter(let letter):
            var headers = input.headers.filter { !RoutingHeader.deadLetterOwned.contains($0.key) }
            headers.append(KafkaHeader(key: RoutingHeader.errorReason, string: letter.reason))
            if let mapping = letter.mapping { headers.append(KafkaHeader(key: RoutingHeader.errorMapping, string: mapping)) }
            headers.append(KafkaHeader(key: RoutingHeader.errorMappingVersion, string: letter.version ?? version))
            if let rule = letter.rule { headers.append(KafkaHeader(key: RoutingHeader.errorRule, string: rule)) }
            headers.append(KafkaHeader(key: RoutingHeader.errorMessage, string: letter.message))
            appendPosition(of: input, index: 0, to: &headers)
            headers.append(KafkaHeader(key: RoutingHeader.deadLetteredAt, string: now))
            return [PlannedOutput(
                id: OutputID(source: source, sourceOffset: input.offset, topic: deadLetterTopic, index: 0),
                kind: .deadLetter,
                message: KafkaProducerMessage(topic: deadLetterTopic, key: input.key, value: input.value, headers: headers)
            )]
        }
    }

    /// The router's headers, then the input's envelope headers it did not set, the mapping
    /// version, and the source position.
    private static func routedHeaders(_ own: [KafkaHeader], input: KafkaConsumerMessage, version: String, index: Int) -> [KafkaHeader] {
        // A handful of headers each: linear scans, no Set per record.
        var headers = own.filter { header in !RoutingHeader.positionalNames.contains { $0 == header.key } }
        headers.reserveCapacity(headers.count + RoutingHeader.inherited.count + 5)
        let ownCount = headers.count
        func isOwn(_ name: String) -> Bool { headers[..<ownCount].contains { $0.key == name } }
        for name in RoutingHeader.inherited where !isOwn(name) {
            if let header = input.headers.first(where: { $0.key == name }) { headers.append(header) }
        }
        if !isOwn(RoutingHeader.mappingVersion) {
            headers.append(KafkaHeader(key: RoutingHeader.mappingVersion, string: version))
        }
        appendPosition(of: input, index: index, to: &headers)
        return headers
    }

    private static func appendPosition(of input: KafkaConsumerMessage, index: Int, to headers: inout [KafkaHeader]) {
        headers.append(KafkaHeader(key: RoutingHeader.sourceTopic, string: input.topic))
        headers.append(KafkaHeader(key: RoutingHeader.sourcePartition, string: String(input.partition)))
        headers.append(KafkaHeader(key: RoutingHeader.sourceOffset, string: String(input.offset)))
        headers.append(KafkaHeader(key: RoutingHeader.outputIndex, string: String(index)))
    }
}
