import COpenSSL
import Logging
import MedBusCrypto
import NIOCore
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A client's TLS configuration made into OpenSSL client state (`SSL_CTX`), shared by all its
/// outbound connections.
///
/// `@unchecked Sendable`: the context is only modified inside `init`; afterwards OpenSSL allows
/// `SSL_new` on it from any thread, and each session holds its own reference.
public final class TLSClientContext: @unchecked Sendable {
    public let configuration: TLSClientConfiguration
    private let pointer: OpaquePointer

    init(configuration: TLSClientConfiguration) throws {
        self.configuration = configuration
        pointer = try OpenSSLContextSetup.newContext(TLS_client_method())
        let trusted: Bool
        if let caFile = configuration.caFile {
            try OpenSSLContextSetup.checkReadable(caFile)
            trusted = SSL_CTX_load_verify_locations(pointer, caFile, nil) == 1
        } else {
            trusted = SSL_CTX_load_verify_locations(pointer, nil, TLSClientConfiguration.systemTrustDirectory) == 1
        }
        guard trusted else {
            throw TLSError.invalidTrustedCA(path: configuration.caFile ?? TLSClientConfiguration.systemTrustDirectory, openSSL: OpenSSLErrors.drain())
        }
        switch (configuration.certificateFile, configuration.privateKeyFile) {
        case (let certificate?, let key?):
            try OpenSSLContextSetup.loadIdentity(pointer, certificateChain: certificate, privateKey: key)
        case (nil, nil):
            break
        default:
            throw TLSError.incompleteClientIdentity
        }
        // A server whose certificate does not verify fails the handshake (see `newSession`).
        SSL_CTX_set_verify(pointer, SSL_VERIFY_PEER, nil)
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    /// A TLS client handler for a connection to `host`, to be first in the channel's pipeline.
    /// - Parameters:
    ///   - handshakeCompleted: succeeded with the server's certificate subject once the
    ///     handshake succeeds, failed with a `TLSError` saying why it did not.
    ///   - handshakeTimeout: the handshake fails with `TLSError.handshakeTimedOut` when not
    ///     finished this long after the connection opened.
    /// - Throws: `TLSError.openSSLFailure` when OpenSSL cannot allocate the session or refuses the name.
    public func makeHandler(host: String, handshakeCompleted: EventLoopPromise<TLSHandshakeCompleted>?,
                            handshakeTimeout: TimeAmount, logger: Logger) throws -> OpenSSLHandler {
        let name = configuration.serverName ?? host
        let connection = try TLSConnection(session: try newSession(serverName: name), role: .client(serverName: name))
        return OpenSSLHandler(connection: connection, handshakeCompleted: handshakeCompleted, handshakeTimeout: handshakeTimeout, logger: logger)
    }

    /// A session that sends `serverName` as SNI (DNS names only: RFC 6066 forbids IP literals
    /// there) and accepts only a certificate valid for it: a DNS name is matched against the
    /// certificate's DNS names (no partial wildcards), an IP address against its IP addresses.
    private func newSession(serverName: String) throws -> OpaquePointer {
        OpenSSLErrors.clear()
        guard let ssl = SSL_new(pointer) else {
            throw TLSError.openSSLFailure(operation: "creating a TLS session", openSSL: OpenSSLErrors.drain())
        }
        let parameters = SSL_get0_param(ssl)
        let address = Self.ipAddress(serverName)
        let configured: Bool
        if let address {
            configured = X509_VERIFY_PARAM_set1_ip_asc(parameters, address) == 1
        } else {
            X509_VERIFY_PARAM_set_hostflags(parameters, UInt32(X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS))
            configured = X509_VERIFY_PARAM_set1_host(parameters, serverName, 0) == 1
                && medbus_SSL_set_tlsext_host_name(ssl, serverName) == 1
        }
        guard configured else {
            SSL_free(ssl)
            throw TLSError.openSSLFailure(operation: "setting the server name \(serverName)", openSSL: OpenSSLErrors.drain())
        }
        return ssl
    }

    /// `host` without IPv6 brackets when it is an IPv4 or IPv6 address, else nil.
    static func ipAddress(_ host: String) -> String? {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        var buffer = [UInt8](repeating: 0, count: 16)
        for family in [AF_INET, AF_INET6] where inet_pton(family, bare, &buffer) == 1 {
            return bare
        }
        return nil
    }
}

extension Channel {
    /// Puts TLS first in this open client connection's pipeline and waits for the handshake,
    /// which must finish by `deadline`. Call it before writing anything: what the handlers
    /// after it write is sent only once the server is verified.
    /// - Returns: the server certificate's subject.
    /// - Throws: the `TLSError` saying why the handshake failed; the connection is then closed.
    public func startTLS(_ tls: TLSClientContext, host: String, deadline: ContinuousClock.Instant, logger: Logger) async throws(TLSError) -> TLSHandshakeCompleted {
        let (seconds, attoseconds) = (deadline - .now).components
        let timeout = TimeAmount.nanoseconds(max(seconds * 1_000_000_000 + attoseconds / 1_000_000_000, 1_000_000))
        let handshake = eventLoop.makePromise(of: TLSHandshakeCompleted.self)
        let added = eventLoop.submit { [self] in
            let handler = try tls.makeHandler(host: host, handshakeCompleted: handshake, handshakeTimeout: timeout, logger: logger)
            try pipeline.syncOperations.addHandler(handler, position: .first)
        }
        added.whenFailure { handshake.fail($0) }
        do {
            return try await handshake.futureResult.get()
        } catch let error as TLSError {
            throw error
        } catch {
            close(promise: nil)
            throw .handshakeFailed(reason: "\(error)")
        }
    }
}
