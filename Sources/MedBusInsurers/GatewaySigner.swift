import Foundation
import MedBusCore

/// The optional gateway headers `x-tif-paasid`, `x-tif-timestamp`, `x-tif-nonce`,
/// `x-tif-signature` **[UNCONFIRMED for Shandong]**: whether they are required, and how the
/// signature is computed, varies by deployment, so the scheme is named in the manifest.
public struct GatewaySigner: Sendable, Equatable {
    public enum Scheme: String, Sendable, CaseIterable {
        /// lowercase hex SHA-256 of `timestamp + secret + nonce + timestamp` (the scheme seen in
        /// public code for some provinces' gateways).
        case sha256TimestampSecretNonce = "sha256(timestamp+secret+nonce+timestamp)"
    }

    public var paasid: String
    public var secret: String
    public var scheme: Scheme

    public init(paasid: String, secret: String, scheme: Scheme = .sha256TimestampSecretNonce) {
        self.paasid = paasid
        self.secret = secret
        self.scheme = scheme
    }

    /// Headers for one request; `timestamp` is Unix seconds.
    public func headers(timestamp: Int = Int(Date().timeIntervalSince1970), nonce: String = UUID().uuidString.lowercased().replacingOccurrences(of: "-", with: "")) -> [(String, String)] {
        let signature: String = switch scheme {
        case .sha256TimestampSecretNonce: SHA256.hex(Array("\(timestamp)\(secret)\(nonce)\(timestamp)".utf8))
        }
        return [("x-tif-paasid", paasid), ("x-tif-timestamp", "\(timestamp)"), ("x-tif-nonce", nonce), ("x-tif-signature", signature)]
    }
}
