import Foundation
import Logging
import MedBusTLS
import MedBusTestSupport
import NIOCore
import NIOPosix
import XCTest

/// `OpenSSLHandler` (server side) on its own, with Python's `ssl` as the client: the handshake
/// event carries the verified certificate's identity and precedes the decrypted bytes.
final class HandshakeEventTests: XCTestCase {
    func testHandshakeEventCarriesSubjectAndCommonNameBeforeData() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let context = try certificates.serverConfiguration(clientCertificate: .required).makeContext()
        let (observed, continuation) = AsyncStream.makeStream(of: Observed.self)
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let sync = channel.pipeline.syncOperations
                    try sync.addHandler(OpenSSLHandler(context: context, logger: Logger(label: "test")))
                    try sync.addHandler(Observer(continuation: continuation))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        let port = server.localAddress!.port!

        // The client waits for a reply that never comes; the observer closes the connection.
        let client = Task { try await sendOverTLS(port: port, certificates: certificates, certificate: "client", message: "MSH|direct") }
        var events = observed.makeAsyncIterator()
        let first = await events.next()
        XCTAssertEqual(first, .handshake(TLSHandshakeCompleted(peerCertificateSubject: "CN=H37010200001,O=MedBus Test", peerCommonName: "H37010200001")))
        let second = await events.next()
        XCTAssertEqual(second, .data("\u{0B}MSH|direct\u{1C}\r"))
        _ = try await client.value
        try await server.close()
    }
}

private enum Observed: Sendable, Equatable {
    case handshake(TLSHandshakeCompleted)
    case data(String)
}

/// Reports what reaches the handler after TLS, in order.
private final class Observer: ChannelInboundHandler, Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncStream<Observed>.Continuation

    init(continuation: AsyncStream<Observed>.Continuation) { self.continuation = continuation }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSHandshakeCompleted { continuation.yield(.handshake(event)) }
        context.fireUserInboundEventTriggered(event)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        continuation.yield(.data(String(buffer: unwrapInboundIn(data))))
        context.close(promise: nil)
    }
}
