import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

/// A small HTTP/1.1 POST client for the platform endpoint (modelled on MedBusOutbound's
/// `HTTPDestination`, but it returns the response body, which the adapter publishes).
/// Keep-alive connections are reused, one request at a time per connection.
final class PlatformHTTPClient: Sendable {
    enum Failure: Error, CustomStringConvertible {
        /// Nothing was sent: safe to try again.
        case cannotConnect(String)
        /// The request may have reached the platform: its outcome is unknown.
        case noAnswer(String)

        var description: String {
            switch self {
            case .cannotConnect(let reason): "cannot connect: \(reason)"
            case .noAnswer(let reason): "no answer: \(reason)"
            }
        }
    }

    struct Answer: Sendable {
        var status: Int
        var body: [UInt8]
    }

    let host: String
    let port: Int
    let target: String
    let timeout: Duration
    private let group: EventLoopGroup
    private let idle = NIOLockedValueBox<[Channel]>([])

    /// - Throws: `PlatformEnvelopeError` for anything but an `http://host[:port]/path` URL.
    init(url: String, timeout: Duration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton) throws {
        guard let parts = URLComponents(string: url), parts.scheme?.lowercased() == "http", let host = parts.host, !host.isEmpty else {
            throw PlatformEnvelopeError("url must be http://host[:port]/path (https: put a TLS-terminating proxy in front)")
        }
        self.host = host
        self.port = parts.port ?? 80
        let path = parts.percentEncodedPath.isEmpty ? "/" : parts.percentEncodedPath
        self.target = parts.percentEncodedQuery.map { "\(path)?\($0)" } ?? path
        self.timeout = timeout
        self.group = group
    }

    func post(_ body: [UInt8], headers extra: [(String, String)]) async throws(Failure) -> Answer {
        try await send(.POST, body, headers: extra)
    }

    /// Any method, on the same target (tests read the simulator's admin routes with it).
    func send(_ method: HTTPMethod, _ body: [UInt8], headers extra: [(String, String)] = []) async throws(Failure) -> Answer {
        let channel = try await acquire()
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: port == 80 ? host : "\(host):\(port)")
        headers.add(name: "User-Agent", value: "MedBus")
        headers.add(name: "Content-Type", value: "application/json;charset=utf-8")
        headers.add(name: "Content-Length", value: "\(body.count)")
        for (name, value) in extra { headers.add(name: name, value: value) }
        let head = HTTPRequestHead(version: .http1_1, method: method, uri: target, headers: headers)
        let promise = channel.eventLoop.makePromise(of: PlatformExchange.Result.self)
        let (seconds, attos) = timeout.components
        let exchange = PlatformExchange(head: head, body: ByteBuffer(bytes: body), answer: promise, timeout: .nanoseconds(seconds * 1_000_000_000 + attos / 1_000_000_000))
        channel.writeAndFlush(exchange).whenFailure { promise.fail($0) }
        let result: PlatformExchange.Result
        do { result = try await promise.futureResult.get() } catch {
            channel.close(promise: nil)
            throw .noAnswer("\(error)")
        }
        if result.keepAlive, channel.isActive { idle.withLockedValue { $0.append(channel) } } else { channel.close(promise: nil) }
        return Answer(status: result.status, body: result.body)
    }

    func close() async {
        let channels = idle.withLockedValue { idle in
            defer { idle = [] }
            return idle
        }
        for channel in channels { try? await channel.close() }
    }

    private func acquire() async throws(Failure) -> Channel {
        while let channel = idle.withLockedValue({ $0.popLast() }) {
            if channel.isActive { return channel }
        }
        let (seconds, attos) = timeout.components
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.nanoseconds(seconds * 1_000_000_000 + attos / 1_000_000_000))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(PlatformExchangeHandler())
                }
            }
        do { return try await bootstrap.connect(host: host, port: port).get() } catch { throw .cannotConnect("\(error)") }
    }
}

/// One request and the promise its response (with body) completes.
struct PlatformExchange: Sendable {
    struct Result: Sendable {
        var status: Int
        var body: [UInt8]
        var keepAlive: Bool
    }

    var head: HTTPRequestHead
    var body: ByteBuffer
    var answer: EventLoopPromise<Result>
    var timeout: TimeAmount
}

enum PlatformExchangeError: Error {
    case timedOut
    case connectionClosed
    case busy
}

/// Pairs a request with its response on one connection; a timeout closes the connection so a late
/// response can never answer the next request.
final class PlatformExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = PlatformExchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<PlatformExchange.Result>?
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.answer.fail(PlatformExchangeError.busy)
            promise?.fail(PlatformExchangeError.busy)
            return
        }
        pending = exchange.answer
        head = nil
        body = []
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: exchange.timeout) {
            let (handler, context) = loopBound.value
            handler.finish(.failure(PlatformExchangeError.timedOut))
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            if response.status.code >= 200 { head = response }
        case .body(var buffer):
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard pending != nil, let head else { return }
            finish(.success(PlatformExchange.Result(status: Int(head.status.code), body: body, keepAlive: head.isKeepAlive)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(PlatformExchangeError.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<PlatformExchange.Result, Error>) {
        timer?.cancel()
        timer = nil
        head = nil
        body = []
        guard let promise = pending else { return }
        pending = nil
        promise.completeWith(result)
    }
}
