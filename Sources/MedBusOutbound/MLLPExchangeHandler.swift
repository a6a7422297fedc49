import MedBusMLLP
import NIOCore

/// One message to send on an MLLP connection and the promise its answer completes.
struct MLLPExchange: Sendable {
    var message: [UInt8]
    var answer: EventLoopPromise<[UInt8]>
    var timeout: TimeAmount
}

/// How an exchange ended without an answer.
enum MLLPExchangeError: Error {
    case timedOut
    case connectionClosed
    case malformedAnswer
}

/// Pairs each message written on an MLLP client connection with the next frame read back.
///
/// It sits after the MLLP framing handlers and keeps at most one exchange open. Anything that
/// leaves the ACK stream out of step with the requests — no answer within the timeout, a frame
/// nobody asked for, a truncated or oversize frame — closes the connection: a late ACK arriving
/// later would otherwise be taken for the answer to the next message.
final class MLLPExchangeHandler: ChannelDuplexHandler {
    typealias InboundIn = MLLPInbound
    typealias OutboundIn = MLLPExchange
    typealias OutboundOut = [UInt8]

    private var pending: EventLoopPromise<[UInt8]>?
    private var timer: Scheduled<Void>?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let exchange = unwrapOutboundIn(data)
        guard pending == nil else {
            // The destination serialises exchanges; a second one means the stream is lost.
            exchange.answer.fail(MLLPExchangeError.connectionClosed)
            promise?.fail(MLLPExchangeError.connectionClosed)
            context.close(promise: nil)
            return
        }
        pending = exchange.answer
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        timer = context.eventLoop.scheduleTask(in: exchange.timeout) {
            let (handler, context) = loopBound.value
            handler.finish(.failure(MLLPExchangeError.timedOut))
            context.close(promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(exchange.message), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .message(let bytes) where pending != nil:
            finish(.success(bytes))
        default:
            finish(.failure(MLLPExchangeError.malformedAnswer))
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(.failure(MLLPExchangeError.connectionClosed))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        finish(.failure(error))
        context.close(promise: nil)
    }

    private func finish(_ result: Result<[UInt8], Error>) {
        timer?.cancel()
        timer = nil
        guard let promise = pending else { return }
        pending = nil
        promise.completeWith(result)
    }
}
