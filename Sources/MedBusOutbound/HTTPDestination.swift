import Foundation
import Logging
import MedBusCore
import MedBusKafka
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
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

    private let group: EventLoopGroup
    private let logger: Logger
    private let idle = NIOLockedValueBox<[Channel]>([])

    /// - Throws: `HTTPEndpoint.Error` when `url` is not an `http://` URL with a host.
    public init(
        url: String,
        timeout: Duration = .seconds(10),
        headers: [(String, String)] = [],
        group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
        logger: Logger = Logger(label: "medbus.outbound.http")
    ) throws {
        self.endpoint = try HTTPEndpoint(url)
        self.timeout = timeout
        self.headers = headers
        self.group = group
        self.logger = logger
    }

    public var destination: String { endpoint.description }

    public func deliver(_ record: KafkaConsumerMessage) async throws(DeliveryFailure) {
        let deadline = ContinuousClock.now + timeout
        let request = makeRequest(for: record)
        let id = Self.messageID(of: record)
        let channel = try await acquireChannel(deadline: deadline)
        let answer: HTTPAnswer
        do {
            let promise = channel.eventLoop.makePromise(of: HTTPAnswer.self)
            let remaining = max(deadline - .now, .milliseconds(1))
            channel.writeAndFlush(HTTPExchange(head: request.head, body: request.body, answer: promise, timeout: .nanoseconds(remaining.nanoseconds)))
                .whenFailure { promise.fail($0) }
            answer = try await promise.futureResult.get()
        } catch {
            channel.close(promise: nil)
            switch error {
            case HTTPExchangeError.timedOut: throw .transient("no response for \(id) within \(timeout); connection closed")
            case HTTPExchangeError.connectionClosed: throw .transient("connection closed before the response for \(id)")
            default: throw .transient("request for \(id) failed: \(MLLPDestination.describe(error))")
            }
        }
        if answer.keepAlive, channel.isActive { release(channel) } else { channel.close(promise: nil) }
        try Self.classify(answer, id: id)
    }

    /// Closes idle connections.
    public func close() async {
        let channels = idle.withLockedValue { idle in
            defer { idle = [] }
            return idle
        }
        for channel in channels { try? await channel.close() }
    }

    deinit {
        idle.withLockedValue { $0.forEach { $0.close(promise: nil) } }
    }

    // MARK: - Pieces

    /// The id the receiver deduplicates by: stable across retries and dispatcher restarts.
    static func messageID(of record: KafkaConsumerMessage) -> String {
        record.headers.string(MessageEnvelope.Header.id) ?? "\(record.topic)-\(record.partition)-\(record.offset)"
    }

    func makeRequest(for record: KafkaConsumerMessage) -> (head: HTTPRequestHead, body: ByteBuffer) {
        let body = ByteBuffer(bytes: record.value ?? [])
        var fields = HTTPHeaders()
        fields.add(name: "Host", value: endpoint.hostHeader)
        fields.add(name: "User-Agent", value: "MedBus")
        fields.add(name: "Content-Type", value: record.headers.string(MessageEnvelope.Header.contentType) ?? "application/octet-stream")
        fields.add(name: "Content-Length", value: "\(body.readableBytes)")
        let id = Self.messageID(of: record)
        fields.add(name: "X-MedBus-Message-Id", value: id)
        fields.add(name: "Idempotency-Key", value: id)
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
                fields.add(name: name, value: value)
            }
        }
        for (name, value) in headers { fields.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: .POST, uri: endpoint.target, headers: fields)
        return (head, body)
    }

    /// No control characters (CR/LF would inject headers; NIO refuses them anyway).
    static func isSafeHeaderValue(_ value: String) -> Bool {
        value.utf8.allSatisfy { $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }
    }

    static func classify(_ answer: HTTPAnswer, id: String) throws(DeliveryFailure) {
        let code = Int(answer.status.code)
        switch code {
        case 200..<300:
            return
        case 408, 429, 500..<600:
            let retryAfter = answer.headers.first(name: "Retry-After").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }.map { Duration.seconds(max(0, $0)) }
            throw .transient("HTTP \(code) for \(id)", retryAfter: retryAfter)
        default:
            throw .rejected(code: "HTTP-\(code)", "HTTP \(code) \(answer.status.reasonPhrase.prefix(60)) for \(id)", retriable: false)
        }
    }

    private func acquireChannel(deadline: ContinuousClock.Instant) async throws(DeliveryFailure) -> Channel {
        while let channel = idle.withLockedValue({ $0.popLast() }) {
            if channel.isActive { return channel }
        }
        let remaining = deadline - .now
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(max(remaining.nanoseconds, 1_000_000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHTTPClientHandlers()
                    try sync.addHandler(HTTPExchangeHandler())
                }
            }
        do {
            return try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw .transient("cannot connect to \(destination): \(MLLPDestination.describe(error))")
        }
    }

    private func release(_ channel: Channel) {
        idle.withLockedValue { $0.append(channel) }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
