import MedBusHTTPClient

/// Why an exchange with the insurance e-prescription centre failed. Texts carry operation names,
/// app ids, codes and the centre's messages, never prescription contents.
public enum RxCentreError: Error, Sendable, CustomStringConvertible, Equatable {
    /// Keys, secrets or URLs that cannot work (e.g. an appId shorter than 16 characters).
    case configuration(String)
    /// The envelope is not the JSON shape both sides agree on.
    case malformedEnvelope(String)
    /// `signData` does not verify with the sender's SM2 public key: tampered, or signed with
    /// another key or secret.
    case badSignature(String)
    /// `encData` does not decrypt to JSON with this appId's SM4 key: wrong appId or secret, or tampered.
    case decryptionFailed(String)
    /// The envelope's timestamp is too far from the receiver's clock (a replay or a wrong clock).
    case staleTimestamp(String)
    /// The centre refused our envelope before reading it (`code` ≠ 0 in its reply): unknown
    /// appId, bad signature, undecryptable data, stale timestamp. See `RxCentreEnvelope.Refusal`.
    case envelopeRefused(code: Int, message: String)
    /// The centre read the request and refused it (`infcode` ≠ 0): -1 system error, -2 business error.
    case refused(infcode: Int, message: String)
    /// The centre answered but its reply does not open (bad signature, undecryptable, stale,
    /// malformed): the request may have been acted on.
    case untrustedReply(String)
    /// No usable HTTP exchange. `mayHaveBeenSent` tells whether the centre may have acted.
    case transport(HTTPClientError)
    /// An HTTP status that carries no envelope.
    case httpStatus(Int)

    /// Whether the centre may have received and acted on the request: callers that must not upload
    /// twice query before retrying such failures.
    public var mayHaveBeenSent: Bool {
        switch self {
        case .configuration, .malformedEnvelope, .badSignature, .decryptionFailed, .staleTimestamp: false
        case .envelopeRefused: false
        case .refused, .untrustedReply: true
        case .transport(let error): error.mayHaveBeenSent
        case .httpStatus: true
        }
    }

    /// Whether the same call may succeed later, unchanged: the centre was unreachable or timed out,
    /// answered 5xx, 408 or 429, or reported a system error (`infcode` -1). Every other failure is a
    /// rejection that repeating the call cannot change.
    public var isTransient: Bool {
        switch self {
        case .transport: true
        case .httpStatus(let status): status >= 500 || status == 408 || status == 429
        case .refused(let infcode, _): infcode == -1
        case .configuration, .malformedEnvelope, .badSignature, .decryptionFailed, .staleTimestamp, .envelopeRefused, .untrustedReply: false
        }
    }

    /// A short, stable name of the failure (dead-letter reasons, the centre status of a prescription).
    public var reasonCode: String {
        switch self {
        case .configuration: "centre-configuration"
        case .malformedEnvelope: "centre-input-invalid"
        case .badSignature, .decryptionFailed, .staleTimestamp, .untrustedReply: "centre-reply-untrusted"
        case .envelopeRefused: "centre-envelope-refused"
        case .refused: "centre-refused"
        case .transport: "centre-unreachable"
        case .httpStatus: "centre-http-status"
        }
    }

    public var description: String {
        switch self {
        case .configuration(let reason): "e-prescription centre configuration: \(reason)"
        case .malformedEnvelope(let reason): "malformed e-prescription envelope: \(reason)"
        case .badSignature(let reason): "e-prescription envelope signature invalid: \(reason)"
        case .decryptionFailed(let reason): "e-prescription envelope does not decrypt: \(reason)"
        case .staleTimestamp(let reason): "e-prescription envelope timestamp rejected: \(reason)"
        case .envelopeRefused(let code, let message): "e-prescription centre refused the envelope (code \(code)): \(message)"
        case .refused(let infcode, let message): "e-prescription centre refused the request (infcode \(infcode)): \(message)"
        case .untrustedReply(let reason): "e-prescription centre reply rejected (the request may have been processed): \(reason)"
        case .transport(let error): "e-prescription centre unreachable: \(error)"
        case .httpStatus(let status): "e-prescription centre answered HTTP \(status) without an envelope"
        }
    }

    public static func == (lhs: RxCentreError, rhs: RxCentreError) -> Bool { lhs.description == rhs.description }
}
