import Foundation
import MedBusCore

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

extension SettlementStatus {
    /// The wire form of `GET /v1/settlements/{id}`: `settlementId`, `fixmedins_code`,
    /// `chrg_bchno`, `state`, `failureReason`, `result` (settlement-result schema), times in ISO 8601.
    public var jsonValue: JSONValue {
        let format = ISO8601DateFormatter()
        var fields: [String: JSONValue] = [
            "settlementId": .string(id), "fixmedins_code": .string(fixmedinsCode), "chrg_bchno": .string(chrgBchno),
            "state": .string(state.rawValue), "createdAt": .string(format.string(from: createdAt)),
            "updatedAt": .string(format.string(from: updatedAt)),
        ]
        fields["failureReason"] = failureReason.map(JSONValue.string)
        fields["result"] = result?.jsonValue
        return .object(fields)
    }
}
