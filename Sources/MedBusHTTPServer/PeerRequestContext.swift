import Hummingbird
import MedBusTLS

/// A request context that knows who is calling: the client certificate's identity when the
/// connection is mutual TLS (`OpenSSLTLSChannel`), `nil` otherwise.
public struct PeerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let tlsPeer: TLSHandshakeCompleted?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        tlsPeer = TLSPeers.identity(of: source.channel)
    }
}
