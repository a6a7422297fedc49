import Logging
import MedBusTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// An HTTP/1.1 client for one endpoint, for the places MedBus calls out over HTTP (outbound
/// destinations, insurance platforms, the e-prescription centre).
///
/// Keep-alive connections are reused, one request at a time per connection; concurrent requests
/// open more connections. A request that times out closes its connection, because a late
/// response would otherwise answer the next request on it.
///
/// `https` endpoints are reached over TLS (`MedBusTLS`'s client side): the server's certificate
/// is verified against `tls`'s CA file, or the system trust store when none is given, and
/// against the URL's host (or `serverName`); the request is written only after the handshake
/// succeeded, so a TLS failure (`HTTPClientError.tls`) means nothing was sent.
///
/// Failures say whether the request may have reached the server (`HTTPClientError.mayHaveBeenSent`):
/// a caller that must never do something twice (a settlement, say) treats those as "outcome
/// unknown", not as "try again".
public final class HTTPClient: Sendable {
    public let endpoint: HTTPEndpoint
    /// Responses larger than this fail with `.responseTooLarge` instead of filling memory.
    public let maxResponseBytes: Int

    private let group: EventLoopGroup
    private let idle = NIOLockedValueBox<[Channel]>([])
    /// For `https` endpoints: the TLS client context, or why it could not be made.
    private let tls: Result<TLSClientContext, TLSError>?
    private let logger: Logger

    /// - Parameter tls: for an `https` endpoint; nil there means the system trust store and no
    ///   client certificate. Ignored for `http`.
    public init(endpoint: HTTPEndpoint, tls: TLSClientContext? = nil, maxResponseBytes: Int = 16 << 20,
                group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "medbus.http-client")) {
        self.endpoint = endpoint
        self.maxResponseBytes = maxResponseBytes
        self.group = group
        self.logger = logger
        switch (endpoint.usesTLS, tls) {
        case (false, _): self.tls = nil
        case (true, let tls?): self.tls = .success(tls)
        case (true, nil): self.tls = Result { () throws(TLSError) in try Self.makeContext(TLSClientConfiguration()) }
        }
    }

    /// - Parameter tls: for an `https` URL (see `init(endpoint:tls:…)`).
    /// - Throws: `HTTPEndpoint.Error` for anything but an `http(s)://host[:port]/path` URL;
    ///   `TLSError` when the TLS files do not load.
    public convenience init(url: String, tls: TLSClientConfiguration? = nil, maxResponseBytes: Int = 16 << 20,
                            group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        let endpoint = try HTTPEndpoint(url)
        let context = try endpoint.usesTLS ? tls.map(Self.makeContext) : nil
        self.init(endpoint: endpoint, tls: context, maxResponseBytes: maxResponseBytes, group: group)
    }

    private static func makeContext(_ configuration: TLSClientConfiguration) throws(TLSError) -> TLSClientContext {
        do { return try configuration.makeContext() } catch let error as TLSError { throw error } catch {
            throw .openSSLFailure(operation: "loading the TLS client configuration", openSSL: "\(error)")
        }
    }

    /// Sends `request` and waits for the whole response, for at most `timeout` (connecting included).
    /// `Host`, `User-Agent` and `Content-Length` are set here.
    public func send(_ request: HTTPClientRequest, timeout: Duration) async throws(HTTPClientError) -> HTTPClientResponse {
        let deadline = ContinuousClock.now + timeout
        let channel = try await acquire(deadline: deadline)
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: endpoint.hostHeader)
        headers.add(name: "User-Agent", value: "MedBus")
        headers.add(name: "Content-Length", value: "\(request.body.count)")
        for (name, value) in request.headers { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: HTTPMethod(rawValue: request.method), uri: request.target ?? endpoint.target, headers: headers)
        let promise = channel.eventLoop.makePromise(of: HTTPExchange.Result.self)
        let remaining = max(deadline - .now, .milliseconds(1))
        let exchange = HTTPExchange(head: head, body: ByteBuffer(bytes: request.body), answer: promise, timeout: .nanoseconds(remaining.nanoseconds), maxBytes: maxResponseBytes)
        channel.writeAndFlush(exchange).whenFailure { promise.fail($0) }
        let result: HTTPExchange.Result
        do {
            result = try await promise.futureResult.get()
        } catch {
            channel.close(promise: nil)
            switch error {
            case HTTPExchangeError.timedOut: throw .timedOut(timeout)
            case HTTPExchangeError.connectionClosed: throw .connectionClosed
            case HTTPExchangeError.tooLarge: throw .responseTooLarge(maxResponseBytes)
            default: throw .failed(Self.describe(error))
            }
        }
        if result.keepAlive, channel.isActive { idle.withLockedValue { $0.append(channel) } } else { channel.close(promise: nil) }
        return result.response
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

    private func acquire(deadline: ContinuousClock.Instant) async throws(HTTPClientError) -> Channel {
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
        let channel: Channel
        do {
            channel = try await bootstrap.connect(host: endpoint.host, port: endpoint.port).get()
        } catch {
            throw .cannotConnect("\(endpoint): \(Self.describe(error))")
        }
        guard let tls else { return channel }
        do throws(TLSError) {
            _ = try await channel.startTLS(try tls.get(), host: endpoint.host, deadline: deadline, logger: logger)
            return channel
        } catch {
            channel.close(promise: nil)
            throw .tls(error)
        }
    }

    /// NIO's connection errors describe themselves at length; the short form is enough for logs.
    public static func describe(_ error: Error) -> String {
        if let error = error as? NIOConnectionError, let first = error.connectionErrors.first {
            return "\(first.error)"
        }
        return "\(error)"
    }
}

public struct HTTPClientRequest: Sendable {
    public var method: String
    /// Path and query; `nil` is the endpoint's own.
    public var target: String?
    public var headers: [(String, String)]
    public var body: [UInt8]

    public init(method: String = "POST", target: String? = nil, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.method = method
        self.target = target
        self.headers = headers
        self.body = body
    }
}

public struct HTTPClientResponse: Sendable {
    public var status: Int
    public var reason: String
    public var headers: [(String, String)]
    public var body: [UInt8]

    /// The first header of that name (case-insensitive).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

public enum HTTPClientError: Error, Sendable, CustomStringConvertible {
    /// No connection: nothing was sent.
    case cannotConnect(String)
    /// No complete response in time; the connection was closed.
    case timedOut(Duration)
    /// The server closed the connection before its response was complete.
    case connectionClosed
    /// The TLS handshake failed (untrusted or expired certificate, wrong name, timeout): nothing was sent.
    case tls(TLSError)
    case responseTooLarge(Int)
    case failed(String)

    /// Whether the server may have received (and acted on) the request.
    public var mayHaveBeenSent: Bool {
        switch self {
        case .cannotConnect, .tls: false
        default: true
        }
    }

    public var description: String {
        switch self {
        case .cannotConnect(let reason): "cannot connect to \(reason)"
        case .timedOut(let timeout): "no response within \(timeout); connection closed"
        case .connectionClosed: "connection closed before the response was complete"
        case .tls(let error): "\(error); nothing sent"
        case .responseTooLarge(let limit): "response larger than \(limit) bytes"
        case .failed(let reason): "request failed: \(reason)"
        }
    }
}

extension Duration {
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}
