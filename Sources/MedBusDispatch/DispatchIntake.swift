import Foundation
import Logging
import MedBusAdapterSDK
import MedBusCore
import NIOConcurrencyHelpers

/// The CAD side of the adapter, independent of the transport (TCP lines or HTTP bodies): event
/// bytes in, acknowledgement out.
///
/// Per event: validate (`DispatchEventParser`), then `DurableIngest` — stored, on
/// `dispatch.events` keyed by task id with acks=all — and only then `accepted`. A retransmitted
/// event id gets `duplicate` and is not published again. Refused input gets `rejected` with a
/// specific error and is kept in the store as `rejected`; an event not yet safe gets `retry`
/// (code `unavailable`), so the CAD sends it again.
///
/// Events of one task are ingested one after another in arrival order (events of different tasks
/// concurrently), so a task's events reach its partition in the order the CAD sent them.
public final class DispatchIntake: Sendable {
    public static let messageType = "dispatch.event"
    public static let contentType = "application/json; charset=utf-8"

    private let parser: DispatchEventParser
    private let ingest: DurableIngest
    private let source: String
    private let topic: String
    private let maxLineBytes: Int
    private let lanes = KeyedLanes()
    private let recent = RecentEvents(capacity: 200_000)
    private let logger: Logger

    public init(parser: DispatchEventParser, ingest: DurableIngest, source: String, topic: String = TopicName.dispatchEvents, maxLineBytes: Int, logger: Logger) {
        self.parser = parser
        self.ingest = ingest
        self.source = source
        self.topic = topic
        self.maxLineBytes = maxLineBytes
        self.logger = logger
    }

    /// Starts handling one unit of a connection; call in arrival order.
    public func submit(_ unit: LineInbound) -> Task<DispatchAck, Never> {
        switch unit {
        case .line(let bytes):
            return submit(bytes)
        case .oversize(let size):
            let issue = DispatchIssue(.lineTooLong, "line of \(size) bytes exceeds the limit of \(maxLineBytes) bytes")
            return Task { await self.reject(Array("<\(size) bytes discarded>".utf8), issue: issue, eventId: nil) }
        }
    }

    public func submit(_ bytes: [UInt8]) -> Task<DispatchAck, Never> {
        switch parser.parse(bytes) {
        case .refused(let issue, let eventId):
            return Task { await self.reject(bytes, issue: issue, eventId: eventId) }
        case .event(let event):
            return lanes.run(key: event.taskId) { await self.accept(event, bytes: bytes) }
        }
    }

    private func accept(_ event: DispatchEvent, bytes: [UInt8]) async -> DispatchAck {
        if let messageId = recent.messageId(for: event.eventId) {
            return DispatchAck(eventId: event.eventId, status: .duplicate, messageId: messageId)
        }
        let envelope = MessageEnvelope(
            source: source, sourceMessageId: event.eventId, messageType: Self.messageType, contentType: Self.contentType,
            correlationId: event.taskId
        )
        switch await ingest.ingest(DurableIngest.Inbound(envelope: envelope, topic: topic, key: event.taskId, payload: bytes)) {
        case .accepted(let id, _):
            recent.insert(event.eventId, messageId: id)
            return DispatchAck(eventId: event.eventId, status: .accepted, messageId: id, warnings: event.warnings)
        case .duplicate(let id, _):
            recent.insert(event.eventId, messageId: id)
            return DispatchAck(eventId: event.eventId, status: .duplicate, messageId: id)
        case .notPublished(let id, let reason):
            logger.warning("event stored but not on Kafka; the CAD is asked to retry", metadata: ["message": "\(id)", "reason": "\(reason)"])
            return DispatchAck(eventId: event.eventId, status: .retry, messageId: id, error: DispatchIssue(.unavailable, "not yet safe; send the event again"))
        case .notStored(let reason):
            logger.error("event not stored; the CAD is asked to retry", metadata: ["reason": "\(reason)"])
            return DispatchAck(eventId: event.eventId, status: .retry, error: DispatchIssue(.unavailable, "not yet safe; send the event again"))
        }
    }

    private func reject(_ bytes: [UInt8], issue: DispatchIssue, eventId: String?) async -> DispatchAck {
        let envelope = MessageEnvelope(source: source, messageType: Self.messageType, contentType: Self.contentType)
        await ingest.recordRejection(envelope: envelope, payload: bytes, reason: issue.description)
        logger.info("event rejected", metadata: ["message": "\(envelope.id)", "code": "\(issue.code.rawValue)"])
        return DispatchAck(eventId: eventId, status: .rejected, messageId: envelope.id, error: issue)
    }
}

/// The answer to one CAD event: one JSON line on TCP, the body of the HTTP response.
///
/// `{"eventId":"E1","status":"accepted","messageId":"…"}`;
/// `{"eventId":null,"status":"rejected","messageId":"…","error":{"code":"malformed-json","reason":"…"}}`.
public struct DispatchAck: Sendable, Equatable {
    public enum Status: String, Sendable {
        /// Stored and on Kafka.
        case accepted
        /// This event id was accepted before; nothing was published again.
        case duplicate
        /// Refused for good (see `error`); kept in the store for operators.
        case rejected
        /// Not yet safe (Kafka or the store unavailable): send the same event again.
        case retry
    }

    public var eventId: String?
    public var status: Status
    /// The MedBus message id (the stored row) this answer is about.
    public var messageId: String?
    public var error: DispatchIssue?
    public var warnings: [DispatchIssue] = []

    public init(eventId: String?, status: Status, messageId: String? = nil, error: DispatchIssue? = nil, warnings: [DispatchIssue] = []) {
        self.eventId = eventId
        self.status = status
        self.messageId = messageId
        self.error = error
        self.warnings = warnings
    }

    public var json: [UInt8] {
        var members: [(String, JSONValue)] = [("eventId", .optional(eventId)), ("status", .string(status.rawValue))]
        if let messageId { members.append(("messageId", .string(messageId))) }
        if let error { members.append(("error", error.json)) }
        if !warnings.isEmpty { members.append(("warnings", .array(warnings.map(\.json)))) }
        return JSONValue.object(members).jsonBytes
    }
}

/// Runs work per key one after another, in the order `run` was called; different keys run
/// concurrently. `run` must be called in the order the work should happen (it decides the order
/// synchronously, before any suspension).
final class KeyedLanes: Sendable {
    private let tails = NIOLockedValueBox<[String: Task<Void, Never>]>([:])

    func run<T: Sendable>(key: String, _ work: @escaping @Sendable () async -> T) -> Task<T, Never> {
        tails.withLockedValue { tails in
            let previous = tails[key]
            let task = Task<T, Never> {
                await previous?.value
                return await work()
            }
            let tail = Task<Void, Never> { _ = await task.value }
            tails[key] = tail
            Task { [weak self] in
                await tail.value
                self?.tails.withLockedValue { tails in if tails[key] == tail { tails[key] = nil } }
            }
            return task
        }
    }
}

/// Event ids accepted recently, answered `duplicate` without a store round trip. It also closes
/// a window `DurableIngest` leaves open: the store records publication a little after Kafka's
/// acknowledgement, and a retransmission inside that window would be published a second time.
/// Bounded: the oldest ids are forgotten, and the store still recognises them.
final class RecentEvents: Sendable {
    private struct State {
        var ids: [String: String] = [:]
        var order: [String] = []
        var head = 0
    }

    private let state = NIOLockedValueBox(State())
    private let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func messageId(for eventId: String) -> String? { state.withLockedValue { $0.ids[eventId] } }

    func insert(_ eventId: String, messageId: String) {
        state.withLockedValue { state in
            guard state.ids.updateValue(messageId, forKey: eventId) == nil else { return }
            state.order.append(eventId)
            if state.order.count - state.head > capacity {
                state.ids[state.order[state.head]] = nil
                state.head += 1
                if state.head > capacity {
                    state.order.removeFirst(state.head)
                    state.head = 0
                }
            }
        }
    }
}
