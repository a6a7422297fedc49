import COpenSSL
import MedBusCrypto
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What server and client contexts (`SSL_CTX`) set up the same way: TLS 1.2 as the minimum, no
/// renegotiation, and a certificate with its key loaded from PEM files.
enum OpenSSLContextSetup {
    /// A new context for `method`; the caller frees it with `SSL_CTX_free`.
    static func newContext(_ method: OpaquePointer?) throws -> OpaquePointer {
        OpenSSLErrors.clear()
        guard let pointer = SSL_CTX_new(method) else {
            throw TLSError.openSSLFailure(operation: "creating the TLS context", openSSL: OpenSSLErrors.drain())
        }
        guard medbus_SSL_CTX_set_min_proto_version(pointer, TLS1_2_VERSION) == 1 else {
            SSL_CTX_free(pointer)
            throw TLSError.openSSLFailure(operation: "setting TLS 1.2 as the minimum", openSSL: OpenSSLErrors.drain())
        }
        medbus_SSL_CTX_disable_renegotiation(pointer)
        return pointer
    }

    /// The certificate chain (leaf first) and its unencrypted private key.
    static func loadIdentity(_ context: OpaquePointer, certificateChain: String, privateKey: String) throws {
        try checkReadable(certificateChain)
        try checkReadable(privateKey)
        guard SSL_CTX_use_certificate_chain_file(context, certificateChain) == 1 else {
            throw TLSError.invalidCertificateChain(path: certificateChain, openSSL: OpenSSLErrors.drain())
        }
        guard SSL_CTX_use_PrivateKey_file(context, privateKey, SSL_FILETYPE_PEM) == 1 else {
            // OpenSSL 3 already compares the key with the certificate here.
            if ERR_GET_REASON(ERR_peek_error()) == X509_R_KEY_VALUES_MISMATCH {
                throw TLSError.privateKeyMismatch(certificateChain: certificateChain, privateKey: privateKey, openSSL: OpenSSLErrors.drain())
            }
            throw TLSError.invalidPrivateKey(path: privateKey, openSSL: OpenSSLErrors.drain())
        }
        guard SSL_CTX_check_private_key(context) == 1 else {
            throw TLSError.privateKeyMismatch(certificateChain: certificateChain, privateKey: privateKey, openSSL: OpenSSLErrors.drain())
        }
    }

    /// OpenSSL's "system library" error for a missing file is obscure; say it plainly.
    static func checkReadable(_ path: String) throws {
        guard access(path, R_OK) == 0 else {
            throw TLSError.unreadableFile(path: path, reason: String(cString: strerror(errno)))
        }
    }
}
