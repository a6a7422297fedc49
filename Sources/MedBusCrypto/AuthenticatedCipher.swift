import COpenSSL

/// The two authenticated ciphers behind `PayloadKeyring`. Both authenticate `context` (the
/// algorithm and key id, so a payload cannot be relabelled) and the caller's associated data.
enum AuthenticatedCipher {
    static let keyLength = 32

    static func seal(_ algorithm: SealedPayload.Algorithm, key: [UInt8], keyID: String, _ plain: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> SealedPayload {
        let aad = authenticatedHeader(algorithm, keyID: keyID, associatedData: associatedData)
        switch algorithm {
        case .aes256gcm:
            let nonce = randomBytes(12)
            let (ciphertext, tag) = try aesGCM(encrypt: true, key: key, nonce: nonce, aad: aad, plain, tag: nil)
            return SealedPayload(keyID: keyID, algorithm: algorithm, nonce: nonce, ciphertext: ciphertext, tag: tag)
        case .sm4ctrHMACSM3:
            let nonce = randomBytes(16)
            let ciphertext = try SymmetricCipher.run(EVP_sm4_ctr(), name: "SM4-CTR", encrypt: true, key: Array(key[0..<16]), iv: nonce, padding: false, plain)
            let tag = SM3.hmac(key: Array(key[16..<32]), aad + nonce + ciphertext)
            return SealedPayload(keyID: keyID, algorithm: algorithm, nonce: nonce, ciphertext: ciphertext, tag: tag)
        }
    }

    static func open(_ sealed: SealedPayload, key: [UInt8], associatedData: [UInt8]) throws(CryptoError) -> [UInt8] {
        let aad = authenticatedHeader(sealed.algorithm, keyID: sealed.keyID, associatedData: associatedData)
        let failure = CryptoError(.authenticationFailed, "payload sealed with key '\(sealed.keyID)' failed authentication: the key bytes for that id differ from the sealing key, the associated data differs, or the bytes were altered")
        switch sealed.algorithm {
        case .aes256gcm:
            guard sealed.nonce.count == 12, sealed.tag.count == 16 else { throw failure }
            do {
                return try aesGCM(encrypt: false, key: key, nonce: sealed.nonce, aad: aad, sealed.ciphertext, tag: sealed.tag).output
            } catch {
                OpenSSLErrors.clear()
                throw failure
            }
        case .sm4ctrHMACSM3:
            guard sealed.nonce.count == 16, sealed.tag.count == SM3.digestLength else { throw failure }
            let expected = SM3.hmac(key: Array(key[16..<32]), aad + sealed.nonce + sealed.ciphertext)
            guard CRYPTO_memcmp(expected, sealed.tag, expected.count) == 0 else { throw failure }
            return try SymmetricCipher.run(EVP_sm4_ctr(), name: "SM4-CTR", encrypt: false, key: Array(key[0..<16]), iv: sealed.nonce, padding: false, sealed.ciphertext)
        }
    }

    /// `"medbus-sealed-v1" ‖ algorithm ‖ len(keyID) ‖ keyID ‖ len(ad) as 8 bytes ‖ ad`: every
    /// field length-prefixed so no two (keyID, ad) pairs produce the same bytes.
    static func authenticatedHeader(_ algorithm: SealedPayload.Algorithm, keyID: String, associatedData: [UInt8]) -> [UInt8] {
        let id = Array(keyID.utf8)
        var header = Array("medbus-sealed-v1".utf8)
        header.append(algorithm.rawValue)
        header.append(UInt8(id.count))
        header += id
        withUnsafeBytes(of: UInt64(associatedData.count).bigEndian) { header += $0 }
        header += associatedData
        return header
    }

    static func randomBytes(_ count: Int) -> [UInt8] {
        // SystemRandomNumberGenerator is the kernel CSPRNG (getrandom(2) on Linux).
        var generator = SystemRandomNumberGenerator()
        return (0..<count).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
    }

    private static func aesGCM(encrypt: Bool, key: [UInt8], nonce: [UInt8], aad: [UInt8], _ input: [UInt8], tag: [UInt8]?) throws(CryptoError) -> (output: [UInt8], tag: [UInt8]) {
        OpenSSLErrors.clear()
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        // The default GCM IV length is 12 bytes, which is the nonce we use.
        guard EVP_CipherInit_ex(context, EVP_aes_256_gcm(), nil, key, nonce, encrypt ? 1 : 0) == 1 else { throw .openSSL("AES-256-GCM init") }
        var length: Int32 = 0
        if !aad.isEmpty {
            guard EVP_CipherUpdate(context, nil, &length, aad, Int32(aad.count)) == 1 else { throw .openSSL("AES-256-GCM associated data") }
        }
        var output = [UInt8](repeating: 0, count: input.count + 16)
        var written: Int32 = 0
        guard EVP_CipherUpdate(context, &output, &written, input, Int32(input.count)) == 1 else { throw .openSSL("AES-256-GCM update") }
        if var expected = tag {
            guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_SET_TAG, Int32(expected.count), &expected) == 1 else { throw .openSSL("AES-256-GCM set tag") }
        }
        var tail = [UInt8](repeating: 0, count: 16)
        var tailWritten: Int32 = 0
        guard EVP_CipherFinal_ex(context, &tail, &tailWritten) == 1 else { throw .openSSL("AES-256-GCM tag check", code: .authenticationFailed) }
        var result = Array(output.prefix(Int(written)))
        result += tail.prefix(Int(tailWritten))
        guard encrypt else { return (result, []) }
        var computed = [UInt8](repeating: 0, count: 16)
        guard EVP_CIPHER_CTX_ctrl(context, EVP_CTRL_GCM_GET_TAG, 16, &computed) == 1 else { throw .openSSL("AES-256-GCM get tag") }
        return (result, computed)
    }
}
