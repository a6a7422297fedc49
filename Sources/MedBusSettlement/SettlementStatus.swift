import Foundation

/// What `status(id)` and `list` tell about one settlement: ids and state, the result once there is one.
public struct SettlementStatus: Sendable {
    public var id: String
    public var fixmedinsCode: String
    public var chrgBchno: String
    public var state: SettlementState
    /// Machine-readable reason of a `failed` settlement (the platform's err_msg is in `result`).
    public var failureReason: String?
    /// The published result (settlement-result schema), once completed, failed or cancelled.
    public var result: SettlementResult?
    public var createdAt: Date
    public var updatedAt: Date
}
