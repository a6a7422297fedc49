import COpenSSL
import MedBusCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A configured OpenSSL server context (`SSL_CTX`), shared by every connection of a listener.
///
/// `@unchecked Sendable`: the context is only modified inside `init`; afterwards OpenSSL allows
/// `SSL_new` on it from any thread, and each connection holds its own reference.
public final class TLSContext: @unchecked Sendable {
    let pointer: OpaquePointer

    /// - Throws: `TLSError`, see `TLSServerConfiguration.makeContext()`.
    init(configuration: TLSServerConfiguration) throws {
        OpenSSLErrors.clear()
        guard let pointer = SSL_CTX_new(TLS_server_method()) else {
            throw TLSError.openSSLFailure(operation: "creating the TLS context", openSSL: OpenSSLErrors.drain())
        }
        self.pointer = pointer
        guard medbus_SSL_CTX_set_min_proto_version(pointer, TLS1_2_VERSION) == 1 else {
            throw TLSError.openSSLFailure(operation: "setting TLS 1.2 as the minimum", openSSL: OpenSSLErrors.drain())
        }
        medbus_SSL_CTX_disable_renegotiation(pointer)
        try loadIdentity(certificateChain: configuration.certificateChainFile, privateKey: configuration.privateKeyFile)
        try configureClientVerification(configuration)
    }

    deinit {
        SSL_CTX_free(pointer)
    }

    private func loadIdentity(certificateChain: String, privateKey: String) throws {
        try Self.checkReadable(certificateChain)
        try Self.checkReadable(privateKey)
        guard SSL_CTX_use_certificate_chain_file(pointer, certificateChain) == 1 else {
            throw TLSError.invalidCertificateChain(path: certificateChain, openSSL: OpenSSLErrors.drain())
        }
        guard SSL_CTX_use_PrivateKey_file(pointer, privateKey, SSL_FILETYPE_PEM) == 1 else {
            // OpenSSL 3 already compares the key with the certificate here.
            if ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH {
                throw TLSError.privateKeyMismatch(certificateChain: certificateChain, privateKey: privateKey, openSSL: OpenSSLErrors.drain())
            }
            throw TLSError.invalidPrivateKey(path: privateKey, openSSL: OpenSSLErrors.drain())
        }
        guard SSL_CTX_check_private_key(pointer) == 1 else {
            throw TLSError.privateKeyMismatch(certificateChain: certificateChain, privateKey: privateKey, openSSL: OpenSSLErrors.drain())
        }
    }

    private func configureClientVerification(_ configuration: TLSServerConfiguration) throws {
        let mode: Int32
        switch configuration.clientCertificate {
        case .none:
            SSL_CTX_set_verify(pointer, SSL_VERIFY_NONE, nil)
            return
        case .optional:
            mode = SSL_VERIFY_PEER
        case .required:
            mode = SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT
        }
        guard let caFile = configuration.clientCAFile else { throw TLSError.clientCARequired }
        try Self.checkReadable(caFile)
        guard SSL_CTX_load_verify_locations(pointer, caFile, nil) == 1 else {
            throw TLSError.invalidClientCA(path: caFile, openSSL: OpenSSLErrors.drain())
        }
        // The CA names sent in the CertificateRequest, so a client holding several
        // certificates picks the one this listener trusts.
        guard let names = SSL_load_client_CA_file(caFile) else {
            throw TLSError.invalidClientCA(path: caFile, openSSL: OpenSSLErrors.drain())
        }
        SSL_CTX_set_client_CA_list(pointer, names)
        // Required by OpenSSL whenever client certificates are verified and sessions may be
        // resumed; without it a resumed session fails the handshake.
        let sessionContext = Array("medbus-mllp".utf8)
        guard SSL_CTX_set_session_id_context(pointer, sessionContext, UInt32(sessionContext.count)) == 1 else {
            throw TLSError.openSSLFailure(operation: "setting the session id context", openSSL: OpenSSLErrors.drain())
        }
        SSL_CTX_set_verify(pointer, mode, nil)
    }

    /// OpenSSL's "system library" error for a missing file is obscure; say it plainly.
    private static func checkReadable(_ path: String) throws {
        guard access(path, R_OK) == 0 else {
            throw TLSError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
