import Foundation
import Logging
import MedBusCore
import MedBusKafka
import MedBusRxCentre

/// How the service reaches the insurance e-prescription centre (the manifest's `centre:` block): one
/// `RxCentreConfiguration` (URL, appId and secret, our SM2 key, the centre's public key) per hospital that
/// uploads, and how transient failures are retried.
public struct RxCentreLink: Sendable {
    /// By hospital code (`fixmedinsCode`); a hospital not listed does not upload.
    public var hospitals: [String: RxCentreConfiguration]
    /// The wait after the first transient failure, doubled after each one up to `maxRetryDelay`.
    public var firstRetryDelay: Duration = .milliseconds(200)
    public var maxRetryDelay: Duration = .seconds(60)

    public init(hospitals: [String: RxCentreConfiguration]) {
        self.hospitals = hospitals
    }
}

/// What the centre knows of one prescription, as the forwarder last recorded it on the prescription (its
/// record, `medbus rx show` and `centre` in every API answer).
public struct RxCentreState: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// The last call failed transiently (centre unreachable, timed out, 5xx, system error); it is retried.
        case retrying
        case uploaded
        case revoked
        /// The centre refused the call (`reason`); it went to `dlq.rx` and is not retried.
        case rejected
    }

    public var status: Status
    /// `upload` (pre-check and upload) or `revoke`.
    public var operation: String
    /// The centre's prescription number, once uploaded.
    public var hiRxno: String?
    /// The last failure's `RxCentreError.reasonCode` and text (codes and the centre's message, no patient data).
    public var reason: String?
    public var detail: String?
    /// Failed attempts of the current operation.
    public var attempts: Int
    public var at: Date

    var json: JSONValue {
        var members: [(String, JSONValue)] = [("status", .string(status.rawValue)), ("operation", .string(operation))]
        if let hiRxno { members.append(("hiRxno", .string(hiRxno))) }
        if let reason { members.append(("reason", .string(reason))) }
        if let detail { members.append(("detail", .string(detail))) }
        members += [("attempts", .int(attempts)), ("at", .string(MessageEnvelope.formatTimestamp(at)))]
        return .object(members)
    }

    init(status: Status, operation: String, hiRxno: String?, reason: String? = nil, detail: String? = nil, attempts: Int = 0, at: Date) {
        self.status = status
        self.operation = operation
        self.hiRxno = hiRxno
        self.reason = reason
        self.detail = detail
        self.attempts = attempts
        self.at = at
    }

    init(json: JSONValue) throws(RxProblem) {
        guard let status = json["status"]?.stringValue.flatMap(Status.init), let operation = json["operation"]?.stringValue,
              let at = json["at"]?.stringValue.flatMap(MessageEnvelope.parseTimestamp) else {
            throw RxProblem(.storeFailed, "a stored centre state is not readable")
        }
        self.init(status: status, operation: operation, hiRxno: json["hiRxno"]?.stringValue, reason: json["reason"]?.stringValue,
                  detail: json["detail"]?.stringValue, attempts: json["attempts"]?.intValue ?? 0, at: at)
    }
}

/// Tells the insurance e-prescription centre of every prescription issued (upload pre-check, then upload) and
/// revoked, from the `issued` and `revoke` events on `rx.events`, off the issuing path: a slow or unreachable
/// centre delays only the centre.
///
/// - Transient failures (`RxCentreError.isTransient`: unreachable, timeout, 5xx, the centre's system error) are
///   retried with backoff until the call succeeds; the offset does not move on before, so a restart repeats
///   the call rather than losing it. Repeats are safe: the centre answers a pre-check of a prescription it has
///   with its `hiRxno`, and a repeated revoke with its status.
/// - A rejection (a business refusal, an envelope it cannot read, a reply that does not verify, a document it
///   cannot take) is recorded on the prescription as `rejected` with its reason and the event goes to
///   `dlq.rx` (`medbus-error-reason` = the reason code), in one store transaction; it is not retried.
///
/// Events of one prescription are handled in order; different prescriptions of a batch concurrently.
public final class PrescriptionCentreForwarder: Sendable {
    private let link: RxCentreLink
    private let uploaders: [String: RxCentrePrescriptionUploader]
    private let service: PrescriptionService
    private let kafka: KafkaConfig
    private let groupID: String
    private let logger: Logger

    static let concurrentPrescriptions = 8

    /// - Throws: `RxCentreError.configuration` for a hospital whose appId, secret or URL cannot work.
    public init(link: RxCentreLink, service: PrescriptionService, kafka: KafkaConfig, groupID: String = "medbus-rx-centre",
                logger: Logger = Logger(label: "medbus.rx.centre")) throws(RxCentreError) {
        self.link = link
        var uploaders: [String: RxCentrePrescriptionUploader] = [:]
        for (hospital, configuration) in link.hospitals {
            uploaders[hospital] = RxCentrePrescriptionUploader(client: try RxCentreClient(configuration: configuration))
        }
        self.uploaders = uploaders
        self.service = service
        self.kafka = kafka
        self.groupID = groupID
        self.logger = logger
    }

    /// Consumes `rx.events` until cancelled.
    public func run() async throws {
        let consumer = try KafkaConsumer(config: kafka, groupID: groupID, topics: [RxTopics.events], logger: logger)
        defer {
            Task { [uploaders] in
                await consumer.close()
                for uploader in uploaders.values { await uploader.client.close() }
            }
        }
        while !Task.isCancelled {
            let batch = try await consumer.nextBatch(maxCount: 200, within: .seconds(1))
            guard !batch.isEmpty else { continue }
            var byPrescription: [String: [KafkaConsumerMessage]] = [:]
            var order: [String] = []
            for message in batch {
                let key = message.keyString ?? ""
                if byPrescription[key] == nil { order.append(key) }
                byPrescription[key, default: []].append(message)
            }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for (index, key) in order.enumerated() {
                    if index >= Self.concurrentPrescriptions { try await group.next() }
                    let messages = byPrescription[key]!
                    group.addTask { [self] in
                        for message in messages { try await forward(message) }
                    }
                }
                try await group.waitForAll()
            }
            try await consumer.commit(PrescriptionIntake.positions(batch))
        }
    }

    /// One event: the centre call it asks for, until it succeeded or was rejected.
    private func forward(_ message: KafkaConsumerMessage) async throws {
        guard let event = try? JSONValue.parse(message.value ?? []), let kind = event["event"]?.stringValue,
              kind == RxAction.issue.rawValue || kind == RxAction.revoke.rawValue, let id = event["rxId"]?.stringValue,
              let record = try await service.ledger.record(.id(id)), let uploader = uploaders[record.fixmedinsCode] else { return }
        let operation = kind == RxAction.issue.rawValue ? "upload" : "revoke"
        if operation == "revoke", record.centre?.hiRxno == nil {
            // Never uploaded (its upload was rejected): there is nothing to withdraw at the centre.
            logger.info("revoke not forwarded: the prescription is not at the centre", metadata: ["rxId": "\(id)"])
            return
        }
        let document = try JSONValue.parse(record.document)
        var delay = link.firstRetryDelay
        var attempts = 0
        while true {
            do {
                var hiRxno = record.centre?.hiRxno
                if operation == "upload" {
                    hiRxno = try await uploader.upload(prescription: document) ?? hiRxno
                } else {
                    try await uploader.revoke(prescription: document.setting("hiRxno", .optional(hiRxno)), reason: event["reason"]?.stringValue)
                }
                try await save(id, RxCentreState(status: operation == "upload" ? .uploaded : .revoked, operation: operation, hiRxno: hiRxno,
                                                   attempts: attempts, at: service.clock.now()))
                logger.info("forwarded to the prescription centre", metadata: ["rxId": "\(id)", "operation": "\(operation)", "attempts": "\(attempts + 1)"])
                return
            } catch let error as RxCentreError {
                attempts += 1
                var state = RxCentreState(status: error.isTransient ? .retrying : .rejected, operation: operation, hiRxno: record.centre?.hiRxno,
                                          reason: error.reasonCode, detail: error.description, attempts: attempts, at: service.clock.now())
                guard error.isTransient else {
                    try await save(id, state, deadLetter: message)
                    logger.warning("the prescription centre rejected a call", metadata: ["rxId": "\(id)", "operation": "\(operation)", "reason": "\(error.reasonCode)"])
                    return
                }
                state.detail = "\(error.description); retrying in \(delay)"
                try await save(id, state)
                logger.warning("prescription centre call failed; retrying", metadata: ["rxId": "\(id)", "operation": "\(operation)", "reason": "\(error.reasonCode)", "attempts": "\(attempts)"])
                try await Task.sleep(for: delay)
                delay = min(delay * 2, link.maxRetryDelay)
            }
        }
    }

    /// Records `state`; a rejection also queues the event for `dlq.rx` with the dead-letter headers.
    private func save(_ id: String, _ state: RxCentreState, deadLetter message: KafkaConsumerMessage? = nil) async throws {
        let letters = message.map { message in
            [RxOutboxRecord(topic: RxTopics.deadLetters, key: id, value: message.value ?? [], messageID: "\(id)-centre-\(state.operation)",
                            messageType: message.headers.string(MessageEnvelope.Header.messageType) ?? "rx.event", headers: [
                                ("medbus-error-reason", state.reason ?? "centre-rejected"), ("medbus-error-message", state.detail ?? ""),
                                ("medbus-source-topic", message.topic), ("medbus-source-partition", "\(message.partition)"),
                                ("medbus-source-offset", "\(message.offset)"), ("medbus-dead-lettered-at", MessageEnvelope.formatTimestamp(state.at)),
                            ])]
        } ?? []
        _ = try await service.store.recordCentre(id: id, state, records: letters)
        if !letters.isEmpty { service.doorbell.ring() }
    }
}
