import MedBusCore
import MedBusKafka
import MedBusMapping
import MedBusRouting

/// Routes raw records with a set of compiled mappings.
struct MappingRouter: MessageRouter {
    private let catalog: MappingCatalog
    let version: String
    let targetTopics: Set<String>

    init(_ mappings: some Sequence<Mapping>) {
        let sorted = mappings.sorted { $0.name < $1.name }
        catalog = MappingCatalog(sorted)
        targetTopics = catalog.targetTopics
        version = sorted.map { "\($0.name)@\($0.version ?? 0)" }.joined(separator: ",")
    }

    func route(_ message: KafkaConsumerMessage) -> RouteDecision {
        var headers: [String: String] = [:]
        for header in message.headers { if let value = header.stringValue { headers[header.key] = value } }
        switch catalog.apply(MappingInput(payload: message.value ?? [], headers: headers)) {
        case .success(.filtered):
            return .skip
        case .success(.records(let records)):
            return .route(outputs(records, input: headers, position: message))
        case .failure(let failure):
            return .deadLetter(DeadLetter(reason: failure.reason.rawValue, mapping: failure.mapping, version: failure.version.map { "\($0)" },
                                          rule: failure.rule, message: failure.message))
        }
    }

    /// Output ids are derived from the input's, so routing the same input again (after a crash or
    /// a replay) gives the same ids and any consumer can deduplicate by `medbus-message-id`.
    private func outputs(_ records: [MappedRecord], input: [String: String], position: KafkaConsumerMessage) -> [RoutedRecord] {
        let inputID = input[MessageEnvelope.Header.id] ?? "\(position.topic)-\(position.partition)-\(position.offset)"
        let correlation = input[MessageEnvelope.Header.correlationId] ?? inputID
        return records.indices.map { n in
            let record = records[n]
            // The record's number among the earlier ones of its target (a mapping writes a few records: a scan).
            let index = records[..<n].reduce(0) { $0 + ($1.target == record.target ? 1 : 0) }
            return RoutedRecord(
                topic: record.topic,
                key: record.key.map { Array($0.utf8) },
                value: record.value,
                headers: [
                    KafkaHeader(key: MessageEnvelope.Header.id, string: index == 0 ? "\(inputID)-\(record.target)" : "\(inputID)-\(record.target)-\(index)"),
                    KafkaHeader(key: MessageEnvelope.Header.correlationId, string: correlation),
                    KafkaHeader(key: MessageEnvelope.Header.contentType, string: record.contentType),
                    KafkaHeader(key: MessageEnvelope.Header.messageType, string: record.target),
                    KafkaHeader(key: RoutingHeader.mappingVersion, string: "\(record.mapping)@\(record.version ?? 0)"),
                ]
            )
        }
    }
}
