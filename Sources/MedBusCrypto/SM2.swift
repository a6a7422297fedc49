import COpenSSL

/// SM2 signatures (GB/T 32918) with SM3, as OpenSSL 3 implements them: the signed digest is
/// SM3(Z ‖ message) where Z hashes the signer's distinguishing id and public key, so signer and
/// verifier must agree on the id. Signatures are DER `SEQUENCE { r, s }`.
public enum SM2 {
    /// The default distinguishing id of GB/T 35276 ("1234567812345678"), used by every
    /// counterparty unless it publishes another.
    public static let defaultID: [UInt8] = Array("1234567812345678".utf8)
}

public struct SM2PrivateKey: Sendable {
    let key: EVPKey

    /// Reads a PKCS#8 (`BEGIN PRIVATE KEY`) or SEC1 (`BEGIN EC PRIVATE KEY`) PEM key on the SM2 curve.
    public init(pem: String) throws(CryptoError) {
        OpenSSLErrors.clear()
        guard let pkey = PEM.withReadBIO(pem, { PEM_read_bio_PrivateKey($0, nil, nil, nil) }) else {
            throw .openSSL("reading an SM2 private key from PEM", code: .invalidKey)
        }
        key = EVPKey(taking: pkey)
        try key.requireSM2("the private key")
    }

    public init(pemFile path: String) throws(CryptoError) {
        try self.init(pem: PEM.readFile(path))
    }

    init(key: EVPKey) {
        self.key = key
    }

    public static func generate() throws(CryptoError) -> SM2PrivateKey {
        OpenSSLErrors.clear()
        guard let context = EVP_PKEY_CTX_new_from_name(nil, "SM2", nil) else { throw .openSSL("EVP_PKEY_CTX_new_from_name(SM2)") }
        defer { EVP_PKEY_CTX_free(context) }
        var pkey: OpaquePointer?
        guard EVP_PKEY_keygen_init(context) == 1, EVP_PKEY_generate(context, &pkey) == 1, let pkey else {
            throw .openSSL("generating an SM2 key")
        }
        return SM2PrivateKey(key: EVPKey(taking: pkey))
    }

    public var publicKey: SM2PublicKey {
        // Re-encoding through SubjectPublicKeyInfo drops the private scalar from the copy.
        var der: UnsafeMutablePointer<UInt8>?
        let length = i2d_PUBKEY(key.pointer, &der)
        precondition(length > 0 && der != nil, "encoding an SM2 public key: \(OpenSSLErrors.drain())")
        defer { medbus_OPENSSL_free(der) }
        var cursor = UnsafePointer(der)
        guard let pkey = d2i_PUBKEY(nil, &cursor, Int(length)) else {
            preconditionFailure("decoding our own SM2 public key: \(OpenSSLErrors.drain())")
        }
        return SM2PublicKey(key: EVPKey(taking: pkey))
    }

    /// PKCS#8, unencrypted: protect the file it is written to.
    public var pemRepresentation: String {
        do {
            return try PEM.write { PEM_write_bio_PrivateKey($0, key.pointer, nil, nil, 0, nil, nil) }
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// Signs `message` with SM2-with-SM3 under distinguishing id `id`; DER-encoded `(r, s)`.
    public func signature(for message: some Sequence<UInt8>, id: [UInt8] = SM2.defaultID) throws(CryptoError) -> [UInt8] {
        let bytes = Array(message)
        return try SM2Operation.run(key: key, id: id, signing: true) { (context) throws(CryptoError) -> [UInt8] in
            var length = 0
            guard EVP_DigestSign(context, nil, &length, bytes, bytes.count) == 1 else { throw .openSSL("SM2 signature length") }
            var signature = [UInt8](repeating: 0, count: length)
            guard EVP_DigestSign(context, &signature, &length, bytes, bytes.count) == 1 else { throw .openSSL("SM2 signing") }
            return Array(signature.prefix(length))
        }
    }
}

public struct SM2PublicKey: Sendable {
    let key: EVPKey

    /// Reads a SubjectPublicKeyInfo PEM (`BEGIN PUBLIC KEY`) on the SM2 curve.
    public init(pem: String) throws(CryptoError) {
        OpenSSLErrors.clear()
        guard let pkey = PEM.withReadBIO(pem, { PEM_read_bio_PUBKEY($0, nil, nil, nil) }) else {
            throw .openSSL("reading an SM2 public key from PEM", code: .invalidKey)
        }
        key = EVPKey(taking: pkey)
        try key.requireSM2("the public key")
    }

    public init(pemFile path: String) throws(CryptoError) {
        try self.init(pem: PEM.readFile(path))
    }

    /// The subject key of a PEM X.509 certificate. The certificate's chain and validity are not
    /// checked here: whoever configures the certificate vouches for it.
    public init(certificatePEM: String) throws(CryptoError) {
        OpenSSLErrors.clear()
        guard let certificate = PEM.withReadBIO(certificatePEM, { PEM_read_bio_X509($0, nil, nil, nil) }) else {
            throw .openSSL("reading an X.509 certificate from PEM", code: .invalidKey)
        }
        defer { X509_free(certificate) }
        guard let pkey = X509_get_pubkey(certificate) else { throw .openSSL("the certificate's public key", code: .invalidKey) }
        key = EVPKey(taking: pkey)
        try key.requireSM2("the certificate's key")
    }

    init(key: EVPKey) {
        self.key = key
    }

    public var pemRepresentation: String {
        do {
            return try PEM.write { PEM_write_bio_PUBKEY($0, key.pointer) }
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// True only for a valid SM2-with-SM3 signature by this key over `message` under `id`.
    /// Malformed DER, a different id or any other failure is simply `false`.
    public func isValidSignature(_ signature: [UInt8], for message: some Sequence<UInt8>, id: [UInt8] = SM2.defaultID) -> Bool {
        let bytes = Array(message)
        let valid = try? SM2Operation.run(key: key, id: id, signing: false) { (context) throws(CryptoError) -> Bool in
            EVP_DigestVerify(context, signature, signature.count, bytes, bytes.count) == 1
        }
        OpenSSLErrors.clear()
        return valid ?? false
    }
}

/// The OpenSSL 3 recipe for SM2 with a distinguishing id: the id lives on a key context that is
/// attached to the digest context *before* `EVP_DigestSignInit`/`EVP_DigestVerifyInit`, because
/// the init computes Z from it. (Setting the id afterwards is silently ignored.)
///
/// Contexts are made per operation: reusing them (as `openssl speed` does) measured no faster
/// here, where the SM2 arithmetic dominates (≈ 1 ms a signature on one loaded core, the same as
/// the same calls from C).
enum SM2Operation {
    /// SM3 fetched from the default provider once (`EVP_sm3()` is looked up again on every init).
    nonisolated(unsafe) static let sm3: OpaquePointer = {
        guard let digest = EVP_MD_fetch(nil, "SM3", nil) else { preconditionFailure("SM3 unavailable in this OpenSSL: \(OpenSSLErrors.drain())") }
        return digest
    }()

    static func run<T>(key: EVPKey, id: [UInt8], signing: Bool, _ body: (OpaquePointer) throws(CryptoError) -> T) throws(CryptoError) -> T {
        OpenSSLErrors.clear()
        guard let digestContext = EVP_MD_CTX_new() else { throw .openSSL("EVP_MD_CTX_new") }
        guard let keyContext = EVP_PKEY_CTX_new_from_pkey(nil, key.pointer, nil) else {
            EVP_MD_CTX_free(digestContext)
            throw .openSSL("EVP_PKEY_CTX_new_from_pkey")
        }
        // The digest context does not own a context given by EVP_MD_CTX_set_pkey_ctx: free both.
        defer {
            EVP_MD_CTX_free(digestContext)
            EVP_PKEY_CTX_free(keyContext)
        }
        guard EVP_PKEY_CTX_set1_id(keyContext, id, Int32(id.count)) == 1 else { throw .openSSL("setting the SM2 distinguishing id") }
        EVP_MD_CTX_set_pkey_ctx(digestContext, keyContext)
        let initialised = signing
            ? EVP_DigestSignInit(digestContext, nil, sm3, nil, key.pointer)
            : EVP_DigestVerifyInit(digestContext, nil, sm3, nil, key.pointer)
        guard initialised == 1 else { throw .openSSL(signing ? "EVP_DigestSignInit(SM3)" : "EVP_DigestVerifyInit(SM3)") }
        return try body(digestContext)
    }
}
