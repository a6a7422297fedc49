/// The statuses of a circulated prescription (DOMAIN.md §2) and the one table of transitions between
/// them. Every change of status goes through `RxLifecycle.next`, so what is allowed is written once:
///
/// | action   | from                       | to                                               |
/// |----------|----------------------------|--------------------------------------------------|
/// | claim    | valid                      | claimed                                          |
/// | release  | claimed, reviewed          | valid                                            |
/// | approve  | claimed                    | reviewed                                         |
/// | reject   | claimed                    | valid (the pharmacist refused: others may claim) |
/// | dispense | reviewed                   | dispensed, or valid while repeats remain         |
/// | lapse    | claimed, reviewed          | valid (the claim's lease ran out)                |
/// | expire   | valid, claimed, reviewed   | expired                                          |
/// | revoke   | valid, claimed, reviewed   | revoked                                          |
///
/// dispensed, expired and revoked are final. Anything else is refused with the error that names why
/// (`already-dispensed`, `expired`, `revoked`, `not-claimed`, `review-required`, `already-reviewed`).
public enum RxStatus: String, Sendable, CaseIterable, Codable {
    case valid, claimed, reviewed, dispensed, expired, revoked

    /// The prescription centre's `rxStasCodg`: 1 valid (dispensed ones were valid: "used" is a separate
    /// flag), 2 expired, 3 revoked.
    public var rxStasCodg: String {
        switch self {
        case .valid, .claimed, .reviewed, .dispensed: "1"
        case .expired: "2"
        case .revoked: "3"
        }
    }

    public var isFinal: Bool { self == .dispensed || self == .expired || self == .revoked }

    /// Held by a pharmacy (a claim, with its lease, is in force).
    public var isClaimed: Bool { self == .claimed || self == .reviewed }
}

/// What happens to a prescription. The raw values name the events on `rx.events`.
public enum RxAction: String, Sendable, CaseIterable, Codable {
    case issue = "issued"
    case claim = "claimed"
    case release = "released"
    case approve = "reviewed"
    case reject = "review-rejected"
    case dispense = "dispensed"
    case lapse = "claim-lapsed"
    case expire = "expired"
    case revoke = "revoked"
}

public enum RxLifecycle {
    /// The status after `action` from `status`, or the refusal. `repeatsLeft` is how many dispenses
    /// remain after this one (a repeat prescription returns to valid until none remain).
    public static func next(_ action: RxAction, from status: RxStatus, repeatsLeft: Int = 0) -> Result<RxStatus, RxProblem.Kind> {
        switch (action, status) {
        case (.claim, .valid): .success(.claimed)
        case (.release, .claimed), (.release, .reviewed): .success(.valid)
        case (.approve, .claimed): .success(.reviewed)
        case (.reject, .claimed): .success(.valid)
        case (.dispense, .reviewed): .success(repeatsLeft > 0 ? .valid : .dispensed)
        case (.lapse, .claimed), (.lapse, .reviewed): .success(.valid)
        case (.expire, .valid), (.expire, .claimed), (.expire, .reviewed): .success(.expired)
        case (.revoke, .valid), (.revoke, .claimed), (.revoke, .reviewed): .success(.revoked)
        case (_, .dispensed): .failure(.alreadyDispensed)
        case (_, .expired): .failure(.expired)
        case (_, .revoked): .failure(.revoked)
        case (.claim, .claimed), (.claim, .reviewed): .failure(.claimedByOther)
        case (.approve, .reviewed), (.reject, .reviewed): .failure(.alreadyReviewed)
        case (.dispense, .claimed): .failure(.reviewRequired)
        case (.release, .valid), (.approve, .valid), (.reject, .valid), (.dispense, .valid), (.lapse, .valid): .failure(.notClaimed)
        case (.issue, _): .failure(.duplicatePrescription)
        }
    }
}
