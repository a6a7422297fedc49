import COpenSSL

/// SM3 (GB/T 32905-2016), the national 256-bit hash.
public enum SM3 {
    public static let digestLength = 32

    public static func digest(_ bytes: some Sequence<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var output = [UInt8](repeating: 0, count: digestLength)
        var length: UInt32 = 0
        let ok = input.withUnsafeBytes { raw in
            EVP_Digest(raw.baseAddress, raw.count, &output, &length, EVP_sm3(), nil)
        }
        // EVP_sm3 is compiled into Debian's libcrypto; a failure here means a broken installation.
        precondition(ok == 1 && Int(length) == digestLength, "SM3 unavailable in this OpenSSL: \(OpenSSLErrors.drain())")
        return output
    }

    /// HMAC-SM3 (RFC 2104 with SM3), 32 bytes.
    public static func hmac(key: [UInt8], _ bytes: some Sequence<UInt8>) -> [UInt8] {
        let input = Array(bytes)
        var output = [UInt8](repeating: 0, count: digestLength)
        var length: UInt32 = 0
        let result = key.withUnsafeBytes { keyBytes in
            input.withUnsafeBytes { raw in
                HMAC(EVP_sm3(), keyBytes.baseAddress, Int32(keyBytes.count), raw.baseAddress?.assumingMemoryBound(to: UInt8.self), raw.count, &output, &length)
            }
        }
        precondition(result != nil && Int(length) == digestLength, "HMAC-SM3 unavailable in this OpenSSL: \(OpenSSLErrors.drain())")
        return output
    }
}
