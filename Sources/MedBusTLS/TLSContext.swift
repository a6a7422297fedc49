import COpenSSL
import Logging
import MedBusCrypto
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A listener's TLS configuration made into OpenSSL server state, shared by all its connections.
///
/// With a client CRL file configured, the file is watched: when it changes (CAs publish a new
/// CRL every few hours or days), the next connection builds a fresh OpenSSL context from it, so
/// a revoked hospital or pharmacy certificate is refused without restarting the listener.
/// Sessions already open keep the context they started with (OpenSSL counts references).
public final class TLSContext: Sendable {
    private let configuration: TLSServerConfiguration
    private let state: Mutex<State>

    private struct State {
        var current: ServerContext
        var crlStamp: FileStamp?
        var lastCheck: timespec
    }

    /// The CRL file is looked at no more than once a second, however many clients connect.
    private static let recheckNanoseconds = 1_000_000_000

    /// - Throws: `TLSError`, see `TLSServerConfiguration.makeContext()`.
    init(configuration: TLSServerConfiguration) throws {
        self.configuration = configuration
        let stamp = configuration.clientCRLFile.flatMap(FileStamp.init(path:))
        let current = try ServerContext(configuration: configuration)
        self.state = Mutex(State(current: current, crlStamp: stamp, lastCheck: Self.now()))
    }

    /// A new server-side session (`SSL*`) on the current context, first reloading the CRL if
    /// its file changed. A CRL that no longer loads is logged and the previous one kept, so a
    /// half-written file never opens the door to every certificate nor closes it to all.
    func newSession(logger: Logger) -> OpaquePointer? {
        state.withLock { state in
            if let crlFile = configuration.clientCRLFile, Self.elapsed(since: state.lastCheck) >= Self.recheckNanoseconds {
                state.lastCheck = Self.now()
                let stamp = FileStamp(path: crlFile)
                if stamp != state.crlStamp {
                    state.crlStamp = stamp
                    do {
                        state.current = try ServerContext(configuration: configuration)
                        logger.notice("TLS client CRL reloaded", metadata: ["crl": "\(crlFile)"])
                    } catch {
                        logger.error("TLS client CRL not reloaded; the previous one stays in force", metadata: ["error": "\(error)"])
                    }
                }
            }
            return SSL_new(state.current.pointer)
        }
    }

    private static func now() -> timespec {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return time
    }

    private static func elapsed(since start: timespec) -> Int {
        let end = now()
        return (end.tv_sec - start.tv_sec) * 1_000_000_000 + (end.tv_nsec - start.tv_nsec)
    }
}

/// What identifies a version of a file without reading it: a replaced or rewritten CRL
/// changes its inode, size or modification time.
private struct FileStamp: Equatable, Sendable {
    var inode: UInt
    var size: Int
    var seconds: Int
    var nanoseconds: Int

    init?(path: String) {
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        inode = UInt(info.st_ino)
        size = Int(info.st_size)
        seconds = info.st_mtim.tv_sec
        nanoseconds = info.st_mtim.tv_nsec
    }
}

/// One configured OpenSSL server context (`SSL_CTX`).
///
/// `@unchecked Sendable`: the context is only modified inside `init`; afterwards OpenSSL allows
/// `SSL_new` on it from any thread, and each session holds its own reference.
private final class ServerContext: @unchecked Sendable {
    let pointer: OpaquePointer

    init(configuration: TLSServerConfiguration) throws {
        pointer = try OpenSSLContextSetup.newContext(TLS_server_method())
        try OpenSSLContextSetup.loadIdentity(pointer, certificateChain: configuration.certificateChainFile, privateKey: configuration.privateKeyFile)
        try configureClientVerification(configuration)
    }

    deinit {
        SSL_CTX_free(pointer)
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
        try OpenSSLContextSetup.checkReadable(caFile)
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
        if let crlFile = configuration.clientCRLFile {
            try loadRevocationList(crlFile)
        }
        SSL_CTX_set_verify(pointer, mode, nil)
    }

    /// Client certificates are also checked against the CRL(s) in `path` (PEM, one per issuing
    /// CA). Only the client's own certificate is checked (`X509_V_FLAG_CRL_CHECK`), so a chain
    /// through intermediates needs no CRL per intermediate. OpenSSL fails closed: a CRL past its
    /// nextUpdate, or none from the client's issuer, refuses the client.
    private func loadRevocationList(_ path: String) throws {
        try OpenSSLContextSetup.checkReadable(path)
        guard let store = SSL_CTX_get_cert_store(pointer), let lookup = X509_STORE_add_lookup(store, X509_LOOKUP_file()) else {
            throw TLSError.openSSLFailure(operation: "preparing the certificate store for a CRL", openSSL: OpenSSLErrors.drain())
        }
        guard X509_load_crl_file(lookup, path, X509_FILETYPE_PEM) > 0 else {
            throw TLSError.invalidRevocationList(path: path, openSSL: OpenSSLErrors.drain())
        }
        X509_STORE_set_flags(store, UInt(X509_V_FLAG_CRL_CHECK))
    }

}
