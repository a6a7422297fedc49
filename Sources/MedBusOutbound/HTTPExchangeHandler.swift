import NIOCore
import NIOHTTP1

/// One request to send on an HTTP/1.1 client connection and the promise its response completes.
struct HTTPExchange: Sendable {
    var head: HTTPRequestHead
    var body: ByteBuffer
    var answer: EventLoopPromise<HTTPAnswer>
    var timeout: TimeAmount
}

/// What the dispatcher needs of a response: never its body, which may echo patient data.
struct HTTPAnswer: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    /// The connection may carry the next request.
    var keepAlive: Bool
}

enum HTTPExchangeError: Error {
    case timedOut
    case connectionClosed
    case unexpectedResponse
}

/// Pairs one request with its response on a client connection (after NIO's HTTP/1.1 codec),
/// one exchange at a time; a timeout closes the connection, since a late response would
/// otherwise answer the next request.
final class HTTPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundIn = HTTPExchange
    typealias OutboundOut = HTTPClientRequestPart

    private var pending: EventLoopPromise<HTTPAnswer>?
    private var head: HTTPResponseHead?
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            exchange.answer.fail(HTTPExchangeError.connectionClosed)
            promise?.fail(HTTPExchangeError.connectionClosed)
            context.close(promise: nil)
            return
        }
        pending = exchange.answer
        head = nil
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
        case .body:
            break
        case .end:
            guard pending != nil, let head else {
                if pending == nil {
                    context.close(promise: nil)
                }
                return
            }
            finish(.success(HTTPAnswer(status: head.status, headers: head.headers, keepAlive: head.isKeepAlive)))
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

    private func finish(_ result: Result<HTTPAnswer, Error>) {
        timer?.cancel()
        timer = nil
        head = nil
        guard let promise = pending else { return }
        pending = nil
        promise.completeWith(result)
    }
}
