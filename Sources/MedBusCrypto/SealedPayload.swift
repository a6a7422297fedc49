/// A payload sealed by `PayloadKeyring`: which key and algorithm, the nonce, the ciphertext and
/// the authentication tag. `combined` is the self-describing binary form stored at rest.
public struct SealedPayload: Sendable, Equatable {
    public enum Algorithm: UInt8, Sendable, CaseIterable {
        /// AES-256-GCM, 12-byte random nonce, 16-byte tag.
        case aes256gcm = 1
        /// SM4-CTR then HMAC-SM3 over everything (encrypt-then-MAC), 16-byte random IV, 32-byte
        /// tag. The 32-byte key splits into the SM4 key and the MAC key. This stands in for
        /// SM4-GCM, which Debian's OpenSSL 3.0 lacks (it arrived in OpenSSL 3.2).
        case sm4ctrHMACSM3 = 2

        /// The spelling in configuration (`MEDBUS_PAYLOAD_ALGORITHM`).
        public var name: String {
            switch self {
            case .aes256gcm: "aes-256-gcm"
            case .sm4ctrHMACSM3: "sm4-ctr-hmac-sm3"
            }
        }

        public init?(name: String) {
            guard let match = Self.allCases.first(where: { $0.name == name.lowercased() }) else { return nil }
            self = match
        }
    }

    public var keyID: String
    public var algorithm: Algorithm
    public var nonce: [UInt8]
    public var ciphertext: [UInt8]
    public var tag: [UInt8]

    public init(keyID: String, algorithm: Algorithm, nonce: [UInt8], ciphertext: [UInt8], tag: [UInt8]) {
        self.keyID = keyID
        self.algorithm = algorithm
        self.nonce = nonce
        self.ciphertext = ciphertext
        self.tag = tag
    }

    static let formatVersion: UInt8 = 1

    /// `version(1) algorithm(1) idLength(1) keyID nonceLength(1) nonce tagLength(1) tag ciphertext`.
    public var combined: [UInt8] {
        let id = Array(keyID.utf8)
        var bytes: [UInt8] = [Self.formatVersion, algorithm.rawValue, UInt8(id.count)]
        bytes.reserveCapacity(6 + id.count + nonce.count + tag.count + ciphertext.count)
        bytes += id
        bytes.append(UInt8(nonce.count))
        bytes += nonce
        bytes.append(UInt8(tag.count))
        bytes += tag
        bytes += ciphertext
        return bytes
    }

    public init(combined bytes: some Collection<UInt8>) throws(CryptoError) {
        var reader = ByteReader(Array(bytes))
        guard let version = reader.byte(), version == Self.formatVersion else {
            throw CryptoError(.invalidInput, "not a sealed payload (unknown format version)")
        }
        guard let rawAlgorithm = reader.byte(), let algorithm = Algorithm(rawValue: rawAlgorithm) else {
            throw CryptoError(.invalidInput, "sealed payload names an unknown algorithm")
        }
        guard let id = reader.counted(), !id.isEmpty, let nonce = reader.counted(), let tag = reader.counted() else {
            throw CryptoError(.invalidInput, "sealed payload is truncated")
        }
        self.init(keyID: String(decoding: id, as: UTF8.self), algorithm: algorithm, nonce: nonce, ciphertext: reader.rest(), tag: tag)
    }
}

private struct ByteReader {
    let bytes: [UInt8]
    var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    mutating func byte() -> UInt8? {
        guard offset < bytes.count else { return nil }
        defer { offset += 1 }
        return bytes[offset]
    }

    /// A one-byte length and that many bytes.
    mutating func counted() -> [UInt8]? {
        guard let length = byte(), offset + Int(length) <= bytes.count else { return nil }
        defer { offset += Int(length) }
        return Array(bytes[offset..<offset + Int(length)])
    }

    func rest() -> [UInt8] { Array(bytes[offset...]) }
}
