import Logging
import MedBusTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP listener for newline-delimited messages (a CAD's persistent event stream): many
/// connections, a maximum line length, an idle timeout, optional TLS (and mutual TLS), and a
/// graceful shutdown that answers every line already read.
///
/// Unlike MLLP, a CAD does not wait for each answer before sending the next line, so lines of one
/// connection are processed **pipelined**: the `handler` is called for each line in arrival order
/// and returns at once with the work it started; answers are written in arrival order as each
/// finishes. At most `maxInFlight` lines per connection are in progress; beyond that the server
/// stops reading that connection (TCP back-pressure) until answers have gone out.
public final class LineServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var maxLineBytes: Int
        /// A connection with no inbound data for this long is closed.
        public var idleTimeout: TimeAmount
        public var maxInFlight: Int
        public var tls: TLSServerConfiguration?

        public init(host: String = "127.0.0.1", port: Int, maxLineBytes: Int = 64 << 10, idleTimeout: TimeAmount = .minutes(5), maxInFlight: Int = 256, tls: TLSServerConfiguration? = nil) {
            self.host = host
            self.port = port
            self.maxLineBytes = maxLineBytes
            self.idleTimeout = idleTimeout
            self.maxInFlight = max(1, maxInFlight)
            self.tls = tls
        }
    }

    /// Who is on the other end: the address, and the verified client certificate's CN with mTLS.
    public struct Peer: Sendable {
        public var address: String
        public var certificateCommonName: String?
    }

    /// Called on the connection's reading task, in arrival order: must start the work (e.g. a
    /// `Task`) and return it without waiting; the task's value (without the newline) is the answer.
    public typealias Handler = @Sendable (LineInbound, Peer) -> Task<[UInt8], Never>

    private let configuration: Configuration
    private let handler: Handler
    private let logger: Logger
    private let group: EventLoopGroup
    private let lifecycle = ConnectionRegistry()

    public init(configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "medbus.lines"), handler: @escaping Handler) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.handler = handler
    }

    /// Binds and serves until `shutdown()`; returns once every connection has finished.
    /// - Throws: `TLSError` before binding when the TLS files are bad; NIO's error when the
    ///   address cannot be bound.
    public func run(onBound: @Sendable (Int) -> Void = { _ in }) async throws {
        let configuration = self.configuration
        let logger = self.logger
        let tls = try configuration.tls?.makeContext()
        let server = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
            .bind(host: configuration.host, port: configuration.port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    var handshake: EventLoopFuture<TLSHandshakeCompleted>?
                    if let tls {
                        let promise = channel.eventLoop.makePromise(of: TLSHandshakeCompleted.self)
                        do { try sync.addHandler(OpenSSLHandler(context: tls, handshakeCompleted: promise, logger: logger)) } catch {
                            promise.fail(error)
                            throw error
                        }
                        handshake = promise.futureResult
                    }
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    try sync.addHandler(CloseWhenIdle())
                    try sync.addHandler(ByteToMessageHandler(LineFrameDecoder(maxLineBytes: configuration.maxLineBytes)))
                    try sync.addHandler(MessageToByteHandler(LineFrameEncoder()))
                    return Connection(channel: try NIOAsyncChannel<LineInbound, [UInt8]>(wrappingChannelSynchronously: channel), handshake: handshake)
                }
            }
        let port = server.channel.localAddress?.port ?? configuration.port
        lifecycle.started(server: server.channel)
        logger.info("line listener started", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        onBound(port)
        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
        logger.info("line listener stopped", metadata: ["port": "\(port)"])
    }

    /// Stops accepting and reading; answers every line already read, then closes each connection.
    public func shutdown() { lifecycle.shutdown() }

    private struct Connection: Sendable {
        var channel: NIOAsyncChannel<LineInbound, [UInt8]>
        var handshake: EventLoopFuture<TLSHandshakeCompleted>?
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel.channel
        var peer = Peer(address: channel.remoteAddress?.description ?? "unknown")
        guard lifecycle.register(channel) else {
            try? await channel.close()
            return
        }
        defer { lifecycle.unregister(channel) }
        let window = InFlightWindow(limit: configuration.maxInFlight)
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                if let handshake = connection.handshake { peer.certificateCommonName = try await handshake.get().peerCommonName }
                let (answers, pending) = AsyncStream.makeStream(of: Task<[UInt8], Never>.self)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask {
                        do {
                            for await answer in answers {
                                try await outbound.write(await answer.value)
                                window.release()
                            }
                        } catch {
                            window.close()  // the reader must not wait for room that never comes
                            throw error
                        }
                    }
                    do {
                        for try await unit in inbound {
                            guard await window.acquire() else { break }
                            pending.yield(handler(unit, peer))
                        }
                    } catch {
                        pending.finish()
                        throw error
                    }
                    pending.finish()
                    try await group.waitForAll()
                }
            }
        } catch {
            logger.debug("line connection ended", metadata: ["peer": "\(peer.address)", "error": "\(error)"])
        }
    }
}

/// Counts a connection's lines in progress; `acquire` waits while `limit` are.
final class InFlightWindow: Sendable {
    private struct State {
        var available: Int
        var closed = false
        var waiter: CheckedContinuation<Bool, Never>?
    }

    private let state: NIOLockedValueBox<State>

    init(limit: Int) { state = NIOLockedValueBox(State(available: limit)) }

    /// True when a slot was taken; false once closed. Only the connection's reader waits here.
    func acquire() async -> Bool {
        await withCheckedContinuation { continuation in
            let result: Bool? = state.withLockedValue { state in
                if state.closed { return false }
                if state.available > 0 {
                    state.available -= 1
                    return true
                }
                state.waiter = continuation
                return nil
            }
            if let result { continuation.resume(returning: result) }
        }
    }

    func release() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
            guard let waiter = state.waiter else {
                state.available += 1
                return nil
            }
            state.waiter = nil
            return waiter  // the slot passes straight to the waiting reader
        }
        waiter?.resume(returning: true)
    }

    func close() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }
}

/// Tracks the server and its connections so shutdown can stop reading on each.
private final class ConnectionRegistry: Sendable {
    private struct State {
        var server: Channel?
        var connections: [ObjectIdentifier: Channel] = [:]
        var stopping = false
    }

    private let state = NIOLockedValueBox(State())

    func started(server: Channel) {
        let stopNow = state.withLockedValue { state in
            state.server = server
            return state.stopping
        }
        if stopNow { server.close(promise: nil) }
    }

    func register(_ channel: Channel) -> Bool {
        state.withLockedValue { state in
            guard !state.stopping else { return false }
            state.connections[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func unregister(_ channel: Channel) {
        state.withLockedValue { _ = $0.connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func shutdown() {
        let (server, open) = state.withLockedValue { state in
            state.stopping = true
            return (state.server, Array(state.connections.values))
        }
        server?.close(promise: nil)
        // Half-close: nothing more is read; lines already read are answered, then the writer ends.
        for channel in open { channel.close(mode: .input, promise: nil) }
    }
}

/// Closes a connection that sent nothing for the idle timeout.
private final class CloseWhenIdle: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
