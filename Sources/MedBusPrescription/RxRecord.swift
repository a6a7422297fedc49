import Foundation
import MedBusCore

/// A prescription as the store holds it: the signed document (immutable) and its lifecycle state.
public struct RxRecord: Sendable {
    public var id: String
    public var fixmedinsCode: String
    public var hospRxno: String
    /// 20 characters, printed on the patient's slip; what a pharmacy looks the prescription up by.
    public var traceCode: String
    /// The QR code's token (`epc_token`), the other way to look it up.
    public var qrToken: String
    public var region: String
    public var status: RxStatus
    /// The pharmacy holding the claim (claimed, reviewed).
    public var holder: String?
    public var leaseUntil: Date?
    public var validityEnd: Date
    public var maxReptCnt: Int
    /// Dispenses so far (a repeat prescription returns to valid until it reaches maxReptCnt).
    public var usedCount: Int
    /// Transitions so far, counting the issue as 1: event ids are `<rxId>-<version>`.
    public var version: Int
    /// `RxCanonicalForm` bytes of the prescription: exactly what was digested and signed.
    public var document: [UInt8]
    /// SM3 of `document`, hex.
    public var digest: String
    /// SM2 signature of `document`, DER.
    public var signature: [UInt8]
    public var keyID: String
    /// The review of the current claim, if any.
    public var review: JSONValue?
    /// Every dispense report, oldest first.
    public var dispenses: [JSONValue]
    public var createdAt: Date
    public var updatedAt: Date
    /// What the insurance e-prescription centre knows of it (nil: not forwarded, or no centre for its hospital).
    public var centre: RxCentreState? = nil

    /// What time alone does to the record at `now`, before anything asked of it: the validity ends
    /// (expire) or the claim's lease runs out (lapse).
    func dueTransition(at now: Date) -> RxRequest? {
        if !status.isFinal, validityEnd <= now { return .expire }
        if status.isClaimed, let leaseUntil, leaseUntil <= now { return .lapse }
        return nil
    }

    /// The record after its `dueTransition`, if one is due (time never dispenses: no prescription needed).
    func applyingDueTransition(at now: Date, lease: Duration) -> (RxRecord, RxTransition)? {
        guard let due = dueTransition(at: now) else { return nil }
        return try? applying(due, at: now, lease: lease, prescription: { .null })
    }

    /// The record after `request`, with the transition to record and publish; nil when the request changes
    /// nothing (the holder claiming again). Pure: the store calls it inside its write transaction.
    /// - Parameter prescription: `document` parsed (a dispense is checked against it), from the store's cache.
    /// - Throws: the refusal, naming the status or the holder.
    func applying(_ request: RxRequest, at now: Date, lease: Duration, prescription: () -> JSONValue) throws(RxProblem) -> (RxRecord, RxTransition)? {
        let action = request.action
        if let pharmacy = request.pharmacy, status.isClaimed, let holder, holder != pharmacy {
            if action == .claim {
                throw RxProblem(.claimedByOther, "prescription \(id) is claimed by pharmacy \(holder)", extras: holderExtras)
            }
            throw RxProblem(.notClaimHolder, "prescription \(id) is claimed by pharmacy \(holder), not \(pharmacy)", extras: holderExtras)
        }
        if action == .claim, status.isClaimed { return nil }

        var dispensed: JSONValue?
        if case .dispense(_, let report) = request, status == .reviewed {
            dispensed = try report.checked(against: prescription())
        }
        let next: RxStatus
        switch RxLifecycle.next(action, from: status, repeatsLeft: maxReptCnt - usedCount - 1) {
        case .success(let status): next = status
        case .failure(let kind): throw RxProblem(kind, "cannot \(request.verb) prescription \(id): it is \(status.rawValue)", extras: [("status", .string(status.rawValue))])
        }

        var after = self
        after.status = next
        after.version += 1
        after.updatedAt = now
        var detail: JSONValue?
        var reason: String?
        switch request {
        case .claim(let pharmacy):
            after.holder = pharmacy
            after.leaseUntil = now.addingTimeInterval(lease.seconds)
            after.review = nil
        case .review(_, let review):
            after.review = review.json
            after.leaseUntil = now.addingTimeInterval(lease.seconds)
            detail = review.json
            reason = review.reason
        case .dispense:
            after.usedCount += 1
            after.dispenses.append(dispensed!)
            detail = dispensed
        case .revoke(let why):
            reason = why
        case .release, .expire, .lapse:
            break
        }
        if !next.isClaimed {
            after.holder = nil
            after.leaseUntil = nil
            if next == .valid { after.review = nil }
        }
        let transition = RxTransition(version: after.version, action: action, from: status, to: next, actor: request.pharmacy ?? holder,
                                      reason: reason, detail: detail, at: now)
        return (after, transition)
    }

    private var holderExtras: [(String, JSONValue)] {
        var extras: [(String, JSONValue)] = [("holder", .optional(holder)), ("status", .string(status.rawValue))]
        if let leaseUntil { extras.append(("leaseUntil", .string(RxText.timestamp(leaseUntil)))) }
        return extras
    }
}

/// One change of a prescription, as recorded in the store's history and published on `rx.events`.
public struct RxTransition: Sendable {
    public var version: Int
    public var action: RxAction
    public var from: RxStatus?
    public var to: RxStatus
    /// The pharmacy that acted (or held the claim when time acted), nil for the hospital and the sweeper.
    public var actor: String?
    public var reason: String?
    /// The review or dispense report.
    public var detail: JSONValue?
    public var at: Date
}

/// What is asked of a prescription.
public enum RxRequest: Sendable {
    case claim(pharmacy: String)
    case release(pharmacy: String)
    case review(pharmacy: String, RxReview)
    case dispense(pharmacy: String, RxDispenseReport)
    case revoke(reason: String)
    case expire
    case lapse

    var action: RxAction {
        switch self {
        case .claim: .claim
        case .release: .release
        case .review(_, let review): review.approved ? .approve : .reject
        case .dispense: .dispense
        case .revoke: .revoke
        case .expire: .expire
        case .lapse: .lapse
        }
    }

    var pharmacy: String? {
        switch self {
        case .claim(let pharmacy), .release(let pharmacy), .review(let pharmacy, _), .dispense(let pharmacy, _): pharmacy
        case .revoke, .expire, .lapse: nil
        }
    }

    var verb: String {
        switch self {
        case .claim: "claim"
        case .release: "release"
        case .review: "review"
        case .dispense: "dispense"
        case .revoke: "revoke"
        case .expire: "expire"
        case .lapse: "lapse the claim on"
        }
    }
}

extension Duration {
    var seconds: TimeInterval {
        let (seconds, attoseconds) = components
        return TimeInterval(seconds) + TimeInterval(attoseconds) / 1e18
    }
}
