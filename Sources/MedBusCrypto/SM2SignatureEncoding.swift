extension SM2 {
    /// Converts a DER `SEQUENCE { r INTEGER, s INTEGER }` signature to the 64-byte `r ‖ s` form
    /// many Chinese platform SDKs exchange (each half big-endian, left-padded to 32 bytes).
    public static func rawSignature(fromDER der: [UInt8]) throws(CryptoError) -> [UInt8] {
        let malformed = CryptoError(.invalidInput, "not a DER SM2 signature")
        guard der.count >= 8, der[0] == 0x30, Int(der[1]) == der.count - 2 else { throw malformed }
        var offset = 2
        var halves: [[UInt8]] = []
        for _ in 0..<2 {
            guard offset + 2 <= der.count, der[offset] == 0x02 else { throw malformed }
            let length = Int(der[offset + 1])
            offset += 2
            guard length >= 1, offset + length <= der.count else { throw malformed }
            let integer = Array(der[offset..<offset + length].drop { $0 == 0 })
            guard integer.count <= 32 else { throw malformed }
            halves.append([UInt8](repeating: 0, count: 32 - integer.count) + integer)
            offset += length
        }
        guard offset == der.count else { throw malformed }
        return halves[0] + halves[1]
    }

    /// The DER form of a 64-byte `r ‖ s` signature, for verification by OpenSSL.
    public static func derSignature(fromRaw raw: [UInt8]) throws(CryptoError) -> [UInt8] {
        guard raw.count == 64 else { throw CryptoError(.invalidInput, "a raw SM2 signature is 64 bytes, not \(raw.count)") }
        func integer(_ half: ArraySlice<UInt8>) -> [UInt8] {
            var bytes = Array(half.drop { $0 == 0 })
            if bytes.isEmpty || bytes[0] & 0x80 != 0 { bytes.insert(0, at: 0) }
            return [0x02, UInt8(bytes.count)] + bytes
        }
        let body = integer(raw[0..<32]) + integer(raw[32..<64])
        return [0x30, UInt8(body.count)] + body
    }
}
