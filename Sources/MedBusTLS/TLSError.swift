/// Why TLS could not be set up or a TLS connection failed.
///
/// Descriptions name the file and include OpenSSL's own error text (its error queue), never any
/// bytes of the traffic.
public enum TLSError: Error, CustomStringConvertible, Sendable {
    /// A configured file does not exist or cannot be read.
    case unreadableFile(path: String, reason: String)
    /// The certificate chain file is not valid PEM or holds no usable certificate.
    case invalidCertificateChain(path: String, openSSL: String)
    /// The private key file is not a valid PEM private key (or is encrypted).
    case invalidPrivateKey(path: String, openSSL: String)
    /// The private key is not the key of the first certificate in the chain.
    case privateKeyMismatch(certificateChain: String, privateKey: String, openSSL: String)
    /// The client CA file is not valid PEM or holds no certificate.
    case invalidClientCA(path: String, openSSL: String)
    /// The client CRL file is not a valid PEM certificate revocation list.
    case invalidRevocationList(path: String, openSSL: String)
    /// Client certificates are requested but no CA was given to verify them against.
    case clientCARequired
    /// OpenSSL could not create or configure the context or a connection (out of memory,
    /// unsupported setting).
    case openSSLFailure(operation: String, openSSL: String)
    /// The handshake failed: the peer does not speak TLS, offered no acceptable certificate,
    /// or closed the connection before finishing.
    case handshakeFailed(reason: String)
    /// A record could not be decrypted or encrypted after the handshake.
    case connectionFailed(reason: String)
    /// Client side: the trusted CA file (or the system trust store) does not load.
    case invalidTrustedCA(path: String, openSSL: String)
    /// Client side: a client certificate without its private key, or the reverse.
    case incompleteClientIdentity
    /// Client side: a manifest's `tls:` mapping has a key that is not a client option.
    case unknownClientOption(String)
    /// Client side: the server's certificate does not chain to a trusted CA (or is otherwise
    /// invalid: revoked, not yet valid, wrong purpose); OpenSSL's verification error says which.
    case serverCertificateUntrusted(server: String, reason: String)
    /// Client side: the server's certificate is valid, but not for the name (or IP address) dialled.
    case serverNameMismatch(server: String)
    /// Client side: the server's certificate has expired.
    case serverCertificateExpired(server: String)
    /// Client side: the handshake did not finish in time after the connection opened.
    case handshakeTimedOut(milliseconds: Int64)

    public var description: String {
        switch self {
        case .unreadableFile(let path, let reason):
            "TLS: cannot read \(path): \(reason)"
        case .invalidCertificateChain(let path, let openSSL):
            "TLS: certificate chain \(path) is not a valid PEM certificate chain (\(openSSL))"
        case .invalidPrivateKey(let path, let openSSL):
            "TLS: private key \(path) is not a valid unencrypted PEM private key (\(openSSL))"
        case .privateKeyMismatch(let certificateChain, let privateKey, let openSSL):
            "TLS: private key \(privateKey) does not match the certificate in \(certificateChain) (\(openSSL))"
        case .invalidClientCA(let path, let openSSL):
            "TLS: client CA file \(path) is not a valid PEM certificate file (\(openSSL))"
        case .invalidRevocationList(let path, let openSSL):
            "TLS: client CRL file \(path) is not a valid PEM certificate revocation list (\(openSSL))"
        case .clientCARequired:
            "TLS: client certificates are requested but no client CA file is configured"
        case .openSSLFailure(let operation, let openSSL):
            "TLS: \(operation) failed (\(openSSL))"
        case .handshakeFailed(let reason):
            "TLS handshake failed: \(reason)"
        case .connectionFailed(let reason):
            "TLS connection failed: \(reason)"
        case .invalidTrustedCA(let path, let openSSL):
            "TLS: trusted CA \(path) does not load as PEM certificates (\(openSSL))"
        case .incompleteClientIdentity:
            "TLS: a client certificate needs both certificateFile and privateKeyFile"
        case .unknownClientOption(let key):
            "TLS: unknown client option '\(key)' (known: \(TLSClientConfiguration.manifestKeys.sorted().joined(separator: ", ")))"
        case .serverCertificateUntrusted(let server, let reason):
            "TLS: the certificate of \(server) is not trusted (\(reason))"
        case .serverNameMismatch(let server):
            "TLS: the server's certificate is not valid for \(server)"
        case .serverCertificateExpired(let server):
            "TLS: the certificate of \(server) has expired"
        case .handshakeTimedOut(let milliseconds):
            "TLS handshake not finished within \(milliseconds) ms"
        }
    }
}
