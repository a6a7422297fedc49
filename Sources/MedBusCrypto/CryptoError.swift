import COpenSSL

/// Why a cryptographic operation failed. `reason` says what we were doing and, when OpenSSL
/// refused, OpenSSL's own error text; it never contains key material or plaintext.
public struct CryptoError: Error, Sendable, CustomStringConvertible, Equatable {
    public enum Code: Sendable, Equatable {
        /// A key, certificate or PEM text could not be read, or is not of the expected kind.
        case invalidKey
        /// An argument has the wrong size or shape (key length, IV length, sealed-payload framing).
        case invalidInput
        /// Authenticated decryption failed: wrong key, wrong associated data, or tampered bytes.
        case authenticationFailed
        /// A sealed payload names a key id the keyring does not hold.
        case unknownKeyID
        /// A keyring file or environment variable is missing or malformed.
        case keyringConfiguration
        /// OpenSSL failed an operation that should not fail on valid input.
        case openSSL
    }

    public var code: Code
    public var reason: String

    public init(_ code: Code, _ reason: String) {
        self.code = code
        self.reason = reason
    }

    public var description: String { reason }

    /// An error carrying OpenSSL's queued error text (which is then cleared).
    static func openSSL(_ what: String, code: Code = .openSSL) -> CryptoError {
        CryptoError(code, "\(what): \(OpenSSLErrors.drain())")
    }
}

/// OpenSSL reports failures through a per-thread error queue: it is cleared before each
/// operation and drained right after a failure, so one caller's stale error is never blamed on
/// another (event-loop threads serve many connections; MedBusTLS uses it too).
package enum OpenSSLErrors {
    package static func clear() {
        ERR_clear_error()
    }

    /// Empties the queue and returns its entries as one line, oldest first, or a placeholder
    /// when OpenSSL left no entry. The text names OpenSSL's reason, never data bytes.
    package static func drain() -> String {
        var entries: [String] = []
        while case let code = ERR_get_error(), code != 0 {
            var text = [CChar](repeating: 0, count: 256)
            ERR_error_string_n(code, &text, text.count)
            entries.append(String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))
        }
        return entries.isEmpty ? "no OpenSSL error recorded" : entries.joined(separator: "; ")
    }
}
