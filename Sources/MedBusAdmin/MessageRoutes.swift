import Foundation
import Hummingbird
import MedBusStore

/// `/v1/messages` (search) and `/v1/messages/{id}`: the message store's metadata for every role
/// with `states`; identifiers (the sender's message id, the correlation id) and error texts are
/// masked unless the role has `patient-data`. The payload only with `?payload=true`, only for
/// `patient-data` roles, and every such view is audited (`message.payload.view`).
public struct MessageRoutes: AdminRoutes {
    let store: MessageStore

    public init(store: MessageStore) { self.store = store }

    public struct Message: Codable, Sendable, Equatable {
        public var id: String
        public var source: String
        public var sourceMessageId: String?
        public var type: String
        public var contentType: String
        public var status: String
        public var receivedAt: Date
        public var updatedAt: Date
        public var correlationId: String?
        public var topic: String?
        public var partition: Int32?
        public var offset: Int64?
        public var error: String?
        public var payloadBytes: Int
        /// UTF-8 text, or base64 when `payloadEncoding` says so.
        public var payload: String?
        public var payloadEncoding: String?
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("messages", requires: .states) { request, _, caller in
            let q = request.uri.queryParameters
            var query = MessageQuery(id: q.get("id"), source: q.get("source"), type: q.get("type"),
                                     from: try AdminAPI.time(request, "from"), to: try AdminAPI.time(request, "to"),
                                     limit: try AdminAPI.limit(request))
            query.status = try AdminAPI.choice(request, "status", MessageStatus.self)
            let reveal = caller.role.allows(.patientData)
            return try AdminAPI.json(["messages": try store.search(query).map { Message($0, reveal: reveal) }])
        }
        api.get("messages/{id}", requires: .states) { request, context, caller in
            let id = context.parameters.get("id") ?? ""
            let wantsPayload = request.uri.queryParameters.get("payload") == "true"
            if wantsPayload, !caller.role.allows(.patientData) {
                _ = try? trail.record(caller, action: "message.payload.view", object: "message:\(id)", outcome: .denied, detail: "needs patient-data")
                throw Problem.forbidden(caller.role, .patientData)
            }
            guard let m = try store.message(id: id) else { throw Problem.notFound("no message \(id)") }
            var message = Message(m, reveal: caller.role.allows(.patientData))
            if wantsPayload {
                try trail.record(caller, action: "message.payload.view", object: "message:\(id)", detail: "\(m.payload.count) bytes")
                if let text = String(data: m.payload, encoding: .utf8) {
                    message.payload = text
                } else {
                    message.payload = m.payload.base64EncodedString()
                    message.payloadEncoding = "base64"
                }
            }
            return try AdminAPI.json(message)
        }
    }
}

extension MessageRoutes.Message {
    /// The API view of a stored message: identifiers and the error text masked unless `reveal`, no payload.
    init(_ m: some StoredMessageFields, reveal: Bool) {
        self.init(id: m.id, source: m.source, sourceMessageId: PatientDataMask.mask(m.sourceMessageId, reveal: reveal), type: m.type, contentType: m.contentType,
                  status: m.status.rawValue, receivedAt: m.receivedAt, updatedAt: m.updatedAt, correlationId: PatientDataMask.mask(m.correlationId, reveal: reveal),
                  topic: m.topic, partition: m.partition, offset: m.offset, error: reveal ? m.error : m.error.map { _ in "***" },
                  payloadBytes: m.payloadBytes, payload: nil, payloadEncoding: nil)
    }
}

/// What a search row (`MessageSummary`) and a full row (`StoredMessage`) both tell.
protocol StoredMessageFields {
    var id: String { get }
    var source: String { get }
    var sourceMessageId: String? { get }
    var type: String { get }
    var contentType: String { get }
    var status: MessageStatus { get }
    var receivedAt: Date { get }
    var updatedAt: Date { get }
    var correlationId: String? { get }
    var topic: String? { get }
    var partition: Int32? { get }
    var offset: Int64? { get }
    var error: String? { get }
    var payloadBytes: Int { get }
}

extension MessageSummary: StoredMessageFields {
    var payloadBytes: Int { payloadSize }
}

extension StoredMessage: StoredMessageFields {
    var payloadBytes: Int { payload.count }
}
