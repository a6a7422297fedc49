#ifndef MEDBUS_COPENSSL_SHIM_H
#define MEDBUS_COPENSSL_SHIM_H

#include <openssl/ssl.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

// OpenSSL exposes these operations as function-like macros, which Swift cannot import; each
// helper is the macro and nothing more.

/// `SSL_CTX_set_min_proto_version`: returns 1 on success, 0 on failure.
static inline int medbus_SSL_CTX_set_min_proto_version(SSL_CTX *ctx, int version) {
    return (int)SSL_CTX_set_min_proto_version(ctx, version);
}

/// Refuses TLS 1.2 renegotiation (`SSL_OP_NO_RENEGOTIATION`): a peer-initiated renegotiation
/// costs the server a full handshake per request and buys MLLP nothing.
static inline void medbus_SSL_CTX_disable_renegotiation(SSL_CTX *ctx) {
    SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION);
}

/// `BIO_pending`: bytes waiting to be read from a memory BIO.
static inline size_t medbus_BIO_pending(BIO *bio) {
    return (size_t)BIO_pending(bio);
}

/// `OPENSSL_free`, for strings OpenSSL allocated (e.g. by `ASN1_STRING_to_UTF8`).
static inline void medbus_OPENSSL_free(void *pointer) {
    OPENSSL_free(pointer);
}

/// The RFC 2253 flags for `X509_NAME_print_ex` (`XN_FLAG_RFC2253`, a macro of macros).
static inline unsigned long medbus_XN_FLAG_RFC2253(void) {
    return XN_FLAG_RFC2253;
}

/// `SSL_set_tlsext_host_name`: the server name sent in the ClientHello (SNI); 1 on success.
static inline int medbus_SSL_set_tlsext_host_name(SSL *ssl, const char *name) {
    return (int)SSL_set_tlsext_host_name(ssl, name);
}

#endif
