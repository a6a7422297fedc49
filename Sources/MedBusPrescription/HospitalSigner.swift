import Foundation
import MedBusCore
import MedBusCrypto

/// One hospital's signing identity: its SM2 key (PEM file named in the manifest), the certificate
/// pharmacies verify with, and the region whose pharmacies receive its prescriptions.
public struct HospitalSigningKey: Sendable {
    public var hospital: String
    /// Administrative division code of the pharmacies' topic `rx.available.<region>`.
    public var region: String
    /// Names the key in every signature, so a pharmacy picks the right certificate after a rotation.
    public var keyID: String
    public var privateKey: SM2PrivateKey
    /// The hospital's certificate (PEM), sent with every prescription; nil sends the public key instead.
    public var certificatePEM: String?

    public init(hospital: String, region: String, keyID: String, privateKey: SM2PrivateKey, certificatePEM: String? = nil) {
        self.hospital = hospital
        self.region = region
        self.keyID = keyID
        self.privateKey = privateKey
        self.certificatePEM = certificatePEM
    }

    /// What a pharmacy verifies with: the certificate if there is one, else the public key.
    var verificationMaterial: (String, JSONValue) {
        if let certificatePEM { ("certificate", .string(certificatePEM)) } else { ("publicKey", .string(privateKey.publicKey.pemRepresentation)) }
    }
}

/// Signs prescriptions: the SM3 digest and the SM2 signature (SM2-with-SM3, distinguishing id
/// `1234567812345678`, DER) over `RxCanonicalForm.bytes` of the prescription document.
public struct PrescriptionSigner: Sendable {
    public static let algorithm = "SM2-with-SM3"

    private let keys: [String: HospitalSigningKey]
    private let publicMaterial: [String: (String, JSONValue)]

    public init(keys: [HospitalSigningKey]) {
        self.keys = Dictionary(keys.map { ($0.hospital, $0) }, uniquingKeysWith: { _, last in last })
        self.publicMaterial = Dictionary(keys.map { ($0.keyID, $0.verificationMaterial) }, uniquingKeysWith: { _, last in last })
    }

    public var hospitals: [String] { keys.keys.sorted() }

    func key(for hospital: String) throws(RxProblem) -> HospitalSigningKey {
        guard let key = keys[hospital] else {
            throw RxProblem(.unknownHospital, "no signing key is configured for hospital \(hospital)", extras: [("hospital", .string(hospital))])
        }
        return key
    }

    /// The digest (hex) and signature (DER) of `document` under `key`.
    func sign(_ document: [UInt8], with key: HospitalSigningKey) throws(RxProblem) -> (digest: String, signature: [UInt8]) {
        let digest = SM3.digest(document)
        do {
            return (RxText.hex(digest), try key.privateKey.signature(for: document))
        } catch {
            throw RxProblem(.signingFailed, "SM2 signing with key \(key.keyID) failed: \(error)")
        }
    }

    /// The `signature` object of every answer: algorithm, key id, SM3 digest (hex), SM2 signature (base64 DER)
    /// and the certificate (or public key) of that key id.
    func signatureJSON(keyID: String, digest: String, signature: [UInt8]) -> JSONValue {
        var members: [(String, JSONValue)] = [
            ("algorithm", .string(Self.algorithm)), ("keyId", .string(keyID)), ("digest", .string(digest)),
            ("value", .string(Data(signature).base64EncodedString())),
        ]
        if let material = publicMaterial[keyID] { members.append(material) }
        return .object(members)
    }
}

/// Text helpers of the issuing path, which runs for every prescription (Foundation's `String(format:)` and
/// `trimmingCharacters` cost more there than the rest of validation).
enum RxText {
    static func hex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8]()
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// `text` without leading and trailing spaces (Unicode space separators) and tabs, as
    /// `trimmingCharacters(in: .whitespaces)`; `text` itself when there are none.
    static func trimmed(_ text: String) -> String {
        func isSpace(_ scalar: Unicode.Scalar) -> Bool { scalar == "\t" || scalar.properties.generalCategory == .spaceSeparator }
        let scalars = text.unicodeScalars
        guard let first = scalars.first, let last = scalars.last, isSpace(first) || isSpace(last) else { return text }
        guard let start = scalars.firstIndex(where: { !isSpace($0) }), let end = scalars.lastIndex(where: { !isSpace($0) }) else { return "" }
        return String(scalars[start...end])
    }

    /// `MessageEnvelope.formatTimestamp(date)` (RFC 3339, UTC, milliseconds: `2026-11-24T17:10:26.123Z`) in
    /// integer arithmetic: Foundation's ISO 8601 formatter cost more than the rest of a claim's event and answer.
    static func timestamp(_ date: Date) -> String {
        let milliseconds = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let seconds = floorDivision(milliseconds, 1000)
        let days = floorDivision(seconds, 86_400)
        let (year, month, day) = civilDate(daysSince1970: days)
        guard (1...9999).contains(year) else { return MessageEnvelope.formatTimestamp(date) }
        let second = seconds - days * 86_400
        var out = [UInt8]()
        out.reserveCapacity(24)
        func append(_ value: Int64, digits: Int, then separator: UInt8?) {
            var divisor: Int64 = 1
            for _ in 1..<digits { divisor *= 10 }
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8(value / divisor % 10))
                divisor /= 10
            }
            if let separator { out.append(separator) }
        }
        append(year, digits: 4, then: UInt8(ascii: "-"))
        append(month, digits: 2, then: UInt8(ascii: "-"))
        append(day, digits: 2, then: UInt8(ascii: "T"))
        append(second / 3600, digits: 2, then: UInt8(ascii: ":"))
        append(second / 60 % 60, digits: 2, then: UInt8(ascii: ":"))
        append(second % 60, digits: 2, then: UInt8(ascii: "."))
        append(milliseconds - seconds * 1000, digits: 3, then: UInt8(ascii: "Z"))
        return String(decoding: out, as: UTF8.self)
    }

    private static func floorDivision(_ value: Int64, _ divisor: Int64) -> Int64 {
        let (quotient, remainder) = value.quotientAndRemainder(dividingBy: divisor)
        return remainder < 0 ? quotient - 1 : quotient
    }

    /// The proleptic Gregorian date of a day count (H. Hinnant's `civil_from_days`).
    private static func civilDate(daysSince1970 days: Int64) -> (year: Int64, month: Int64, day: Int64) {
        let shifted = days + 719_468
        let era = floorDivision(shifted, 146_097)
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, dayOfYear - (153 * monthIndex + 2) / 5 + 1)
    }

    /// Base64url without padding (RFC 4648 §5).
    static func base64URL(_ bytes: [UInt8]) -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
        var out = [UInt8]()
        out.reserveCapacity((bytes.count * 4 + 2) / 3)
        var index = 0
        while index < bytes.count {
            let chunk = bytes[index..<min(index + 3, bytes.count)]
            var value = 0
            for (offset, byte) in chunk.enumerated() { value |= Int(byte) << (16 - 8 * offset) }
            for position in 0...chunk.count { out.append(alphabet[(value >> (18 - 6 * position)) & 0x3F]) }
            index += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}
