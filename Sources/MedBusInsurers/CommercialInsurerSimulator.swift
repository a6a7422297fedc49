import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// `medbus simulate commercial`: a reference commercial insurer on Kafka. Consumes
/// `insurer.<id>.requests`, answers on `insurer.<id>.replies` with the request's key and
/// `medbus-correlation-id` = msgid (the contract in `Adapters/insurers/README.md`), and commits a
/// batch's offsets only after its replies are produced.
///
/// Faults (`SimulatorFault`, keyed by request `type`): `delay=MS`; `drop` (no reply, nothing
/// recorded; `error` is the same here); `drop-after` (recorded, no reply; also `error-after`);
/// `decline[=REASON]`; `duplicate` (the reply is produced twice); `out-of-order` (the reply is
/// held and produced after the next reply, or when the simulator stops).
public final class CommercialInsurerSimulator: Sendable {
    public let insurer: String
    public let faults: FaultPlan
    private let book: ClaimBookBox
    private let consumer: KafkaConsumer
    private let producer: KafkaProducer
    private let requestsTopic: String
    private let repliesTopic: String
    private let logger: Logger

    /// - Throws: `KafkaError`, or the topic naming error for an unusable insurer id.
    public init(insurer: String, policy: CommercialPolicy, kafka: KafkaConfig, faults: FaultPlan = FaultPlan(), group: String? = nil,
                logger: Logger = Logger(label: "medbus.simulate.commercial")) throws {
        self.insurer = insurer
        self.faults = faults
        self.logger = logger
        book = ClaimBookBox(CommercialClaimBook(policy: policy))
        requestsTopic = try TopicName.insurerRequests(insurer)
        repliesTopic = try TopicName.insurerReplies(insurer)
        producer = try KafkaProducer(config: kafka, logger: logger)
        consumer = try KafkaConsumer(config: kafka, groupID: group ?? "medbus-simulate-\(insurer)", topics: [requestsTopic], logger: logger)
    }

    /// Total approved minus reversed for a person, for tests.
    public func paidThisYear(psnNo: String) async -> Money { await book.read { $0.paidThisYear(psnNo: psnNo) } }

    /// Claims recorded (claimId → claim), for tests.
    public var claims: [String: CommercialClaimBook.Claim] { get async { await book.read { $0.claims } } }

    /// The claim book as JSON (`CommercialClaimBook.ledgerJSON`).
    public var ledgerJSON: JSONValue { get async { await book.read { $0.ledgerJSON } } }

    /// Consumes until `shutdown()`.
    /// - Throws: a fatal Kafka error (e.g. the requests topic does not exist).
    public func run() async throws {
        logger.info("commercial insurer simulator started", metadata: ["insurer": "\(insurer)", "requests": "\(requestsTopic)"])
        var held: [KafkaProducerMessage] = []
        while true {
            let batch = try await consumer.nextBatch(maxCount: 500)
            if batch.isEmpty { break }
            var out: [KafkaProducerMessage] = []
            for record in batch {
                let replies = await answer(record)
                for (reply, fault) in replies {
                    switch fault {
                    case .outOfOrder:
                        held.append(reply)
                    case .duplicate:
                        out.append(reply)
                        out.append(reply)
                        out.append(contentsOf: held)
                        held = []
                    default:
                        out.append(reply)
                        out.append(contentsOf: held)
                        held = []
                    }
                }
            }
            let reports = try await producer.sendBatch(out)
            if let failed = reports.first(where: { $0.error != nil }) {
                // Offsets stay uncommitted: the batch is answered again after a restart (same replies, by msgid).
                logger.error("replies not delivered; stopping", metadata: ["error": "\(failed.error!)"])
                throw failed.error!
            }
            try await consumer.commit(batch.map(\.nextPosition).reduce(into: [:]) { $0[$1.partition] = $1 }.map(\.value))
        }
        if !held.isEmpty { _ = try? await producer.sendBatch(held) }
        await producer.shutdown()
    }

    public func shutdown() async { await consumer.close() }

    /// The replies to produce for one request and the fault that shaped them.
    private func answer(_ record: KafkaConsumerMessage) async -> [(KafkaProducerMessage, SimulatorFault.Action?)] {
        guard let request = try? JSONValue.parse(record.value ?? []) else {
            logger.error("request is not JSON; skipped", metadata: ["partition": "\(record.partition)", "offset": "\(record.offset)"])
            return []
        }
        let type = request["type"]?.stringValue ?? ""
        let metadata: Logger.Metadata = ["msgid": "\(request["msgid"]?.stringValue ?? "")", "type": "\(type)"]
        let fault = faults.take(for: type)
        let reply: JSONValue
        switch fault {
        case .delay(let ms):
            try? await Task.sleep(for: .milliseconds(ms))
            reply = await book.update { $0.reply(to: request) }
        case .drop, .systemError:
            logger.info("fault: request dropped unprocessed", metadata: metadata)
            return []
        case .dropAfter, .systemErrorAfter:
            _ = await book.update { $0.reply(to: request) }
            logger.info("fault: reply of a processed request dropped", metadata: metadata)
            return []
        case .decline(let reason):
            reply = CommercialClaimBook.declined(request, reason: reason)
        case nil, .duplicate, .outOfOrder:
            reply = await book.update { $0.reply(to: request) }
        }
        let msgid = request["msgid"]?.stringValue ?? ""
        let envelope = MessageEnvelope(source: "insurer.\(insurer)", messageType: "claim-reply", contentType: "application/json; charset=utf-8", correlationId: msgid)
        return [(KafkaProducerMessage(topic: repliesTopic, key: record.key, value: reply.jsonBytes, headers: envelope.headers), fault)]
    }
}

/// The claim book behind an actor, so tests can read it while the simulator runs.
actor ClaimBookBox {
    private var book: CommercialClaimBook
    init(_ book: CommercialClaimBook) { self.book = book }
    func update<T: Sendable>(_ body: (inout CommercialClaimBook) -> T) -> T { body(&book) }
    func read<T: Sendable>(_ body: (CommercialClaimBook) -> T) -> T { body(book) }
}
