import COpenSSL
import Logging
import MedBusCrypto
import NIOCore

/// One TLS session (`SSL*`), server or client side, over two memory BIOs: the handler feeds
/// socket bytes into `input` and sends whatever OpenSSL leaves in `output`, so OpenSSL never
/// touches the socket and NIO keeps doing all I/O. The only type that calls OpenSSL per connection.
///
/// Not thread-safe: used only on its channel's event loop.
final class TLSConnection {
    /// Where a handshake, read or write step left the session.
    enum Step {
        /// The step finished.
        case done
        /// OpenSSL needs more bytes from the peer before it can go on.
        case needsInput
        /// OpenSSL wants its output drained first; drain it and repeat the step.
        case needsOutputDrained
        /// The peer sent close_notify: it will send no more data.
        case closedByPeer
        /// The session is broken; the reason is OpenSSL's, without traffic bytes.
        case failed(reason: String)
    }

    /// Which end of the handshake this session plays.
    enum Role {
        case server
        /// `serverName` is what the server's certificate was checked against, for error messages.
        case client(serverName: String)
    }

    let role: Role
    private let ssl: OpaquePointer
    private let input: OpaquePointer
    private let output: OpaquePointer

    /// Takes ownership of `session`, a new `SSL*` from a server or client context.
    /// - Throws: `TLSError.openSSLFailure` when OpenSSL could not allocate the session or its buffers.
    init(session: OpaquePointer?, role: Role) throws {
        guard let ssl = session else {
            throw TLSError.openSSLFailure(operation: "creating a TLS session", openSSL: OpenSSLErrors.drain())
        }
        guard let input = BIO_new(BIO_s_mem()) else {
            SSL_free(ssl)
            throw TLSError.openSSLFailure(operation: "creating a TLS input buffer", openSSL: OpenSSLErrors.drain())
        }
        guard let output = BIO_new(BIO_s_mem()) else {
            BIO_free(input)
            SSL_free(ssl)
            throw TLSError.openSSLFailure(operation: "creating a TLS output buffer", openSSL: OpenSSLErrors.drain())
        }
        // The session owns both BIOs from here on; SSL_free frees them.
        SSL_set_bio(ssl, input, output)
        switch role {
        case .server: SSL_set_accept_state(ssl)
        case .client: SSL_set_connect_state(ssl)
        }
        self.role = role
        self.ssl = ssl
        self.input = input
        self.output = output
    }

    deinit {
        SSL_free(ssl)
    }

    /// Hands ciphertext received from the socket to OpenSSL. False only when OpenSSL could not
    /// allocate room for it (memory BIOs grow otherwise).
    func feed(_ ciphertext: ByteBuffer) -> Bool {
        guard ciphertext.readableBytes > 0 else { return true }
        return ciphertext.withUnsafeReadableBytes { bytes in
            BIO_write(input, bytes.baseAddress, Int32(bytes.count)) == Int32(bytes.count)
        }
    }

    func handshake() -> Step {
        OpenSSLErrors.clear()
        let rc = SSL_do_handshake(ssl)
        return rc == 1 ? .done : step(afterFailure: rc)
    }

    /// Plaintext OpenSSL can probably return without more input: an upper bound for sizing the
    /// read buffer, zero when a read would certainly ask for more input.
    var plaintextAvailable: Int {
        Int(SSL_pending(ssl)) + medbus_BIO_pending(input)
    }

    /// Decrypts into `buffer`'s writable space; `.done` means bytes were appended.
    func read(into buffer: inout ByteBuffer, upTo capacity: Int) -> Step {
        OpenSSLErrors.clear()
        var rc: Int32 = 0
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: capacity) { space in
            rc = SSL_read(ssl, space.baseAddress, Int32(min(space.count, capacity)))
            return max(Int(rc), 0)
        }
        return rc > 0 ? .done : step(afterFailure: rc)
    }

    /// Encrypts all of `plaintext` into the output (memory BIOs accept any amount, so OpenSSL
    /// writes it whole or fails).
    func write(_ plaintext: ByteBuffer) -> Step {
        guard plaintext.readableBytes > 0 else { return .done }
        OpenSSLErrors.clear()
        let rc = plaintext.withUnsafeReadableBytes { SSL_write(ssl, $0.baseAddress, Int32($0.count)) }
        return rc > 0 ? .done : step(afterFailure: rc)
    }

    /// Queues close_notify in the output. Only meaningful after the handshake.
    func shutdown() {
        OpenSSLErrors.clear()
        _ = SSL_shutdown(ssl)
        OpenSSLErrors.clear()
    }

    /// The ciphertext OpenSSL produced since the last call, or nil if none.
    func drainOutput(allocator: ByteBufferAllocator) -> ByteBuffer? {
        let pending = medbus_BIO_pending(output)
        guard pending > 0 else { return nil }
        var buffer = allocator.buffer(capacity: pending)
        buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: pending) { space in
            Int(max(BIO_read(output, space.baseAddress, Int32(pending)), 0))
        }
        return buffer
    }

    /// The verified peer certificate's subject and common name, both nil without one.
    func peerIdentity() -> TLSHandshakeCompleted {
        guard let certificate = SSL_get1_peer_certificate(ssl) else {
            return TLSHandshakeCompleted(peerCertificateSubject: nil, peerCommonName: nil)
        }
        defer { X509_free(certificate) }
        guard let name = X509_get_subject_name(certificate) else {
            return TLSHandshakeCompleted(peerCertificateSubject: nil, peerCommonName: nil)
        }
        return TLSHandshakeCompleted(peerCertificateSubject: Self.rfc2253(name), peerCommonName: Self.commonName(name))
    }

    /// Why the handshake failed, as specifically as the client side can tell: a server
    /// certificate that is expired, for another name, or not from a trusted CA.
    func handshakeError(reason: String) -> TLSError {
        guard case .client(let server) = role else { return .handshakeFailed(reason: reason) }
        switch Int32(truncatingIfNeeded: SSL_get_verify_result(ssl)) {
        case X509_V_OK:
            return .handshakeFailed(reason: reason)
        case X509_V_ERR_CERT_HAS_EXPIRED:
            return .serverCertificateExpired(server: server)
        case X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH:
            return .serverNameMismatch(server: server)
        case let code:
            return .serverCertificateUntrusted(server: server, reason: String(cString: X509_verify_cert_error_string(Int(code))))
        }
    }

    private func step(afterFailure rc: Int32) -> Step {
        switch SSL_get_error(ssl, rc) {
        case SSL_ERROR_WANT_READ:
            return .needsInput
        case SSL_ERROR_WANT_WRITE:
            return .needsOutputDrained
        case SSL_ERROR_ZERO_RETURN:
            return .closedByPeer
        default:
            var reason = OpenSSLErrors.drain()
            let verification = SSL_get_verify_result(ssl)
            if verification != X509_V_OK {
                reason += " (certificate: \(String(cString: X509_verify_cert_error_string(verification))))"
            }
            return .failed(reason: reason)
        }
    }

    private static func rfc2253(_ name: OpaquePointer) -> String? {
        guard let bio = BIO_new(BIO_s_mem()) else { return nil }
        defer { BIO_free(bio) }
        guard X509_NAME_print_ex(bio, name, 0, medbus_XN_FLAG_RFC2253()) >= 0 else { return nil }
        let count = medbus_BIO_pending(bio)
        var bytes = [UInt8](repeating: 0, count: count)
        let read = BIO_read(bio, &bytes, Int32(count))
        return String(decoding: bytes.prefix(Int(max(read, 0))), as: UTF8.self)
    }

    /// The last CN entry, as UTF-8 whatever its ASN.1 string type.
    private static func commonName(_ name: OpaquePointer) -> String? {
        var index: Int32 = -1
        var last: Int32 = -1
        while case let next = X509_NAME_get_index_by_NID(name, NID_commonName, index), next >= 0 {
            last = next
            index = next
        }
        guard last >= 0, let entry = X509_NAME_get_entry(name, last), let data = X509_NAME_ENTRY_get_data(entry) else { return nil }
        var utf8: UnsafeMutablePointer<UInt8>?
        let length = ASN1_STRING_to_UTF8(&utf8, data)
        guard length >= 0, let utf8 else { return nil }
        defer { medbus_OPENSSL_free(utf8) }
        return String(decoding: UnsafeBufferPointer(start: utf8, count: Int(length)), as: UTF8.self)
    }
}
