import Foundation
import Logging
import MedBusCore
import MedBusKafka
import MedBusHTTPClient
import MedBusTLS
import NIOCore
import NIOPosix

/// Delivers records to an HTTP endpoint as `POST` requests (HTTP/1.1, keep-alive).
///
/// The body is the record's value unchanged, with `Content-Type` from its `content-type` header.
/// Headers let the receiver deduplicate and trace without parsing the body:
/// `X-MedBus-Message-Id` (and the same value as `Idempotency-Key`) — the record's
/// `medbus-message-id`, or `<topic>-<partition>-<offset>` when it has none; either never changes
/// across retries — plus `X-MedBus-Source`, `X-MedBus-Message-Type`, `X-MedBus-Correlation-Id`,
/// `X-MedBus-Source-Message-Id` and `traceparent` when the record carries them.
///
/// 2xx means delivered; 408, 429 and 5xx are transient (honouring `Retry-After` in seconds); any
/// other status is a permanent refusal (`HTTP-400`, …), since resending the same request cannot
/// change the answer. Idle connections are kept for the next request, one per concurrent lane.
public final class HTTPDestination: OutboundTransport {
    public let endpoint: HTTPEndpoint
    public let timeout: Duration
    /// Extra request headers sent with every request (e.g. `Authorization`).
    public let headers: [(String, String)]

    private let client: HTTPClient
    private let logger: Logger

    /// - Parameter tls: for an `https` url; nil there means the system trust store.
    /// - Throws: `HTTPEndpoint.Error` when `url` is not an `http(s)://` URL with a host.
    public init(
        url: String,
        tls: TLSClientContext? = nil,
        timeout: Duration = .seconds(10),
        headers: [(String, String)] = [],
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "medbus.outbound.http")
    ) throws {
        self.endpoint = try HTTPEndpoint(url)
        // The response body is never kept: it may echo patient data.
        self.client = HTTPClient(endpoint: endpoint, tls: tls, maxResponseBytes: 1 << 20, group: group, logger: logger)
        self.timeout = timeout
        self.headers = headers
        self.logger = logger
    }

    public var destination: String { endpoint.description }

    public func deliver(_ record: KafkaConsumerMessage) async throws(DeliveryFailure) {
        let id = Self.messageID(of: record)
        let response: HTTPClientResponse
        do {
            response = try await client.send(makeRequest(for: record), timeout: timeout)
        } catch {
            throw .transient("request for \(id): \(error)")
        }
        try Self.classify(response, id: id)
    }

    /// Closes idle connections.
    public func close() async { await client.close() }

    // MARK: - Pieces

    /// The id the receiver deduplicates by: stable across retries and dispatcher restarts.
    static func messageID(of record: KafkaConsumerMessage) -> String {
        record.headers.string(MessageEnvelope.Header.id) ?? "\(record.topic)-\(record.partition)-\(record.offset)"
    }

    func makeRequest(for record: KafkaConsumerMessage) -> HTTPClientRequest {
        let id = Self.messageID(of: record)
        var fields: [(String, String)] = [
            ("Content-Type", record.headers.string(MessageEnvelope.Header.contentType) ?? "application/octet-stream"),
            ("X-MedBus-Message-Id", id),
            ("Idempotency-Key", id),
        ]
        let optional: [(String, String)] = [
            ("X-MedBus-Source", MessageEnvelope.Header.source),
            ("X-MedBus-Message-Type", MessageEnvelope.Header.messageType),
            ("X-MedBus-Correlation-Id", MessageEnvelope.Header.correlationId),
            ("X-MedBus-Source-Message-Id", MessageEnvelope.Header.sourceMessageId),
            ("traceparent", MessageEnvelope.Header.traceParent),
        ]
        for (name, header) in optional {
            // Header values from the record must not be able to inject further headers.
            if let value = record.headers.string(header), Self.isSafeHeaderValue(value) {
                fields.append((name, value))
            }
        }
        fields += headers
        return HTTPClientRequest(method: "POST", headers: fields, body: record.value ?? [])
    }

    /// No control characters (CR/LF would inject headers; NIO refuses them anyway).
    static func isSafeHeaderValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    static func classify(_ answer: HTTPClientResponse, id: String) throws(DeliveryFailure) {
        let code = answer.status
        switch code {
        case 200..<300:
            return
        case 408, 429, 500..<600:
            let retryAfter = answer.header("Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { Duration.seconds(max(0, $0)) }
            throw .transient("HTTP \(code) for \(id)", retryAfter: retryAfter)
        default:
            throw .rejected(code: "HTTP-\(code)", "HTTP \(code) \(answer.reason.prefix(60)) for \(id)", retriable: false)
        }
    }
}
