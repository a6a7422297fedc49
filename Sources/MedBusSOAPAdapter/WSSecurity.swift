import COpenSSL
import Foundation
import MedBusAdapterSDK
import NIOConcurrencyHelpers

/// A WS-Security `UsernameToken` as read from the SOAP Header (OASIS Username Token Profile 1.0).
struct UsernameToken: Sendable, Equatable {
    var username: String?
    var password: String?
    /// `Password/@Type`: `…#PasswordText` (the default) or `…#PasswordDigest`.
    var passwordType: String?
    var nonce: String?
    var nonceEncoding: String?
    var created: String?
}

/// Checks UsernameTokens against the users of a credentials file: `PasswordText`, and
/// `PasswordDigest` = Base64(SHA-1(nonce + created + password)), with `Created` inside a freshness
/// window and each nonce accepted once within it (a replayed request is refused).
///
/// The file holds one `username:password` per line (`#` starts a comment). Passwords and nonces
/// are never logged or echoed; an unknown user and a wrong password get the same answer.
final class WSSecurity: Sendable {
    static let passwordDigest = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"

    private let users: [String: String]
    /// How far `Created` may be from now, either way (clock skew included).
    private let window: TimeInterval
    /// `username|nonce` → when it may be forgotten (after `Created` could no longer be fresh).
    private let seenNonces = NIOLockedValueBox<[String: Date]>([:])

    /// - Throws: `ManifestError` when the file cannot be read or names no user.
    init(credentialsFile: String, windowSeconds: Int, manifestFile: String) throws {
        guard let data = FileManager.default.contents(atPath: credentialsFile) else {
            throw ManifestError(file: manifestFile, message: "options.wsSecurityUsers: cannot read \(credentialsFile)")
        }
        var users: [String: String] = [:]
        for line in String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline) {
            let entry = line.trimmingCharacters(in: .whitespaces)
            guard !entry.isEmpty, !entry.hasPrefix("#"), let colon = entry.firstIndex(of: ":") else { continue }
            users[String(entry[..<colon])] = String(entry[entry.index(after: colon)...])
        }
        guard !users.isEmpty else { throw ManifestError(file: manifestFile, message: "options.wsSecurityUsers: \(credentialsFile) names no user (lines username:password)") }
        self.users = users
        self.window = TimeInterval(windowSeconds)
    }

    /// - Returns: nil when the token authenticates a user, else why not (safe to send back).
    func refusal(of token: UsernameToken?, now: Date = Date()) -> String? {
        guard let token, let username = token.username, let password = token.password else {
            return "a WS-Security UsernameToken with Username and Password is required"
        }
        var created: Date?
        if let text = token.created {
            guard let date = Self.parseTimestamp(text) else { return "UsernameToken Created is not an xsd:dateTime" }
            guard abs(date.timeIntervalSince(now)) <= window else { return "UsernameToken Created is outside the freshness window of \(Int(window)) s" }
            created = date
        }
        var nonce: [UInt8]?
        if let text = token.nonce {
            guard token.nonceEncoding == nil || token.nonceEncoding!.hasSuffix("#Base64Binary"), let bytes = Data(base64Encoded: text) else {
                return "UsernameToken Nonce is not Base64Binary"
            }
            nonce = Array(bytes)
        }

        let expected = users[username]
        let authentic: Bool
        if token.passwordType == Self.passwordDigest {
            guard let nonce, let createdText = token.created, created != nil else { return "PasswordDigest requires Nonce and Created" }
            let digest = Data(Self.sha1(nonce + Array(createdText.utf8) + Array((expected ?? "").utf8))).base64EncodedString()
            authentic = expected != nil && Self.constantTimeEqual(digest, password)
        } else {
            authentic = expected != nil && Self.constantTimeEqual(expected!, password)
        }
        guard authentic else { return "unknown user or wrong password" }

        // A nonce is remembered only once the token authenticated, so strangers cannot use up nonces.
        guard let nonceText = token.nonce else { return nil }
        let key = "\(username)|\(nonceText)"
        let replayed = seenNonces.withLockedValue { seen -> Bool in
            seen = seen.filter { $0.value > now }
            if seen[key] != nil { return true }
            seen[key] = (created ?? now).addingTimeInterval(window * 2)
            return false
        }
        return replayed ? "UsernameToken Nonce already used (replayed request)" : nil
    }

    private static func parseTimestamp(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let date = formatter.date(from: text) { return date }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: text)
    }

    static func sha1(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        guard EVP_Digest(bytes, bytes.count, &digest, &length, EVP_sha1(), nil) == 1 else { return [] }
        return Array(digest.prefix(Int(length)))
    }

    private static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        return CRYPTO_memcmp(x, y, x.count) == 0
    }
}
