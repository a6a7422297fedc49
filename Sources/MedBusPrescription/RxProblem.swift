import MedBusCore

/// Why a prescription operation was refused: one kind per cause, each with its HTTP status and the
/// problem type a client switches on (`https://medbus.example/problems/rx/<code>`). The same value
/// is the HTTP answer (application/problem+json), the Kafka command result and the dead-letter
/// reason of a prescription the HIS sent. Details name fields, codes and ids, never patient values.
public struct RxProblem: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Kind: String, Sendable, CaseIterable, Error {
        // Input
        case invalidJSON = "invalid-json"
        case missingField = "missing-field"
        case invalidField = "invalid-field"
        case unknownHospital = "unknown-hospital"
        case unknownDrugCode = "unknown-drug-code"
        case invalidQuantity = "invalid-quantity"
        case invalidValidity = "invalid-validity"
        case invalidAmount = "invalid-amount"
        case drugNotPrescribed = "drug-not-prescribed"
        case quantityExceedsPrescription = "quantity-exceeds-prescription"
        // Identity and lookup
        case forbidden = "forbidden"
        case notFound = "not-found"
        case duplicatePrescription = "duplicate-prescription"
        // Lifecycle
        case claimedByOther = "claimed-by-other"
        case notClaimHolder = "not-claim-holder"
        case notClaimed = "not-claimed"
        case reviewRequired = "review-required"
        case alreadyReviewed = "already-reviewed"
        case alreadyDispensed = "already-dispensed"
        case expired = "expired"
        case revoked = "revoked"
        // Ours
        case signingFailed = "signing-failed"
        case storeFailed = "store-failed"

        public var httpStatus: Int {
            switch self {
            case .invalidJSON: 400
            case .missingField, .invalidField, .unknownHospital, .unknownDrugCode, .invalidQuantity, .invalidValidity,
                 .invalidAmount, .drugNotPrescribed, .quantityExceedsPrescription: 422
            case .forbidden: 403
            case .notFound: 404
            case .duplicatePrescription, .claimedByOther, .notClaimHolder, .notClaimed, .reviewRequired, .alreadyReviewed,
                 .alreadyDispensed: 409
            case .expired, .revoked: 410
            case .signingFailed, .storeFailed: 500
            }
        }

        public var title: String {
            switch self {
            case .invalidJSON: "The body is not valid JSON"
            case .missingField: "A required field is missing"
            case .invalidField: "A field has a value it cannot have"
            case .unknownHospital: "No signing key is configured for this hospital"
            case .unknownDrugCode: "A drug is not in the circulation drug code table"
            case .invalidQuantity: "A quantity is not a positive number"
            case .invalidValidity: "The prescription's validity does not end in the future"
            case .invalidAmount: "An amount is not a decimal with at most two fraction digits"
            case .drugNotPrescribed: "A dispensed drug is not on the prescription"
            case .quantityExceedsPrescription: "More of a drug was dispensed than prescribed"
            case .forbidden: "The client certificate does not name the pharmacy or hospital the request acts for"
            case .notFound: "No such prescription"
            case .duplicatePrescription: "The hospital already issued a different prescription with this number"
            case .claimedByOther: "Another pharmacy holds the claim on this prescription"
            case .notClaimHolder: "This pharmacy does not hold the claim on this prescription"
            case .notClaimed: "The prescription must be claimed first"
            case .reviewRequired: "The pharmacist's review must approve the prescription before dispensing"
            case .alreadyReviewed: "The prescription has already been reviewed"
            case .alreadyDispensed: "The prescription has already been dispensed"
            case .expired: "The prescription has expired"
            case .revoked: "The hospital has revoked the prescription"
            case .signingFailed: "The prescription could not be signed"
            case .storeFailed: "The prescription store failed"
            }
        }
    }

    public var kind: Kind
    public var detail: String
    /// Extra members of the problem body (`holder`, `status`, `field`, `line`…).
    public var extras: [(String, JSONValue)]

    public init(_ kind: Kind, _ detail: String, extras: [(String, JSONValue)] = []) {
        self.kind = kind
        self.detail = detail
        self.extras = extras
    }

    public static let typeBase = "https://medbus.example/problems/rx/"

    public var type: String { Self.typeBase + kind.rawValue }
    public var description: String { "\(kind.rawValue): \(detail)" }

    /// The RFC 9457 body: `type`, `title`, `status`, `detail`, then the extras.
    public var json: JSONValue {
        .object([("type", .string(type)), ("title", .string(kind.title)), ("status", .int(kind.httpStatus)),
                 ("detail", .string(detail))] + extras)
    }

    public static func == (lhs: RxProblem, rhs: RxProblem) -> Bool {
        lhs.kind == rhs.kind && lhs.detail == rhs.detail && JSONValue.object(lhs.extras) == JSONValue.object(rhs.extras)
    }
}
