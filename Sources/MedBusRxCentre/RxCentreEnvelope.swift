import Foundation
import MedBusCore
import MedBusCrypto

/// The e-prescription centre's envelope (DOMAIN.md §2):
/// `{appId, encType:"SM4", signType:"SM2", timestamp, encData, signData}`, the same shape both
/// ways; replies add `code` and `message`.
///
/// How the fields are made, following the public SDKs of the national insurance service platform
/// family the centre belongs to (the exact rules are **[UNCONFIRMED]** for any one province;
/// each is a single function here):
/// - **SM4 key**: SM4-ECB/PKCS#7 encrypt the UTF-8 `appSecret` under the first 16 bytes of the
///   `appId`; the key is the ASCII of the first 16 characters of that ciphertext in upper-case hex.
/// - **encData**: the business JSON, compact, every non-ASCII character written as `\uXXXX`,
///   SM4-ECB/PKCS#7-encrypted under that key, upper-case hex.
/// - **signData**: base64 of the 64-byte `r ‖ s` SM2-with-SM3 signature (default id
///   `1234567812345678`) over the signing string: every envelope field except `encData`,
///   `signData` and `extra`, plus `data` = the business JSON in canonical form, as `name=value`
///   sorted by name and joined with `&`, then `&key=<appSecret>`. Canonical form: keys sorted at
///   every level; at the top level numbers and booleans become strings and null, "" and []
///   members are dropped. Empty envelope fields are left out.
/// - **timestamp**: milliseconds since 1970 as decimal text.
public struct RxCentreEnvelope: Sendable, Equatable {
    /// The signed envelope fields (everything but `encData` and `signData`), in sending order.
    public var fields: [(String, String)]
    public var encData: String
    public var signData: String

    public static func == (lhs: RxCentreEnvelope, rhs: RxCentreEnvelope) -> Bool {
        lhs.encData == rhs.encData && lhs.signData == rhs.signData && lhs.fields.elementsEqual(rhs.fields) { $0 == $1 }
    }

    public func field(_ name: String) -> String? { fields.first { $0.0 == name }?.1 }
    public var appId: String { field("appId") ?? "" }
    public var timestamp: String { field("timestamp") ?? "" }
    /// Replies only: 0 when the centre read the envelope (the outcome is then `infcode` in the data).
    public var code: Int? { field("code").flatMap { Int($0) } }

    public var json: JSONValue {
        var members = fields.map { name, value -> (String, JSONValue) in
            // `code` travels as a number, like the platforms' replies.
            if name == "code", let number = Int(value) { return (name, .int(number)) }
            return (name, .string(value))
        }
        if !encData.isEmpty { members.append(("encData", .string(encData))) }
        if !signData.isEmpty { members.append(("signData", .string(signData))) }
        return .object(members)
    }

    public init(fields: [(String, String)], encData: String, signData: String) {
        self.fields = fields
        self.encData = encData
        self.signData = signData
    }

    /// - Throws: `.malformedEnvelope` naming the problem.
    public init(json: JSONValue) throws(RxCentreError) {
        guard case .object(let members) = json else { throw .malformedEnvelope("not a JSON object") }
        var fields: [(String, String)] = []
        var encData = "", signData = ""
        for (name, value) in members {
            guard let text = value.scalarText else {
                if value.isNull || name == "extra" { continue }
                throw .malformedEnvelope("field '\(name)' is not a string or number")
            }
            switch name {
            case "encData": encData = text
            case "signData": signData = text
            case "extra": continue
            default: fields.append((name, text))
            }
        }
        self.init(fields: fields, encData: encData, signData: signData)
    }

    public init(bytes: [UInt8]) throws(RxCentreError) {
        let json: JSONValue
        do { json = try JSONValue.parse(bytes) } catch { throw .malformedEnvelope("\(error)") }
        try self.init(json: json)
    }

    /// A refusal of an envelope that could not be read: no data, no signature (the refusing side
    /// may not know the sender's secret).
    public static func refusal(_ refusal: Refusal, message: String, appId: String, now: Date = Date()) -> RxCentreEnvelope {
        RxCentreEnvelope(fields: [("appId", appId), ("timestamp", RxCentreSession.timestamp(now)), ("code", "\(refusal.rawValue)"), ("message", message)], encData: "", signData: "")
    }

    /// The envelope-level refusal codes of the reference centre (`code` in its replies).
    public enum Refusal: Int, Sendable, CaseIterable {
        case malformed = 4000
        case unknownAppID = 4001
        case badSignature = 4002
        case decryptionFailed = 4003
        case staleTimestamp = 4004
    }
}

/// One side of an appId's conversation: the appId and its secret, our SM2 key, and the other
/// side's public key. The hospital (client) holds its key and the centre's public key; the centre
/// holds its key and each hospital's public key.
public struct RxCentreSession: Sendable {
    public let appId: String
    private let appSecret: String
    private let sm4Key: [UInt8]
    private let ownKey: SM2PrivateKey
    private let peerKey: SM2PublicKey
    /// How far an envelope's timestamp may be from our clock.
    public var maxClockSkew: Duration

    public init(appId: String, appSecret: String, ownKey: SM2PrivateKey, peerKey: SM2PublicKey, maxClockSkew: Duration = .seconds(300)) throws(RxCentreError) {
        self.appId = appId
        self.appSecret = appSecret
        self.sm4Key = try Self.deriveSM4Key(appId: appId, appSecret: appSecret)
        self.ownKey = ownKey
        self.peerKey = peerKey
        self.maxClockSkew = maxClockSkew
    }

    /// Encrypts and signs `data` (the business JSON) into an envelope.
    public func seal(_ data: JSONValue, extraFields: [(String, String)] = [], now: Date = Date()) throws(RxCentreError) -> RxCentreEnvelope {
        let fields = [("appId", appId), ("encType", "SM4"), ("signType", "SM2"), ("timestamp", Self.timestamp(now))] + extraFields
        let encrypted: [UInt8]
        let signature: [UInt8]
        do {
            encrypted = try SM4.encryptECB(Self.asciiJSON(data), key: sm4Key)
            signature = try SM2.rawSignature(fromDER: ownKey.signature(for: signingString(fields: fields, data: data)))
        } catch {
            throw .configuration("sealing failed: \(error)")
        }
        return RxCentreEnvelope(fields: fields, encData: Self.upperHex(encrypted), signData: Data(signature).base64EncodedString())
    }

    /// Checks the appId and timestamp, decrypts `encData` and verifies `signData` against the
    /// decrypted data; returns the business JSON.
    /// - Throws: `.malformedEnvelope`, `.staleTimestamp`, `.decryptionFailed`, `.badSignature`.
    public func open(_ envelope: RxCentreEnvelope, now: Date = Date()) throws(RxCentreError) -> JSONValue {
        guard envelope.appId == appId else { throw .malformedEnvelope("appId '\(envelope.appId)' is not '\(appId)'") }
        guard envelope.field("encType") == "SM4", envelope.field("signType") == "SM2" else {
            throw .malformedEnvelope("encType must be SM4 and signType SM2")
        }
        guard let milliseconds = Int64(envelope.timestamp) else { throw .malformedEnvelope("timestamp '\(envelope.timestamp)' is not milliseconds") }
        let skew = abs(Int64(now.timeIntervalSince1970 * 1000) - milliseconds)
        guard Duration.milliseconds(skew) <= maxClockSkew else {
            throw .staleTimestamp("\(skew) ms from our clock; at most \(maxClockSkew.components.seconds) s allowed")
        }
        guard let cipher = Self.bytes(hex: envelope.encData), !cipher.isEmpty else { throw .malformedEnvelope("encData is not hexadecimal") }
        let data: JSONValue
        do {
            data = try JSONValue.parse(SM4.decryptECB(cipher, key: sm4Key))
        } catch {
            throw .decryptionFailed("with appId '\(appId)'s key (wrong appId or secret, or altered encData)")
        }
        guard let signature = Data(base64Encoded: envelope.signData), let der = try? SM2.derSignature(fromRaw: Array(signature)) else {
            throw .badSignature("signData is not a base64 64-byte SM2 signature")
        }
        guard peerKey.isValidSignature(der, for: signingString(fields: envelope.fields, data: data)) else {
            throw .badSignature("does not verify with the \(appId) peer's public key")
        }
        return data
    }

    func signingString(fields: [(String, String)], data: JSONValue) -> [UInt8] {
        var pairs = fields.filter { !$0.1.isEmpty && $0.0 != "data" }
        pairs.append(("data", Self.canonicalData(data).jsonText))
        pairs.sort { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }
        let text = pairs.map { "\($0.0)=\($0.1)" }.joined(separator: "&") + "&key=\(appSecret)"
        return Array(text.utf8)
    }

    static func deriveSM4Key(appId: String, appSecret: String) throws(RxCentreError) -> [UInt8] {
        let id = Array(appId.utf8)
        guard id.count >= 16 else { throw .configuration("appId '\(appId)' is shorter than the 16 bytes its SM4 key derivation needs") }
        guard !appSecret.isEmpty else { throw .configuration("appSecret of '\(appId)' is empty") }
        do {
            let cipher = try SM4.encryptECB(Array(appSecret.utf8), key: Array(id.prefix(16)))
            return Array(upperHex(cipher).utf8.prefix(16))
        } catch {
            throw .configuration("SM4 key derivation: \(error)")
        }
    }

    static func canonicalData(_ data: JSONValue) -> JSONValue {
        guard case .object(let members) = data else { return sortedKeys(data) }
        let kept = members.compactMap { name, value -> (String, JSONValue)? in
            switch value {
            case .null, .string(""), .array([]): return nil
            case .number(let text): return (name, .string(text))
            case .bool(let flag): return (name, .string(flag ? "true" : "false"))
            default: return (name, sortedKeys(value))
            }
        }
        return .object(kept.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
    }

    private static func sortedKeys(_ value: JSONValue) -> JSONValue {
        switch value {
        case .object(let members): .object(members.map { ($0.0, sortedKeys($0.1)) }.sorted { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) })
        case .array(let elements): .array(elements.map(sortedKeys))
        default: value
        }
    }

    /// Compact JSON with every non-ASCII character as `\uXXXX` (UTF-16 units), as the SDKs send it.
    static func asciiJSON(_ data: JSONValue) -> [UInt8] {
        let compact = data.jsonBytes
        guard compact.contains(where: { $0 >= 0x80 }) else { return compact }
        var out: [UInt8] = []
        out.reserveCapacity(compact.count * 2)
        for scalar in String(decoding: compact, as: UTF8.self).unicodeScalars {
            if scalar.isASCII {
                out.append(UInt8(scalar.value))
            } else {
                for unit in String(scalar).utf16 {
                    out += Array(String(format: "\\u%04x", unit).utf8)
                }
            }
        }
        return out
    }

    static func timestamp(_ date: Date) -> String { String(Int64((date.timeIntervalSince1970 * 1000).rounded())) }

    static func upperHex(_ bytes: [UInt8]) -> String {
        let digits = Array("0123456789ABCDEF".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count * 2)
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    static func bytes(hex: String) -> [UInt8]? {
        let digits = Array(hex.utf8)
        guard digits.count % 2 == 0 else { return nil }
        func value(_ digit: UInt8) -> UInt8? {
            switch digit {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(digits.count / 2)
        var index = 0
        while index < digits.count {
            guard let high = value(digits[index]), let low = value(digits[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }
}
