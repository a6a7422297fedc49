import CoreMetrics
import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// One-stop settlement as a durable saga over Kafka (issue 5).
///
/// Requests arrive on `settlement.requests` (consumer group `medbus-settlement`) or through
/// `submit`; each becomes one saga, idempotently per (fixmedins_code, chrg_bchno). Its steps go to
/// `insurer.nhsa.requests` / `insurer.<id>.requests`; replies on `insurer.nhsa.replies` and each
/// configured `insurer.<id>.replies` (group `medbus-settlement-replies`) are matched by the
/// `medbus-correlation-id` header. Results go to `settlement.results`, claims for declined or
/// unanswered commercial shares to `settlement.claims.<insurer>`. The contract is
/// `Adapters/insurers/README.md`.
///
/// Every transition is committed to `<store>/settlement.sqlite` before the next message goes out;
/// `run()` resumes every unfinished saga from its last committed state. One orchestrator process
/// per saga log: replies are routed to the sagas this process runs.
public final class SettlementOrchestrator: Sendable {
    private let kafka: KafkaConfig
    let store: SettlementStore
    private let producer: KafkaProducer
    private let registry: SagaRegistry
    private let configuration: SettlementConfiguration
    private let logger: Logger
    private let finished = Waiters<Bool>()
    private let replyReadiness = ReplyReadiness()
    /// Replies to requests outside any saga (3201), by msgid.
    private let queries = Waiters<JSONValue>()

    /// Opens the saga log in `storeDirectory` and a producer; nothing runs until `run()` (but
    /// `submit` already starts sagas).
    /// - Throws: `SettlementError.store` if the saga log cannot be opened; `KafkaError` for an
    ///   invalid producer configuration.
    public init(kafka: KafkaConfig, storeDirectory: String, configuration: SettlementConfiguration = SettlementConfiguration(),
                logger: Logger = Logger(label: "medbus.settlement")) throws {
        self.kafka = kafka
        self.configuration = configuration
        self.logger = logger
        store = try SettlementStore.open(directory: storeDirectory)
        do {
            producer = try KafkaProducer(config: kafka, logger: logger)
        } catch {
            store.close()
            throw error
        }
        registry = SagaRegistry(context: SagaContext(store: store, producer: producer, configuration: configuration, logger: logger,
                                                     now: { Date() }, finished: finished, replies: replyReadiness))
    }

    /// Consumes requests and replies and resumes unfinished sagas, until the task is cancelled;
    /// then stops every saga after the event it is handling, closes the consumers, flushes the
    /// producer and closes the saga log. A stopped orchestrator cannot be run again.
    /// - Throws: `KafkaError` when a consumer cannot start (e.g. a reply topic does not exist).
    public func run() async throws {
        let requests = try KafkaConsumer(config: kafka, groupID: "medbus-settlement", topics: [SagaContext.requestsTopic], logger: logger)
        let replyTopics = [SagaContext.platformReplies] + configuration.commercialInsurers.map(SagaContext.commercialReplies)
        let replies: KafkaConsumer
        do {
            replies = try KafkaConsumer(config: kafka, groupID: "medbus-settlement-replies", topics: replyTopics, autoCommitStoredOffsets: true, logger: logger)
        } catch {
            await requests.close()
            throw error
        }
        do {
            try await withTaskCancellationHandler {
                try await resumeUnfinished()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await self.consumeRequests(requests) }
                    group.addTask { try await self.consumeReplies(replies) }
                    group.addTask { await self.sampleStates() }
                    group.addTask { await self.watchAssignment(replies) }
                    try await group.waitForAll()
                }
            } onCancel: {
                Task { await requests.close(); await replies.close() }
            }
        } catch {
            await stop(requests, replies)
            throw error
        }
        await stop(requests, replies)
    }

    /// `medbus_settlement_sagas{state}` every 5 seconds, until cancelled.
    private func sampleStates() async {
        while !Task.isCancelled {
            if let counts = try? await store.countsByState() {
                for state in SettlementState.allCases {
                    Gauge(label: "medbus_settlement_sagas", dimensions: [("state", state.rawValue)]).record(counts[state.rawValue] ?? 0)
                }
            }
            try? await Task.sleep(for: .seconds(5))
        }
    }

    /// Keeps `ReplyReadiness` current (every 100 ms) until cancelled.
    private func watchAssignment(_ replies: KafkaConsumer) async {
        while !Task.isCancelled {
            replyReadiness.observe(assigned: !((try? replies.assignment()) ?? []).isEmpty)
            try? await Task.sleep(for: .milliseconds(100))
        }
    }

    private func stop(_ consumers: KafkaConsumer...) async {
        for consumer in consumers { await consumer.close() }
        await registry.stopAll()
        await producer.shutdown()
        store.close()
        logger.info("settlement orchestrator stopped")
    }

    /// Starts the settlement of `request`, or finds the one already started for the same
    /// (fixmedins_code, chrg_bchno): a repeat never starts a second saga.
    /// - Returns: the settlement id.
    /// - Throws: `SettlementError.invalidRequest`, `.unknownHospital`, `.store`.
    @discardableResult
    public func submit(_ request: SettlementRequest) async throws -> String {
        try request.validate()
        guard configuration.hospitals.isEmpty || configuration.hospitals.contains(request.fixmedinsCode) else {
            throw SettlementError.unknownHospital(request.fixmedinsCode)
        }
        let now = Date()
        let (saga, created) = try await store.create(try SagaRecord(id: "stl-" + UUID().uuidString.lowercased(), request: request, at: now))
        if created {
            logger.debug("settlement received", metadata: ["settlement": "\(saga.id)"])
            guard await registry.deliver(saga.id, .start, committed: saga) else { throw SettlementError.stopped }
        }
        return saga.id
    }

    /// The settlement's state and, once finished, its result.
    /// - Throws: `SettlementError.notFound`, `.store`.
    public func status(_ id: String) async throws -> SettlementStatus {
        guard let status = try await store.status(id: id) else { throw SettlementError.notFound(id: id) }
        return status
    }

    /// The settlement's status once it is final (completed, failed or cancelled), or as it stands
    /// when `timeout` passes first.
    /// - Throws: `SettlementError.notFound`, `.store`.
    public func status(_ id: String, waitingUpTo timeout: Duration) async throws -> SettlementStatus {
        let store = self.store
        _ = try await finished.wait(for: id, timeout: timeout) {
            guard let state = try await store.state(id: id) else { throw SettlementError.notFound(id: id) }
            return state.isTerminal ? true : nil
        }
        return try await status(id)
    }

    /// Sends one platform request outside any saga (e.g. 3201) on `insurer.nhsa.requests` and
    /// waits for its reply.
    /// - Throws: `SettlementError.insurer` when no reply comes within `timeout`.
    func query(infno: String, fixmedinsCode: String, input: JSONValue, timeout: Duration) async throws -> PlatformMessages.Reply {
        let now = Date()
        let msgid = try await store.allocateQueryMessageID(fixmedinsCode: fixmedinsCode, infno: infno, at: now)
        let envelope = PlatformMessages.envelope(infno: infno, msgid: msgid, fixmedinsCode: fixmedinsCode, fixmedinsName: "",
                                                 mdtrtareaAdmvs: "", insuplcAdmdvs: "", input: input, platform: configuration.platform, at: now)
        let headers = [
            KafkaHeader(key: MessageEnvelope.Header.id, string: msgid),
            KafkaHeader(key: MessageEnvelope.Header.messageType, string: infno),
            KafkaHeader(key: MessageEnvelope.Header.contentType, string: "application/json"),
        ]
        let producer = self.producer
        let body = try await queries.wait(for: msgid, timeout: timeout) {
            try await producer.send(KafkaProducerMessage(topic: SagaContext.platformRequests, key: msgid, value: envelope.jsonText, headers: headers))
            return nil
        }
        guard let body else { throw SettlementError.insurer("no answer to \(infno) (msgid \(msgid)) within \(timeout)") }
        return try PlatformMessages.Reply(body)
    }

    /// Cancels a completed settlement: 2208, then the commercial reversal when the insurer paid;
    /// the saga ends `cancelled`. Returns once the cancellation is committed (its steps run on).
    /// Cancelling a cancelled settlement returns its status.
    /// - Throws: `SettlementError.notCancellable` unless completed (or already cancelling), `.notFound`.
    @discardableResult
    public func cancel(_ id: String) async throws -> SettlementStatus {
        guard try await store.load(id: id) != nil else { throw SettlementError.notFound(id: id) }
        let saga: SagaRecord = try await withCheckedThrowingContinuation { waiter in
            Task {
                if !(await registry.deliver(id, .cancel(waiter))) { waiter.resume(throwing: SettlementError.stopped) }
            }
        }
        return Self.status(saga)
    }

    /// Settlements newest first, optionally in one state, of one hospital, created in [from, to); `offset` rows skipped (paging).
    public func list(state: SettlementState? = nil, hospital: String? = nil, createdFrom from: Date? = nil, to: Date? = nil,
                     limit: Int = 100, offset: Int = 0) async throws -> [SettlementStatus] {
        try await store.list(state: state, hospital: hospital, createdFrom: from, to: to, limit: limit, offset: offset).map(Self.status)
    }

    /// The saga's transition history, oldest first (for operators and tests).
    public func history(_ id: String) async throws -> [SettlementTransition] {
        try await store.transitions(id: id)
    }

    private static func status(_ saga: SagaRecord) -> SettlementStatus {
        SettlementStatus(id: saga.id, fixmedinsCode: saga.request.fixmedinsCode, chrgBchno: saga.request.chrgBchno, state: saga.state,
                         failureReason: saga.failureReason, result: saga.state.isTerminal ? saga.result : nil,
                         createdAt: saga.createdAt, updatedAt: saga.updatedAt)
    }

    // MARK: - Consumers

    private func resumeUnfinished() async throws {
        let ids = try await store.unfinishedIDs()
        var resumed = 0
        for id in ids where !(await registry.isActive(id)) {
            await registry.deliver(id, .start)
            resumed += 1
        }
        if resumed > 0 { logger.info("resumed unfinished settlements", metadata: ["count": "\(resumed)"]) }
    }

    /// Each request becomes a saga (or finds its existing one) before its offset is committed; one
    /// that cannot (not JSON, a missing or bad field, an unknown hospital) goes to `dlq.settlement`
    /// with its reason first.
    private func consumeRequests(_ consumer: KafkaConsumer) async throws {
        while true {
            let batch = try await consumer.nextBatch(maxCount: 500)
            if batch.isEmpty { return }
            // A saga log failure is not the request's fault: the consumer stops before the commit
            // and the request is read again after a restart.
            let rejected = try await withThrowingTaskGroup(of: KafkaProducerMessage?.self) { group in
                for message in batch {
                    group.addTask {
                        do {
                            let request = try JSONDecoder().decode(SettlementRequest.self, from: Data(message.value ?? []))
                            try await self.submit(request)
                            return nil
                        } catch let error as SettlementError {
                            switch error {
                            case .invalidRequest, .unknownHospital: return self.deadLetter(message, error)
                            default: throw error
                            }
                        } catch {
                            return self.deadLetter(message, error)
                        }
                    }
                }
                var letters: [KafkaProducerMessage] = []
                for try await letter in group { if let letter { letters.append(letter) } }
                return letters
            }
            if !rejected.isEmpty {
                // A dead letter not delivered stops the consumer before the commit: the request is read again.
                let reports = try await producer.sendBatch(rejected)
                if let error = reports.compactMap(\.error).first { throw error }
            }
            try await consumer.commit(Self.positions(batch))
        }
    }

    /// The request as it came, with the reason in the routing core's dead-letter headers. The
    /// reason names a field or a decoding path, never a value.
    private func deadLetter(_ message: KafkaConsumerMessage, _ error: any Error) -> KafkaProducerMessage {
        let (reason, detail) = Self.rejectionReason(error)
        logger.warning("settlement request rejected", metadata: [
            "partition": "\(message.partition)", "offset": "\(message.offset)", "reason": "\(reason)", "detail": "\(detail)"])
        var headers = message.headers.filter { ![SagaContext.errorReasonHeader, SagaContext.errorMessageHeader].contains($0.key) }
        headers += [
            KafkaHeader(key: SagaContext.errorReasonHeader, string: reason),
            KafkaHeader(key: SagaContext.errorMessageHeader, string: detail),
            KafkaHeader(key: SagaContext.sourceTopicHeader, string: message.topic),
            KafkaHeader(key: SagaContext.sourcePartitionHeader, string: "\(message.partition)"),
            KafkaHeader(key: SagaContext.sourceOffsetHeader, string: "\(message.offset)"),
            KafkaHeader(key: SagaContext.deadLetteredAtHeader, string: MessageEnvelope.formatTimestamp(Date())),
        ]
        return KafkaProducerMessage(topic: configuration.deadLetterTopic, key: message.key, value: message.value, headers: headers)
    }

    /// Replies are routed to their saga by the request msgid; the saga decides whether a reply is
    /// current, a duplicate or late. Offsets are stored once routed and committed by the periodic
    /// auto-commit (no broker round trip in this loop): a reply lost in a crash is asked for again
    /// by the re-sent request, one read twice is a duplicate the saga ignores.
    private func consumeReplies(_ consumer: KafkaConsumer) async throws {
        while true {
            let batch = try await consumer.nextBatch(maxCount: 500)
            if batch.isEmpty { return }
            var replies: [(msgid: String, body: JSONValue)] = []
            for message in batch {
                guard let body = try? JSONValue.parse(message.value ?? []),
                      let msgid = message.headers.string(MessageEnvelope.Header.correlationId) ?? body["msgid"]?.stringValue else {
                    logger.warning("reply without correlation id or not JSON", metadata: ["topic": "\(message.topic)", "offset": "\(message.offset)"])
                    continue
                }
                replies.append((msgid, body))
            }
            // One lookup and one hand-over per batch, not per reply: this loop serves every saga.
            let answered = await queries.signal(replies)
            let owners = try await store.settlementIDs(forMessages: replies.map(\.msgid).filter { !answered.contains($0) })
            var events: [(String, SagaEvent)] = []
            for (msgid, body) in replies where !answered.contains(msgid) {
                guard let id = owners[msgid] else {
                    logger.warning("reply to an unknown msgid", metadata: ["msgid": "\(msgid)"])
                    continue
                }
                events.append((id, .reply(msgid: msgid, body: body)))
            }
            await registry.deliver(events)
            for message in batch { try? consumer.storeOffset(message) }  // a partition revoked meanwhile: read again, ignored
        }
    }

    private static func positions(_ batch: [KafkaConsumerMessage]) -> [TopicPartitionOffset] {
        var last: [String: TopicPartitionOffset] = [:]
        for message in batch { last["\(message.topic)/\(message.partition)"] = message.nextPosition }
        return Array(last.values)
    }

    /// (machine-readable reason, one line for operators): `not-json`, `missing-field`, `bad-field`,
    /// `invalid-request`, `unknown-hospital`.
    public static func rejectionReason(_ error: any Error) -> (String, String) {
        func path(_ keys: [any CodingKey]) -> String { keys.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".") }
        return switch error {
        case SettlementError.unknownHospital(let code): ("unknown-hospital", SettlementError.unknownHospital(code).description)
        case SettlementError.invalidRequest(let reason): ("invalid-request", reason)
        case DecodingError.keyNotFound(let key, let context):
            ("missing-field", "missing field \(path(context.codingPath + [key]))")
        case DecodingError.typeMismatch(_, let context), DecodingError.valueNotFound(_, let context):
            ("bad-field", "bad field \(path(context.codingPath))")
        case DecodingError.dataCorrupted(let context) where context.codingPath.isEmpty:
            ("not-json", "the body is not a JSON object")
        case DecodingError.dataCorrupted(let context):
            ("bad-field", "bad field \(path(context.codingPath))")
        default: ("invalid-request", "\(type(of: error))")
        }
    }
}
