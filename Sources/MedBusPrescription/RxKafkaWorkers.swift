import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// Issues the prescriptions the routing core publishes from the HIS (`canonical.prescription`, the target
/// of the RDE^O11 mapping), a batch at a time (one store transaction per batch).
///
/// A prescription that cannot be issued goes to `dlq.rx` unchanged, with the dead-letter headers the routing
/// core uses (`medbus-error-reason` = the problem code, `medbus-error-message`, `medbus-source-topic/-partition
/// /-offset`, `medbus-dead-lettered-at`), so `medbus dlq list --topic dlq.rx` shows it. Offsets are committed
/// after the batch is stored and its dead letters acknowledged: a crash re-reads the batch, and a prescription
/// read again finds the one already issued (same hospital, number and content).
public final class PrescriptionIntake: Sendable {
    private let service: PrescriptionService
    private let kafka: KafkaConfig
    private let topic: String
    private let groupID: String
    private let logger: Logger

    public init(service: PrescriptionService, kafka: KafkaConfig, topic: String? = nil, groupID: String = "medbus-rx-intake",
                logger: Logger = Logger(label: "medbus.rx.intake")) {
        self.service = service
        self.kafka = kafka
        self.topic = topic ?? service.configuration.inputTopic
        self.groupID = groupID
        self.logger = logger
    }

    /// Consumes until cancelled.
    public func run() async throws {
        let consumer = try KafkaConsumer(config: kafka, groupID: groupID, topics: [topic], logger: logger)
        defer { Task { await consumer.close() } }
        while !Task.isCancelled {
            let batch = try await consumer.nextBatch(maxCount: 500, within: .seconds(1))
            guard !batch.isEmpty else { continue }
            var bodies: [JSONValue] = []
            var parsed: [KafkaConsumerMessage] = []
            var letters: [KafkaProducerMessage] = []
            for message in batch {
                do {
                    bodies.append(try JSONValue.parse(message.value ?? []))
                    parsed.append(message)
                } catch {
                    letters.append(deadLetter(message, RxProblem(.invalidJSON, "\(error)")))
                }
            }
            let answers = await service.issue(bodies)
            for (message, answer) in zip(parsed, answers) {
                if case .failure(let problem) = answer {
                    if problem.kind == .storeFailed { throw problem }
                    letters.append(deadLetter(message, problem))
                }
            }
            if !letters.isEmpty {
                let reports = try await service.producer.sendBatch(letters)
                if let failed = reports.first(where: { $0.error != nil }) { throw failed.error! }
                logger.warning("prescriptions refused", metadata: ["count": "\(letters.count)", "reasons": "\(Set(letters.compactMap { $0.headers.string("medbus-error-reason") }).sorted())"])
            }
            try await consumer.commit(Self.positions(batch))
        }
    }

    private func deadLetter(_ message: KafkaConsumerMessage, _ problem: RxProblem) -> KafkaProducerMessage {
        KafkaProducerMessage(topic: RxTopics.deadLetters, key: message.key, value: message.value, headers: message.headers + [
            KafkaHeader(key: "medbus-error-reason", string: problem.kind.rawValue),
            KafkaHeader(key: "medbus-error-message", string: problem.detail),
            KafkaHeader(key: "medbus-source-topic", string: message.topic),
            KafkaHeader(key: "medbus-source-partition", string: "\(message.partition)"),
            KafkaHeader(key: "medbus-source-offset", string: "\(message.offset)"),
            KafkaHeader(key: "medbus-dead-lettered-at", string: MessageEnvelope.formatTimestamp(Date())),
        ])
    }

    /// The position after the last record of each partition in `batch`.
    static func positions(_ batch: [KafkaConsumerMessage]) -> [TopicPartitionOffset] {
        var last: [String: KafkaConsumerMessage] = [:]
        for message in batch { last["\(message.topic)/\(message.partition)"] = message }
        return last.values.map(\.nextPosition)
    }
}

/// The pharmacy API as Kafka commands: JSON records on `rx.commands`,
///
/// `{"commandId": "c-123", "action": "claim", "rxId": "…" | "rxTraceCode": "…" | "qrToken": "…", "pharmacyCode": "P1", …}`
///
/// with the fields of the HTTP operation of the same name (`RxOperation`), plus `"action": "lookup"`. Each
/// result goes to `rx.command-results`, keyed by command id: `{"commandId", "status", "rxId", "result"}` (the
/// prescription with its signature, as over HTTP) or `{"commandId", "status", "problem"}`. A command id seen
/// before gets its first result again, whatever the command says now (the result is stored with the
/// transition, in one transaction). Commands are applied in partition order; key them by prescription.
public final class RxCommandProcessor: Sendable {
    private let service: PrescriptionService
    private let kafka: KafkaConfig
    private let groupID: String
    private let logger: Logger

    static let envelopeFields: Set<String> = ["commandId", "action", "rxId", "rxTraceCode", "qrToken"]

    public init(service: PrescriptionService, kafka: KafkaConfig, groupID: String = "medbus-rx-commands", logger: Logger = Logger(label: "medbus.rx.commands")) {
        self.service = service
        self.kafka = kafka
        self.groupID = groupID
        self.logger = logger
    }

    /// Consumes until cancelled.
    public func run() async throws {
        let consumer = try KafkaConsumer(config: kafka, groupID: groupID, topics: [RxTopics.commands], logger: logger)
        defer { Task { await consumer.close() } }
        while !Task.isCancelled {
            let batch = try await consumer.nextBatch(maxCount: 200, within: .seconds(1))
            guard !batch.isEmpty else { continue }
            var direct: [KafkaProducerMessage] = []
            for message in batch {
                if let result = await handle(message) { direct.append(result) }
            }
            if !direct.isEmpty {
                let reports = try await service.producer.sendBatch(direct)
                if let failed = reports.first(where: { $0.error != nil }) { throw failed.error! }
            }
            try await consumer.commit(PrescriptionIntake.positions(batch))
        }
    }

    /// Performs one command. Returns the result to publish directly (lookups and commands that could not be
    /// read); the results of changes are published from the store's outbox.
    func handle(_ message: KafkaConsumerMessage) async -> KafkaProducerMessage? {
        let body: JSONValue
        do { body = try JSONValue.parse(message.value ?? []) } catch {
            return result(commandID: message.headers.string(MessageEnvelope.Header.id) ?? message.keyString ?? "unknown",
                          problem: RxProblem(.invalidJSON, "\(error)"))
        }
        guard let commandID = body["commandId"]?.stringValue, !commandID.isEmpty else {
            return result(commandID: message.keyString ?? "unknown", problem: RxProblem(.missingField, "commandId is required", extras: [("field", .string("commandId"))]))
        }
        let lookup: PrescriptionService.Lookup
        if let id = body["rxId"]?.stringValue { lookup = .id(id) } else if let code = body["rxTraceCode"]?.stringValue {
            lookup = .traceCode(code)
        } else if let token = body["qrToken"]?.stringValue { lookup = .qrToken(token) } else {
            return result(commandID: commandID, problem: RxProblem(.missingField, "rxId, rxTraceCode or qrToken is required", extras: [("field", .string("rxId"))]))
        }
        let action = body["action"]?.stringValue ?? ""
        if action == "lookup" {
            let answer = await service.lookup(lookup)
            return result(commandID: commandID, answer: answer)
        }
        guard let operation = RxOperation(rawValue: action) else {
            return result(commandID: commandID, problem: RxProblem(.invalidField, "action must be lookup or one of \(RxOperation.allCases.map(\.rawValue).joined(separator: ", "))",
                                                                   extras: [("field", .string("action"))]))
        }
        let fields = body.objectFields.filter { !Self.envelopeFields.contains($0.key) }
        let request: RxRequest
        do { request = try operation.request(.object(fields), now: service.clock.now()) } catch {
            return result(commandID: commandID, problem: error)
        }
        // The result is stored with the transition and published from the outbox.
        _ = await service.perform(request, on: lookup, command: .kafka(commandID))
        return nil
    }

    private func result(commandID: String, answer: PrescriptionService.Answer) -> KafkaProducerMessage {
        let command = RxCommand.kafka(commandID)
        return command.resultRecord(command.result(answer)).producerMessage(at: Date())
    }

    private func result(commandID: String, problem: RxProblem) -> KafkaProducerMessage {
        result(commandID: commandID, answer: PrescriptionService.Answer(status: problem.kind.httpStatus, body: problem.json))
    }
}
