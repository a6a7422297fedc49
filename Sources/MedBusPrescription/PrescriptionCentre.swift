import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// The insurance e-prescription centre (DOMAIN.md §2, hospital side), as prescription circulation needs it:
/// told of every prescription issued and revoked. `MedBusRxCentre`'s client (the SM4/SM2 envelope over
/// HTTP) is the production implementation; the mapping of our document to its `uploadChk` / `rxFileUpld` /
/// `rxUndo` inputs belongs to that adapter.
public protocol PrescriptionCentre: Sendable {
    /// Uploads an issued prescription (the signed document); returns the centre's number (`hiRxno`), if any.
    func upload(prescription: JSONValue) async throws -> String?
    /// Withdraws a prescription the hospital revoked.
    func revoke(prescription: JSONValue, reason: String?) async throws
}

/// Calls the centre for each `issued` and `revoked` event on `rx.events`, in order per prescription, off the
/// issuing path: a slow or unreachable centre delays only the centre. A call that fails is retried (with
/// backoff up to a minute) before the offset moves on, so every issue and revoke reaches the centre at least
/// once; the centre's answers to repeats are its own idempotency (same `hospRxno`).
public final class PrescriptionCentreForwarder: Sendable {
    private let centre: any PrescriptionCentre
    private let ledger: RxLedger
    private let kafka: KafkaConfig
    private let logger: Logger

    public init(centre: any PrescriptionCentre, ledger: RxLedger, kafka: KafkaConfig, logger: Logger = Logger(label: "medbus.rx.centre")) {
        self.centre = centre
        self.ledger = ledger
        self.kafka = kafka
        self.logger = logger
    }

    /// Consumes `rx.events` (group `medbus-rx-centre`) until cancelled.
    public func run() async throws {
        let consumer = try KafkaConsumer(config: kafka, groupID: "medbus-rx-centre", topics: [RxTopics.events], logger: logger)
        defer { Task { await consumer.close() } }
        while !Task.isCancelled {
            let batch = try await consumer.nextBatch(maxCount: 100, within: .seconds(1))
            for message in batch {
                guard let event = try? JSONValue.parse(message.value ?? []), let kind = event["event"]?.stringValue,
                      kind == RxAction.issue.rawValue || kind == RxAction.revoke.rawValue, let id = event["rxId"]?.stringValue,
                      let record = try await ledger.record(.id(id)), let document = try? JSONValue.parse(record.document) else { continue }
                var delay = Duration.milliseconds(200)
                while true {
                    do {
                        if kind == RxAction.issue.rawValue { _ = try await centre.upload(prescription: document) } else {
                            try await centre.revoke(prescription: document, reason: event["reason"]?.stringValue)
                        }
                        break
                    } catch {
                        logger.warning("prescription centre call failed; retrying", metadata: ["rxId": "\(id)", "event": "\(kind)", "error": "\(error)"])
                        try await Task.sleep(for: delay)
                        delay = min(delay * 2, .seconds(60))
                    }
                }
            }
            if !batch.isEmpty { try await consumer.commit(PrescriptionIntake.positions(batch)) }
        }
    }
}
