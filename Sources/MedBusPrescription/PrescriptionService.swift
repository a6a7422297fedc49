import CoreMetrics
import Foundation
import Logging
import MedBusCore
import MedBusKafka

/// Prescription circulation: issues signed prescriptions and runs their lifecycle (RxLifecycle) for the
/// HTTP API, the Kafka commands and the HIS intake, which all call it.
///
/// Every operation commits its transition (and the records announcing it) to the store before it returns;
/// `run()` publishes those records from the store's outbox, in commit order, with acks=all, and deletes them
/// only once Kafka acknowledged them, so every committed transition is published at least once, after its
/// commit, also across crashes. `run()` also expires prescriptions at the end of their validity and lapses
/// claims whose lease ran out, reading the time from the injected clock.
public final class PrescriptionService: Sendable {
    public let configuration: RxServiceConfiguration
    public let clock: any RxClock
    let store: RxStore
    let producer: KafkaProducer
    private let logger: Logger
    let doorbell = Doorbell()
    private let publishing = SerialGate()

    /// Opens (creating if needed) `<directory>/rx.sqlite`.
    /// - Throws: `RxProblem(.storeFailed)` when the store cannot be opened.
    public init(configuration: RxServiceConfiguration, directory: String, producer: KafkaProducer, clock: any RxClock = SystemRxClock(),
                logger: Logger = Logger(label: "medbus.rx")) throws(RxProblem) {
        self.configuration = configuration
        self.clock = clock
        self.store = try RxStore.open(directory: directory)
        self.producer = producer
        self.logger = logger
    }

    /// Closes the store; the service must not be used afterwards.
    public func close() { store.close() }

    // MARK: - Issue

    /// An issued prescription: its answer body, and whether this call issued it (false: the hospital had
    /// sent the same prescription before, and this is the one issued then).
    public struct Issued: Sendable {
        public var record: RxRecord
        public var created: Bool
        public var body: JSONValue
    }

    /// Validates, signs and stores prescriptions, one transaction for all of them; each answer is the
    /// issued prescription or the problem that refused it.
    public func issue(_ bodies: [JSONValue]) async -> [Result<Issued, RxProblem>] {
        let now = clock.now()
        let nowText = RxText.timestamp(now)
        let prepared = await Self.onEveryCore(bodies) { [self] body in Result { () throws(RxProblem) in try prepare(body, at: now, written: nowText) } }
        let accepted = prepared.compactMap { try? $0.get() }
        var outcomes: [RxStore.IssueOutcome] = []
        if !accepted.isEmpty {
            do { outcomes = try await store.issue(accepted.map(\.issue)) } catch {
                return bodies.map { _ in .failure(error) }
            }
        }
        var next = zip(accepted, outcomes).makeIterator()
        var created = 0
        let answers = prepared.map { item -> Result<Issued, RxProblem> in
            if case .failure(let problem) = item { return .failure(problem) }
            switch next.next()! {
            case (let prepared, .created(let record)):
                created += 1
                return .success(Issued(record: record, created: true, body: prepared.answer))
            case (_, .existing(let record, sameContent: true)):
                return .success(Issued(record: record, created: false, body: view(record, includeToken: true)))
            case (_, .existing(let record, sameContent: false)):
                return .failure(RxProblem(.duplicatePrescription, "hospital \(record.fixmedinsCode) already issued prescription \(record.id) under this number with other content",
                                          extras: [("rxId", .string(record.id))]))
            }
        }
        if created > 0 { doorbell.ring() }
        logger.debug("issued", metadata: ["count": "\(bodies.count)", "created": "\(created)"])
        return answers
    }

    /// One prescription (see `issue(_:)`).
    public func issue(_ body: JSONValue) async throws(RxProblem) -> Issued {
        try await issue([body])[0].get()
    }

    /// A prescription signed and ready to store: the row, its outbox records, and the answer to the hospital.
    private struct Prepared: Sendable {
        var issue: RxStore.Issue
        var answer: JSONValue
    }

    /// Validates; assigns id, trace code and QR token; builds the document and signs it (SM3 + SM2); builds the
    /// records announcing it. Everything a prescription needs before the store, so it runs on every core.
    /// - Parameter written: `now` as an RFC 3339 timestamp (formatted once for a batch).
    private func prepare(_ body: JSONValue, at now: Date, written: String) throws(RxProblem) -> Prepared {
        let draft = try PrescriptionDraft(body, policy: configuration.draftPolicy(hospital: body["fixmedinsCode"]?.stringValue), now: now)
        let key = try configuration.signer.key(for: draft.fixmedinsCode)
        let id = UUID().uuidString.lowercased()
        let traceCode = RxTokens.traceCode()
        var fields = draft.fields
        fields["rxId"] = .string(id)
        fields["rxTraceCode"] = .string(traceCode)
        fields["region"] = .string(key.region)
        fields["issuedAt"] = .string(written)
        let document = RxCanonicalForm.sorted(.object(fields))
        var record = RxRecord(id: id, fixmedinsCode: draft.fixmedinsCode, hospRxno: draft.hospRxno, traceCode: traceCode, qrToken: RxTokens.qrToken(),
                              region: key.region, status: .valid, holder: nil, leaseUntil: nil, validityEnd: draft.validityEnd, maxReptCnt: draft.maxReptCnt,
                              usedCount: 0, version: 1, document: JSONWriter.compact(document), digest: "", signature: [], keyID: key.keyID,
                              review: nil, dispenses: [], createdAt: now, updatedAt: now)
        (record.digest, record.signature) = try configuration.signer.sign(record.document, with: key)
        let transition = RxTransition(version: 1, action: .issue, from: nil, to: .valid, actor: nil, reason: nil, detail: nil, at: now)
        let answer = view(record, includeToken: true, document: document)
        let outbox = [
            outboxRecord(RxTopics.issued, record, answer, type: "rx.prescription"),
            outboxRecord(RxTopics.available(region: record.region), record, view(record, includeToken: false, document: document), type: "rx.prescription"),
        ] + announce(record, transition, document: document, occurredAt: written)
        return Prepared(issue: RxStore.Issue(record: record, inputDigest: draft.inputDigest, outbox: outbox), answer: answer)
    }

    /// `work` over `items`, in contiguous slices on every core (signing is the cost of issuing); answers in order.
    private static func onEveryCore<T: Sendable, R: Sendable>(_ items: [T], _ work: @escaping @Sendable (T) -> R) async -> [R] {
        let workers = max(1, min(ProcessInfo.processInfo.activeProcessorCount, items.count / 8))
        guard workers > 1 else { return items.map(work) }
        let chunk = (items.count + workers - 1) / workers
        return await withTaskGroup(of: (Int, [R]).self) { group in
            for start in stride(from: 0, to: items.count, by: chunk) {
                let slice = items[start..<min(start + chunk, items.count)]
                group.addTask { (start, slice.map(work)) }
            }
            var parts: [(Int, [R])] = []
            for await part in group { parts.append(part) }
            return parts.sorted { $0.0 < $1.0 }.flatMap(\.1)
        }
    }

    // MARK: - Lifecycle

    /// How a prescription is found: by id, by trace code or by QR token.
    public enum Lookup: Sendable {
        case id(String)
        case traceCode(String)
        case qrToken(String)

        var store: RxStore.Lookup {
            switch self {
            case .id(let id): .id(id)
            case .traceCode(let code): .traceCode(code)
            case .qrToken(let token): .qrToken(token)
            }
        }
    }

    /// The answer to an operation: HTTP status and body (the prescription view, or a problem).
    public struct Answer: Sendable {
        public var status: Int
        public var body: JSONValue
    }

    /// Applies a pharmacy's or the hospital's request to one prescription.
    /// - Parameter command: makes the request idempotent (see `RxCommand`).
    public func perform(_ request: RxRequest, on lookup: Lookup, command: RxCommand? = nil) async -> Answer {
        let outcome: RxStore.ApplyOutcome
        do {
            outcome = try await store.apply(lookup.store, request, at: clock.now(), lease: configuration.claimLease, commandID: command?.storeKey,
                                            announce: { [self] in announce($0, $1) },
                                            result: { [self] outcome in
                                                command.map { command in
                                                    let result = command.result(answer(outcome))
                                                    return (result, command.publishesResult ? command.resultRecord(result) : nil)
                                                }
                                            })
        } catch {
            logger.error("store failed", metadata: ["action": "\(request.action.rawValue)", "problem": "\(error.kind.rawValue)"])
            return Answer(status: error.kind.httpStatus, body: error.json)
        }
        doorbell.ring()
        switch outcome {
        case .applied(let record, let transition?):
            logger.info("transition", metadata: ["rxId": "\(record.id)", "event": "\(transition.action.rawValue)", "status": "\(record.status.rawValue)"])
        case .refused(let problem, _):
            logger.info("refused", metadata: ["action": "\(request.action.rawValue)", "problem": "\(problem.kind.rawValue)"])
        default: break
        }
        return answer(outcome)
    }

    private func answer(_ outcome: RxStore.ApplyOutcome) -> Answer {
        switch outcome {
        case .applied(let record, _): Answer(status: 200, body: view(record, includeToken: false))
        case .refused(let problem, _): Answer(status: problem.kind.httpStatus, body: problem.json)
        case .replayed(let stored): RxCommand.answer(fromResult: stored)
        }
    }

    /// The prescription as a pharmacy sees it (nothing changes).
    public func lookup(_ lookup: Lookup) async -> Answer {
        do {
            guard let record = try await store.load(lookup.store) else {
                let problem = RxProblem(.notFound, "no prescription for \(lookup.store)")
                return Answer(status: 404, body: problem.json)
            }
            return Answer(status: 200, body: view(record, includeToken: false))
        } catch {
            return Answer(status: error.kind.httpStatus, body: error.json)
        }
    }

    /// The store's contents, for the CLI and tests.
    public var ledger: RxLedger { RxLedger(store: store) }

    /// Expires and lapses what is due now (what the background sweeper does every `sweepInterval`).
    /// - Returns: the transitions made.
    @discardableResult
    public func sweep() async throws(RxProblem) -> [RxTransition] {
        var made: [RxTransition] = []
        while true {
            let batch = try await store.sweep(at: clock.now(), lease: configuration.claimLease, announce: { [self] in announce($0, $1) })
            made += batch
            if batch.isEmpty { break }
            doorbell.ring()
        }
        if !made.isEmpty { logger.info("swept", metadata: ["transitions": "\(made.count)"]) }
        return made
    }

    // MARK: - Running

    /// Publishes the outbox and sweeps until cancelled. Kafka or store failures are logged and retried.
    public func run() async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { [self] in
                var deleted = ContinuousClock.now
                while !Task.isCancelled {
                    do {
                        try await publishPending()
                        // Writes delete what was published; when they are rare, this does, at most once a second.
                        if ContinuousClock.now - deleted >= .seconds(1) {
                            try await store.deletePublished()
                            deleted = .now
                        }
                    } catch {
                        if Task.isCancelled { return }
                        logger.warning("publishing failed; retrying", metadata: ["error": "\(error)"])
                        try await Task.sleep(for: .seconds(1))
                        continue
                    }
                    await doorbell.wait(timeout: .seconds(1))
                }
            }
            group.addTask { [self] in
                while !Task.isCancelled {
                    do { try await sweep() } catch { logger.warning("sweep failed", metadata: ["error": "\(error)"]) }
                    await recordStatusGauges()
                    try await Task.sleep(for: configuration.sweepInterval)
                }
            }
            try await group.next()
            group.cancelAll()
        }
    }

    /// `medbus_prescriptions{state}`, refreshed with each sweep.
    private func recordStatusGauges() async {
        guard let counts = try? await store.countsByStatus() else { return }
        for status in RxStatus.allCases {
            Gauge(label: "medbus_prescriptions", dimensions: [("state", status.rawValue)]).record(counts[status] ?? 0)
        }
    }

    /// The message type of an event on `rx.events` is this prefix and the action.
    static let eventTypePrefix = "rx.event."

    /// Publishes everything committed and not yet published, oldest first (one publisher at a time); returns
    /// how many records.
    @discardableResult
    public func publishPending() async throws -> Int {
        try await publishing.run { try await publishAll() }
    }

    private func publishAll() async throws -> Int {
        var total = 0
        while true {
            let pending = try await store.pendingOutbox(limit: 500)
            guard let last = pending.last else { return total }
            let messages = pending.map { $0.record.producerMessage(at: $0.at) }
            let reports = try await producer.sendBatch(messages)
            if let failed = reports.first(where: { $0.error != nil }) {
                throw RxProblem(.storeFailed, "Kafka refused a record for \(failed.topic): \(failed.error!)")
            }
            store.markPublished(through: last.seq)
            for item in pending where item.record.messageType.hasPrefix(Self.eventTypePrefix) {
                Counter(label: "medbus_prescription_events_total", dimensions: [("event", String(item.record.messageType.dropFirst(Self.eventTypePrefix.count)))]).increment()
            }
            total += pending.count
        }
    }

    // MARK: - What is published and answered

    /// The prescription with its state and signature: the body of every answer and of `rx.issued` /
    /// `rx.available.<region>`. `prescription` is the signed document, exactly its canonical bytes.
    func view(_ record: RxRecord, includeToken: Bool, document: JSONValue? = nil) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("rxId", .string(record.id)), ("status", .string(record.status.rawValue)), ("rxStasCodg", .string(record.status.rxStasCodg)),
            ("rxTraceCode", .string(record.traceCode)),
        ]
        if includeToken { members.append(("qrToken", .string(record.qrToken))) }
        if let holder = record.holder { members.append(("holder", .string(holder))) }
        if let leaseUntil = record.leaseUntil { members.append(("leaseUntil", .string(RxText.timestamp(leaseUntil)))) }
        members += [("usedCount", .int(record.usedCount)), ("maxReptCnt", .int(record.maxReptCnt)), ("version", .int(record.version))]
        if let review = record.review { members.append(("review", review)) }
        if !record.dispenses.isEmpty { members.append(("dispenses", .array(record.dispenses))) }
        if let centre = record.centre { members.append(("centre", centre.json)) }
        members.append(("prescription", document ?? store.documents.document(of: record)))
        members.append(("signature", configuration.signer.signatureJSON(keyID: record.keyID, digest: record.digest, signature: record.signature)))
        return .object(members)
    }

    /// The event on `rx.events` for one transition (message id `<rxId>-<version>`, type `rx.event.<event>`).
    func announce(_ record: RxRecord, _ transition: RxTransition, document: JSONValue? = nil, occurredAt: String? = nil) -> [RxOutboxRecord] {
        let document = document ?? store.documents.document(of: record)
        var members: [(String, JSONValue)] = [
            ("eventId", .string("\(record.id)-\(transition.version)")), ("event", .string(transition.action.rawValue)),
            ("rxId", .string(record.id)), ("hospRxno", .string(record.hospRxno)), ("fixmedinsCode", .string(record.fixmedinsCode)),
            ("patientId", document["patientId"] ?? .null), ("rxTraceCode", .string(record.traceCode)), ("region", .string(record.region)),
            ("from", .optional(transition.from?.rawValue)), ("status", .string(transition.to.rawValue)), ("rxStasCodg", .string(transition.to.rxStasCodg)),
            ("usedCount", .int(record.usedCount)), ("maxReptCnt", .int(record.maxReptCnt)),
            ("occurredAt", .string(occurredAt ?? RxText.timestamp(transition.at))),
        ]
        if let actor = transition.actor { members.append(("pharmacyCode", .string(actor))) }
        if let reason = transition.reason { members.append(("reason", .string(reason))) }
        switch transition.action {
        case .approve, .reject: members.append(("review", transition.detail ?? .null))
        case .dispense:
            members.append(("dispense", transition.detail ?? .null))
            members.append(("rxdrugdetail", document["rxdrugdetail"] ?? .null))
        default: break
        }
        let event = JSONValue.object(members)
        return [RxOutboxRecord(topic: RxTopics.events, key: record.id, value: event.jsonBytes, messageID: "\(record.id)-\(transition.version)",
                               messageType: Self.eventTypePrefix + transition.action.rawValue)]
    }

    private func outboxRecord(_ topic: String, _ record: RxRecord, _ body: JSONValue, type: String) -> RxOutboxRecord {
        RxOutboxRecord(topic: topic, key: record.id, value: body.jsonBytes, messageID: "\(record.id)-\(topic)", messageType: type)
    }
}

/// The identifiers a patient carries to the pharmacy, from the system's cryptographic random source.
enum RxTokens {
    /// Digits and capitals without I and O (read aloud and typed by hand).
    private static let alphabet = Array("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ")

    /// 20 characters (the prescription centre's `rxTraceCode` length): about 101 bits.
    static func traceCode() -> String {
        // Bytes below 238 (7 × 34) map to the alphabet without bias; the rest are drawn again.
        var characters: [Character] = []
        while characters.count < 20 {
            for byte in randomBytes(24) where byte < 238 && characters.count < 20 { characters.append(alphabet[Int(byte) % alphabet.count]) }
        }
        return String(characters)
    }

    /// 24 random bytes, base64url without padding (32 characters), for the QR code.
    static func qrToken() -> String {
        RxText.base64URL(randomBytes(24))
    }

    /// From the system's cryptographic source, 8 bytes a call (not one call a byte: issuing makes many).
    private static func randomBytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var bytes: [UInt8] = []
        bytes.reserveCapacity(count + 7)
        while bytes.count < count { withUnsafeBytes(of: generator.next() as UInt64) { bytes.append(contentsOf: $0) } }
        return Array(bytes.prefix(count))
    }
}
