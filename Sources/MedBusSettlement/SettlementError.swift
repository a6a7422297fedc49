/// Failures of the orchestrator's public API. Cases carry ids and field names, never patient data.
public enum SettlementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request breaks a rule the saga relies on (the reason names the field).
    case invalidRequest(String)
    /// The request's fixmedins_code is not one of the configured hospitals.
    case unknownHospital(String)
    /// No settlement has this id.
    case notFound(id: String)
    /// Only a completed settlement can be cancelled.
    case notCancellable(id: String, state: SettlementState)
    /// The saga log could not be read or written: SQLite's result code and message.
    case store(String)
    /// The orchestrator is shut down.
    case stopped
    /// An insurer did not answer a query (e.g. 3201) in time, or answered it with an error.
    case insurer(String)

    public var description: String {
        switch self {
        case .invalidRequest(let reason): "invalid settlement request: \(reason)"
        case .unknownHospital(let code): "unknown hospital: fixmedins_code \(code) is not configured for settlement"
        case .notFound(let id): "no settlement with id \(id)"
        case .notCancellable(let id, let state): "settlement \(id) is \(state.rawValue); only a completed settlement can be cancelled"
        case .store(let detail): "settlement log failure: \(detail)"
        case .stopped: "the settlement orchestrator is stopped"
        case .insurer(let detail): "insurer: \(detail)"
        }
    }
}
