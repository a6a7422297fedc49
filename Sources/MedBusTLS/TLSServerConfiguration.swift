/// What a TLS listener presents and what it asks of its clients. TLS 1.2 is the minimum.
public struct TLSServerConfiguration: Sendable {
    /// Whether the listener asks connecting clients for a certificate.
    public enum ClientCertificate: Sendable {
        /// No certificate is requested (server-authenticated TLS only).
        case none
        /// A certificate is requested; a client without one is accepted, a client with one
        /// that does not verify against `clientCAFile` is refused.
        case optional
        /// Mutual TLS: a client without a certificate verifying against `clientCAFile` is
        /// refused during the handshake.
        case required
    }

    /// PEM file: the server certificate first, then any intermediates.
    public var certificateChainFile: String
    /// PEM file: the unencrypted private key of the server certificate.
    public var privateKeyFile: String
    /// PEM file: the CA certificate(s) client certificates must chain to. Required unless
    /// `clientCertificate` is `.none`.
    public var clientCAFile: String?
    public var clientCertificate: ClientCertificate
    /// PEM file: certificate revocation list(s) of the client CA(s). Client certificates listed
    /// there are refused in the handshake; the file is re-read when it changes.
    public var clientCRLFile: String?

    public init(certificateChainFile: String, privateKeyFile: String, clientCAFile: String? = nil,
                clientCertificate: ClientCertificate = .none, clientCRLFile: String? = nil) {
        self.certificateChainFile = certificateChainFile
        self.privateKeyFile = privateKeyFile
        self.clientCAFile = clientCAFile
        self.clientCertificate = clientCertificate
        self.clientCRLFile = clientCRLFile
    }

    /// Loads and checks the files, so a misconfigured listener fails at startup rather than on
    /// the first connection.
    /// - Throws: `TLSError` — a file missing or unreadable, not valid PEM, the key not matching
    ///   the certificate, a CRL that does not load, or a client certificate requested without a
    ///   client CA.
    public func makeContext() throws -> TLSContext {
        try TLSContext(configuration: self)
    }
}
