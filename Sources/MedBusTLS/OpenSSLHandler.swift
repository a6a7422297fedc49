import Logging
import MedBusCrypto
import NIOCore

/// TLS in a channel pipeline, backed by OpenSSL: ciphertext in from the socket, plaintext out
/// to the next handler, and the reverse for writes. Put it first in the pipeline. The server
/// side is made with `init(context:…)` from a `TLSContext`; the client side by
/// `TLSClientContext.makeHandler`, and starts its handshake as soon as the connection is open.
///
/// Before any decrypted byte is passed on it fires `TLSHandshakeCompleted` (and completes the
/// optional promise given to `init`), so the peer's identity is known before its first message.
/// Plaintext written before that is held back, so a failed handshake sends none of it.
///
/// On failure: a handshake that fails (a plain-TCP peer, an untrusted, expired, wrongly named
/// or missing certificate, a protocol error, the client's handshake timeout) sends OpenSSL's
/// alert, logs one line with OpenSSL's reason, fails the promise with the `TLSError` saying
/// why (`handshakeFailed` on the server side) and closes the connection. A record that
/// cannot be decrypted later is logged, fired as `TLSError.connectionFailed`, and closes the
/// connection. A close_notify from the peer is passed on as `ChannelEvent.inputClosed`, like a
/// TCP half-close, so replies can still be written; closing the channel sends close_notify.
public final class OpenSSLHandler: ChannelDuplexHandler {
    public typealias InboundIn = ByteBuffer
    public typealias InboundOut = ByteBuffer
    public typealias OutboundIn = ByteBuffer
    public typealias OutboundOut = ByteBuffer

    private enum State {
        case handshaking
        case active
        /// The peer sent close_notify; we may still write.
        case inputClosed
        case closed
    }

    /// TLS records carry at most 16 KiB of plaintext.
    private static let maximumRecordPlaintext = 16 * 1024

    private let connection: TLSConnection
    private let logger: Logger
    private var handshakePromise: EventLoopPromise<TLSHandshakeCompleted>?
    private var state = State.handshaking
    /// Plaintext written by the application, encrypted on flush (or when the handshake ends).
    private var pendingWrites: [(plaintext: ByteBuffer, promise: EventLoopPromise<Void>?)] = []
    private var flushRequested = false
    private var closeNotifySent = false
    /// Client side: how long the handshake may take once the connection is open.
    private let handshakeTimeout: TimeAmount?
    private var handshakeTimer: Scheduled<Void>?
    private var clientHandshakeStarted = false

    /// A server-side handler.
    /// - Parameter handshakeCompleted: succeeded with the peer's identity when the handshake
    ///   succeeds; failed with `TLSError.handshakeFailed` when it fails or the connection closes
    ///   first. The caller must fail it itself if the handler never makes it into a pipeline.
    /// - Throws: `TLSError.openSSLFailure` when OpenSSL cannot allocate the session.
    public convenience init(context: TLSContext, handshakeCompleted: EventLoopPromise<TLSHandshakeCompleted>? = nil, logger: Logger) throws {
        OpenSSLErrors.clear()
        let connection = try TLSConnection(session: context.newSession(logger: logger), role: .server)
        self.init(connection: connection, handshakeCompleted: handshakeCompleted, handshakeTimeout: nil, logger: logger)
    }

    init(connection: TLSConnection, handshakeCompleted: EventLoopPromise<TLSHandshakeCompleted>?, handshakeTimeout: TimeAmount?, logger: Logger) {
        self.connection = connection
        self.handshakePromise = handshakeCompleted
        self.handshakeTimeout = handshakeTimeout
        self.logger = logger
    }

    // MARK: Client handshake start

    public func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive { startClientHandshake(context: context) }
    }

    public func channelActive(context: ChannelHandlerContext) {
        startClientHandshake(context: context)
        context.fireChannelActive()
    }

    /// A client speaks first: its ClientHello goes out as soon as the connection is open.
    private func startClientHandshake(context: ChannelHandlerContext) {
        guard case .client = connection.role, case .handshaking = state, !clientHandshakeStarted else { return }
        clientHandshakeStarted = true
        if let handshakeTimeout {
            let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            handshakeTimer = context.eventLoop.scheduleTask(in: handshakeTimeout) {
                let (handler, context) = loopBound.value
                guard case .handshaking = handler.state else { return }
                handler.failHandshake(context: context, error: .handshakeTimedOut(milliseconds: handshakeTimeout.nanoseconds / 1_000_000), level: .warning)
            }
        }
        advanceHandshake(context: context)
    }

    // MARK: Inbound

    public func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch state {
        case .handshaking, .active:
            guard connection.feed(unwrapInboundIn(data)) else {
                fail(context: context, reason: "out of memory buffering TLS input")
                return
            }
            if case .handshaking = state { advanceHandshake(context: context) }
            if case .active = state { decrypt(context: context) }
        case .inputClosed, .closed:
            // After close_notify or a failure nothing more is read from this peer.
            break
        }
    }

    public func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        guard let event = event as? ChannelEvent, case .inputClosed = event else {
            context.fireUserInboundEventTriggered(event)
            return
        }
        switch state {
        case .handshaking:
            failHandshake(context: context, error: .handshakeFailed(reason: "the peer closed the connection during the handshake"), level: .info)
        case .active:
            // TCP EOF without close_notify: pass it on; the framing layer reports what was cut.
            context.fireUserInboundEventTriggered(event)
        case .inputClosed, .closed:
            // Already reported (close_notify came first) or nobody is listening any more.
            break
        }
    }

    public func channelInactive(context: ChannelHandlerContext) {
        handshakeTimer?.cancel()
        if case .handshaking = state {
            handshakePromise?.fail(TLSError.handshakeFailed(reason: "the connection closed during the handshake"))
            handshakePromise = nil
        }
        state = .closed
        failPendingWrites(ChannelError.ioOnClosedChannel)
        context.fireChannelInactive()
    }

    private func advanceHandshake(context: ChannelHandlerContext) {
        while true {
            let step = connection.handshake()
            // ServerHello, certificate request, session tickets or an alert: send them now.
            sendCiphertext(context: context)
            switch step {
            case .done:
                state = .active
                handshakeTimer?.cancel()
                let identity = connection.peerIdentity()
                handshakePromise?.succeed(identity)
                handshakePromise = nil
                context.fireUserInboundEventTriggered(identity)
                if flushRequested { encryptPendingWrites(context: context) }
                return
            case .needsInput:
                return
            case .needsOutputDrained:
                continue
            case .closedByPeer:
                failHandshake(context: context, error: .handshakeFailed(reason: "the peer sent close_notify during the handshake"), level: .info)
                return
            case .failed(let reason):
                failHandshake(context: context, error: connection.handshakeError(reason: reason), level: .warning)
                return
            }
        }
    }

    /// Passes on every record OpenSSL can decrypt from the input received so far.
    private func decrypt(context: ChannelHandlerContext) {
        while case .active = state, connection.plaintextAvailable > 0 {
            let capacity = min(connection.plaintextAvailable, Self.maximumRecordPlaintext)
            var plaintext = context.channel.allocator.buffer(capacity: capacity)
            switch connection.read(into: &plaintext, upTo: capacity) {
            case .done:
                context.fireChannelRead(wrapInboundOut(plaintext))
            case .needsInput:
                return
            case .needsOutputDrained:
                sendCiphertext(context: context)
            case .closedByPeer:
                state = .inputClosed
                context.fireUserInboundEventTriggered(ChannelEvent.inputClosed)
            case .failed(let reason):
                fail(context: context, reason: reason)
            }
        }
        // A TLS 1.3 key update or similar may have left a reply to send.
        sendCiphertext(context: context)
    }

    // MARK: Outbound

    public func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .closed = state {
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        pendingWrites.append((unwrapOutboundIn(data), promise))
    }

    public func flush(context: ChannelHandlerContext) {
        flushRequested = true
        switch state {
        case .active, .inputClosed:
            encryptPendingWrites(context: context)
        case .handshaking, .closed:
            // Sent when the handshake completes; failed on close.
            break
        }
    }

    /// Sends close_notify before closing output (or everything), after the writes already made.
    public func close(context: ChannelHandlerContext, mode: CloseMode, promise: EventLoopPromise<Void>?) {
        switch (mode, state) {
        case (.output, .active), (.output, .inputClosed), (.all, .active), (.all, .inputClosed):
            encryptPendingWrites(context: context)
            if !closeNotifySent {
                closeNotifySent = true
                connection.shutdown()
                sendCiphertext(context: context)
            }
        default:
            break
        }
        context.close(mode: mode, promise: promise)
    }

    private func encryptPendingWrites(context: ChannelHandlerContext) {
        flushRequested = false
        let writes = pendingWrites
        pendingWrites.removeAll()
        // One socket write for all of them; its outcome completes every caller's promise.
        var combined: EventLoopPromise<Void>?
        for (index, (plaintext, promise)) in writes.enumerated() {
            if case .failed(let reason) = connection.write(plaintext) {
                let error = TLSError.connectionFailed(reason: reason)
                combined?.fail(error)
                for unsent in writes[index...] { unsent.promise?.fail(error) }
                fail(context: context, reason: reason)
                return
            }
            if let promise {
                if let combined { combined.futureResult.cascade(to: promise) } else { combined = promise }
            }
        }
        sendCiphertext(context: context, promise: combined)
    }

    /// Writes and flushes whatever OpenSSL produced.
    private func sendCiphertext(context: ChannelHandlerContext, promise: EventLoopPromise<Void>? = nil) {
        if let ciphertext = connection.drainOutput(allocator: context.channel.allocator) {
            context.writeAndFlush(wrapOutboundOut(ciphertext), promise: promise)
        } else {
            promise?.succeed()
        }
    }

    // MARK: Failure

    private func failHandshake(context: ChannelHandlerContext, error: TLSError, level: Logger.Level) {
        state = .closed
        handshakeTimer?.cancel()
        logger.log(level: level, "TLS handshake failed", metadata: ["peer": "\(Self.peer(context))", "reason": "\(error)"])
        handshakePromise?.fail(error)
        handshakePromise = nil
        failPendingWrites(error)
        // Not through our own close(): no close_notify for a session that never started.
        context.close(promise: nil)
    }

    private func fail(context: ChannelHandlerContext, reason: String) {
        state = .closed
        logger.warning("TLS connection failed", metadata: ["peer": "\(Self.peer(context))", "reason": "\(reason)"])
        failPendingWrites(TLSError.connectionFailed(reason: reason))
        context.fireErrorCaught(TLSError.connectionFailed(reason: reason))
        context.close(promise: nil)
    }

    private func failPendingWrites(_ error: Error) {
        let writes = pendingWrites
        pendingWrites.removeAll()
        for write in writes { write.promise?.fail(error) }
    }

    private static func peer(_ context: ChannelHandlerContext) -> String {
        context.channel.remoteAddress?.description ?? "unknown"
    }
}

@available(*, unavailable)
extension OpenSSLHandler: Sendable {}
