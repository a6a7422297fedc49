import Logging
import MedBusTLS
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// An MLLP listener: many concurrent connections, each served strictly in order (the next
/// message is read only after the previous one was answered), a maximum message size, an idle
/// timeout, and a graceful shutdown that finishes the messages in flight.
///
/// The protocol-specific work is the `handler`: it gets each inbound unit and returns the bytes
/// of the acknowledgement to send, or `nil` to send nothing (the sender will time out and
/// retransmit — the right answer when the message is not yet safe).
public final class MLLPServer: Sendable {
    public struct Configuration: Sendable {
        public var host: String
        public var port: Int
        public var maxMessageBytes: Int
        /// A connection with no inbound data for this long is closed.
        public var idleTimeout: TimeAmount
        /// MLLP over TLS (and mutual TLS) when set; plain TCP when nil.
        public var tls: TLSServerConfiguration?

        public init(host: String = "127.0.0.1", port: Int = 2575, maxMessageBytes: Int = 1 << 20, idleTimeout: TimeAmount = .minutes(5), tls: TLSServerConfiguration? = nil) {
            self.host = host
            self.port = port
            self.maxMessageBytes = maxMessageBytes
            self.idleTimeout = idleTimeout
            self.tls = tls
        }
    }

    /// Who is on the other end of a connection.
    public struct Peer: Sendable {
        public var address: String
        /// The common name of the client certificate verified during the TLS handshake; nil
        /// without TLS or when the client sent no certificate (`clientCertificate: .optional`).
        public var certificateCommonName: String?
    }

    public typealias Handler = @Sendable (MLLPInbound, Peer) async -> [UInt8]?

    private let configuration: Configuration
    private let handler: Handler
    private let logger: Logger
    private let group: EventLoopGroup
    private let lifecycle = Lifecycle()

    public init(configuration: Configuration, group: EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger = Logger(label: "medbus.mllp"), handler: @escaping Handler) {
        self.configuration = configuration
        self.group = group
        self.logger = logger
        self.handler = handler
    }

    /// Binds and serves until `shutdown()`; returns once every connection has finished.
    /// - Parameter onBound: called with the bound port (useful with port 0).
    /// - Throws: `TLSError` before binding when the TLS files are missing or invalid; NIO's
    ///   error when the address cannot be bound.
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
                    let handshake = try tls.map { try Self.addTLS(context: $0, to: channel, logger: logger) }
                    try sync.addHandler(IdleStateHandler(readTimeout: configuration.idleTimeout))
                    try sync.addHandler(CloseOnIdleHandler())
                    try sync.addHandler(ByteToMessageHandler(MLLPFrameDecoder(maxMessageBytes: configuration.maxMessageBytes)))
                    try sync.addHandler(MessageToByteHandler(MLLPFrameEncoder()))
                    return Connection(
                        channel: try NIOAsyncChannel<MLLPInbound, [UInt8]>(wrappingChannelSynchronously: channel),
                        handshake: handshake
                    )
                }
            }
        let port = server.channel.localAddress?.port ?? configuration.port
        lifecycle.started(server: server.channel)
        logger.info("MLLP listener started", metadata: ["host": "\(configuration.host)", "port": "\(port)"])
        onBound(port)

        try await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { connections in
                for try await connection in connections {
                    group.addTask { await self.serve(connection) }
                }
            }
        }
        logger.info("MLLP listener stopped", metadata: ["port": "\(port)"])
    }

    /// Stops accepting, lets each connection finish the message it is processing (and any
    /// already received), then closes it. `run()` returns when all are done.
    public func shutdown() {
        lifecycle.shutdown()
    }

    /// An accepted connection and, with TLS, its handshake's outcome.
    private struct Connection: Sendable {
        var channel: NIOAsyncChannel<MLLPInbound, [UInt8]>
        var handshake: EventLoopFuture<TLSHandshakeCompleted>?
    }

    /// Puts TLS first in the pipeline, in front of the framing.
    /// - Returns: the handshake's outcome, failed if the handshake fails or never happens.
    private static func addTLS(context: TLSContext, to channel: Channel, logger: Logger) throws -> EventLoopFuture<TLSHandshakeCompleted> {
        let handshake = channel.eventLoop.makePromise(of: TLSHandshakeCompleted.self)
        do {
            try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: context, handshakeCompleted: handshake, logger: logger))
        } catch {
            handshake.fail(error)
            throw error
        }
        return handshake.futureResult
    }

    private func serve(_ connection: Connection) async {
        let channel = connection.channel.channel
        var peer = Peer(address: channel.remoteAddress?.description ?? "unknown")
        guard lifecycle.register(channel) else {
            try? await channel.close()
            return
        }
        defer { lifecycle.unregister(channel) }
        do {
            try await connection.channel.executeThenClose { inbound, outbound in
                if let handshake = connection.handshake {
                    // No message is decrypted before the handshake ends, so waiting here delays
                    // nothing; a failed handshake has already closed the connection.
                    peer.certificateCommonName = try await handshake.get().peerCommonName
                }
                for try await unit in inbound {
                    if let reply = await handler(unit, peer) {
                        try await outbound.write(reply)
                    }
                }
            }
        } catch {
            logger.debug("MLLP connection ended", metadata: ["peer": "\(peer.address)", "error": "\(error)"])
        }
    }
}

/// Tracks the server and its connections so shutdown can stop reading on each.
private final class Lifecycle: @unchecked Sendable {
    private let lock = NIOLock()
    private var server: Channel?
    private var connections: [ObjectIdentifier: Channel] = [:]
    private var stopping = false

    func started(server: Channel) {
        let stopNow = lock.withLock {
            self.server = server
            return stopping
        }
        if stopNow { server.close(promise: nil) }
    }

    /// False once shutting down: the connection is closed instead of served.
    func register(_ channel: Channel) -> Bool {
        lock.withLock {
            guard !stopping else { return false }
            connections[ObjectIdentifier(channel)] = channel
            return true
        }
    }

    func unregister(_ channel: Channel) {
        lock.withLock { _ = connections.removeValue(forKey: ObjectIdentifier(channel)) }
    }

    func shutdown() {
        let (server, open): (Channel?, [Channel]) = lock.withLock {
            stopping = true
            return (self.server, Array(connections.values))
        }
        server?.close(promise: nil)
        // Half-close: no new messages are read; the ones already read are answered.
        for channel in open { channel.close(mode: .input, promise: nil) }
    }
}

/// Closes a connection that sent nothing for the idle timeout.
private final class CloseOnIdleHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let idle = event as? IdleStateHandler.IdleStateEvent, idle == .read {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
