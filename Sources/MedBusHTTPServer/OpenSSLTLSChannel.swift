import HummingbirdCore
import Logging
import MedBusTLS
import NIOConcurrencyHelpers
import NIOCore

/// Puts TLS (and mutual TLS) from `MedBusTLS` — Debian's OpenSSL, the same library and the same
/// certificate files as the MLLP listener — in front of a Hummingbird server's HTTP channel,
/// instead of HummingbirdTLS, which would bring a second TLS stack (BoringSSL) into the build.
///
/// The client certificate's identity is kept per connection (`TLSPeers`) for request contexts:
/// a handshake completes before the first request on its connection is decoded.
public struct OpenSSLTLSChannel<Base: ServerChildChannel>: ServerChildChannel {
    public typealias Value = Base.Value

    let base: Base
    let context: TLSContext

    public init(_ base: Base, context: TLSContext) {
        self.base = base
        self.context = context
    }

    public func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        let handshake = channel.eventLoop.makePromise(of: TLSHandshakeCompleted.self)
        handshake.futureResult.whenSuccess { TLSPeers.record($0, for: channel) }
        channel.closeFuture.whenComplete { _ in TLSPeers.forget(channel) }
        return channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.addHandler(OpenSSLHandler(context: context, handshakeCompleted: handshake, logger: logger))
        }.flatMap {
            base.setup(channel: channel, logger: logger)
        }
    }

    public func handle(value: Value, logger: Logger) async {
        await base.handle(value: value, logger: logger)
    }
}

extension OpenSSLTLSChannel: HTTPChannelHandler where Base: HTTPChannelHandler {
    public var responder: HTTPChannelHandler.Responder { base.responder }
}

extension HTTPServerBuilder {
    /// HTTP/1.1 over TLS from `MedBusTLS`; `nil` is plain HTTP/1.1.
    public static func http1(tls context: TLSContext?) -> HTTPServerBuilder {
        guard let context else { return .http1() }
        return .init { responder in
            OpenSSLTLSChannel(HTTP1Channel(responder: responder), context: context)
        }
    }
}

/// The TLS identity of each open connection, by channel.
public enum TLSPeers {
    private static let peers = NIOLockedValueBox<[ObjectIdentifier: TLSHandshakeCompleted]>([:])

    /// What the client's certificate said, or `nil` for a plain connection (or one without a certificate).
    public static func identity(of channel: any Channel) -> TLSHandshakeCompleted? {
        peers.withLockedValue { $0[ObjectIdentifier(channel)] }
    }

    static func record(_ identity: TLSHandshakeCompleted, for channel: any Channel) {
        peers.withLockedValue { $0[ObjectIdentifier(channel)] = identity }
    }

    static func forget(_ channel: any Channel) {
        _ = peers.withLockedValue { $0.removeValue(forKey: ObjectIdentifier(channel)) }
    }
}
