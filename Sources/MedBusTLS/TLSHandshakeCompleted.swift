/// Fired as a user inbound event by `OpenSSLHandler` once the handshake succeeds, before
/// any decrypted byte is passed on. An adapter maps `peerCommonName` to the sending hospital.
///
/// A certificate is only reported after OpenSSL verified it against the client CA; both
/// fields are `nil` when the client sent none (possible with `.none` or `.optional`). On the
/// client side (`TLSClientContext`) they describe the server's verified certificate.
public struct TLSHandshakeCompleted: Sendable, Equatable {
    /// The client certificate's subject, RFC 2253 form (e.g. `CN=H37010200001,O=Hospital`).
    public var peerCertificateSubject: String?
    /// The subject's common name (the last CN when there are several).
    public var peerCommonName: String?

    public init(peerCertificateSubject: String?, peerCommonName: String?) {
        self.peerCertificateSubject = peerCertificateSubject
        self.peerCommonName = peerCommonName
    }
}
