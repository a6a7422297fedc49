import COpenSSL

/// SM4 (GB/T 32907-2016), the national 128-bit block cipher, in the unauthenticated modes
/// counterparties specify. Both modes pad with PKCS#7. These modes give confidentiality only:
/// pair them with a signature (as the e-prescription envelope does) or use `PayloadKeyring`.
public enum SM4 {
    public static let keyLength = 16
    public static let blockLength = 16

    public static func encryptCBC(_ plain: [UInt8], key: [UInt8], iv: [UInt8]) throws(CryptoError) -> [UInt8] {
        try requireIV(iv)
        return try SymmetricCipher.run(EVP_sm4_cbc(), name: "SM4-CBC", encrypt: true, key: key, iv: iv, padding: true, plain)
    }

    public static func decryptCBC(_ cipher: [UInt8], key: [UInt8], iv: [UInt8]) throws(CryptoError) -> [UInt8] {
        try requireIV(iv)
        return try SymmetricCipher.run(EVP_sm4_cbc(), name: "SM4-CBC", encrypt: false, key: key, iv: iv, padding: true, cipher)
    }

    public static func encryptECB(_ plain: [UInt8], key: [UInt8]) throws(CryptoError) -> [UInt8] {
        try SymmetricCipher.run(EVP_sm4_ecb(), name: "SM4-ECB", encrypt: true, key: key, iv: nil, padding: true, plain)
    }

    public static func decryptECB(_ cipher: [UInt8], key: [UInt8]) throws(CryptoError) -> [UInt8] {
        try SymmetricCipher.run(EVP_sm4_ecb(), name: "SM4-ECB", encrypt: false, key: key, iv: nil, padding: true, cipher)
    }

    /// One block, no padding: what the standard's test vector specifies.
    public static func encryptBlock(_ block: [UInt8], key: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard block.count == blockLength else { throw CryptoError(.invalidInput, "an SM4 block is 16 bytes, not \(block.count)") }
        return try SymmetricCipher.run(EVP_sm4_ecb(), name: "SM4-ECB", encrypt: true, key: key, iv: nil, padding: false, block)
    }

    private static func requireIV(_ iv: [UInt8]) throws(CryptoError) {
        guard iv.count == blockLength else { throw CryptoError(.invalidInput, "an SM4-CBC IV is 16 bytes, not \(iv.count)") }
    }
}

/// One-shot `EVP_Cipher*` for the unauthenticated modes (SM4 ECB/CBC/CTR).
enum SymmetricCipher {
    static func run(_ cipher: OpaquePointer?, name: String, encrypt: Bool, key: [UInt8], iv: [UInt8]?, padding: Bool, _ input: [UInt8]) throws(CryptoError) -> [UInt8] {
        OpenSSLErrors.clear()
        guard let cipher else { throw .openSSL("\(name) is not available in this OpenSSL") }
        guard Int(EVP_CIPHER_get_key_length(cipher)) == key.count else {
            throw CryptoError(.invalidInput, "a \(name) key is \(EVP_CIPHER_get_key_length(cipher)) bytes, not \(key.count)")
        }
        guard let context = EVP_CIPHER_CTX_new() else { throw .openSSL("EVP_CIPHER_CTX_new") }
        defer { EVP_CIPHER_CTX_free(context) }
        guard EVP_CipherInit_ex(context, cipher, nil, key, iv, encrypt ? 1 : 0) == 1 else { throw .openSSL("\(name) init") }
        EVP_CIPHER_CTX_set_padding(context, padding ? 1 : 0)
        var output = [UInt8](repeating: 0, count: input.count + Int(EVP_CIPHER_get_block_size(cipher)))
        var written: Int32 = 0
        var finalWritten: Int32 = 0
        let ok = output.withUnsafeMutableBufferPointer { out -> Bool in
            guard EVP_CipherUpdate(context, out.baseAddress, &written, input, Int32(input.count)) == 1 else { return false }
            return EVP_CipherFinal_ex(context, out.baseAddress! + Int(written), &finalWritten) == 1
        }
        guard ok else {
            // A bad final block on decryption means wrong key or corrupted bytes, not an OpenSSL fault.
            throw .openSSL("\(name) \(encrypt ? "encryption" : "decryption") (wrong key or corrupted data)", code: encrypt ? .openSSL : .invalidInput)
        }
        return Array(output.prefix(Int(written + finalWritten)))
    }
}
