import NIOCore
import NIOHTTP1

/// One request to send on a client connection and the promise its response completes.
struct HTTPExchange: Sendable {
    struct Result: Sendable {
        var response: HTTPClientResponse
        /// The connection may carry the next request.
        var keepAlive: Bool
    }

    var head: HTTPRequestHead
    var body: ByteBuffer
    var answer: EventLoopPromise<Result>
    var timeout: TimeAmount
    var maxBytes: Int
}

enum HTTPExchangeError: Error {
    case timedOut
    case connectionClosed
    case tooLarge
}

/// Pairs one request with its response on a client connection (after NIO's HTTP/1.1 codec),
/// one exchange at a time; a timeout closes the connection, since a late response would
/// otherwise answer the next request.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: HTTPExchange?
    private var head: HTTPResponseHead?
    private var body: [UInt8] = []
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            // `HTTPClient` never shares a busy connection; refuse rather than interleave.
            exchange.answer.fail(HTTPExchangeError.connectionClosed)
            promise?.fail(HTTPExchangeError.connectionClosed)
            context.close(promise: nil)
            return
        }
        pending = exchange
        head = nil
        body = []
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: exchange.timeout) {
            let (handler, context) = loopBound.value
            handler.finish(.failure(HTTPExchangeError.timedOut))
            context.close(promise: nil)
        }
        context.write(wrapOutboundOut(.head(exchange.head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(exchange.body))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let response):
            // Interim 1xx responses are followed by the real one.
            if response.status.code >= 200 || response.status == .switchingProtocols { head = response }
        case .body(var buffer):
            guard let exchange = pending else { return }
            if body.count + buffer.readableBytes > exchange.maxBytes {
                finish(.failure(HTTPExchangeError.tooLarge))
                context.close(promise: nil)
                return
            }
            if let bytes = buffer.readBytes(length: buffer.readableBytes) { body.append(contentsOf: bytes) }
        case .end:
            guard pending != nil, let head else {
                // A response nobody asked for: the connection can no longer be trusted.
                if pending == nil { context.close(promise: nil) }
                return
            }
            let response = HTTPClientResponse(
                status: Int(head.status.code), reason: head.status.reasonPhrase,
                headers: head.headers.map { ($0.name, $0.value) }, body: body)
            finish(.success(HTTPExchange.Result(response: response, keepAlive: head.isKeepAlive)))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(HTTPExchangeError.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<HTTPExchange.Result, Error>) {
        timer?.cancel()
        timer = nil
        head = nil
        body = []
        guard let exchange = pending else { return }
        pending = nil
        exchange.answer.completeWith(result)
    }
}
