/// Failures of the orchestrator's public API. Cases carry ids and field names, never patient data.
public enum SettlementError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The request breaks a rule the saga relies on (the reason names the field).
    case invalidRequest(String)
    /// No settlement has this id.
    case notFound(id: String)
    /// Only a completed settlement can be cancelled.
    case notCancellable(id: String, state: SettlementState)
    /// The saga log could not be read or written: SQLite's result code and message.
    case store(String)
    /// The orchestrator is shut down.
    case stopped

    public var description: String {
        switch self {
        case .invalidRequest(let reason): "invalid settlement request: \(reason)"
        case .notFound(let id): "no settlement with id \(id)"
        case .notCancellable(let id, let state): "settlement \(id) is \(state.rawValue); only a completed settlement can be cancelled"
        case .store(let detail): "settlement log failure: \(detail)"
        case .stopped: "the settlement orchestrator is stopped"
        }
    }
}
