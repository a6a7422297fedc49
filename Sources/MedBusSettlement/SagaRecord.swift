import Foundation
import MedBusCore

/// Everything a saga has learned and decided, as committed to the saga log after each transition.
///
/// A new process resumes from this alone: the request outstanding (`pending`, with the exact bytes
/// sent, so a re-send is identical), what earlier replies returned, and what is still to undo.
struct SagaRecord: Sendable {
    var id: String
    let request: SettlementRequest
    /// `request` as stored (see `SagaRecordCoding.swift`): encoded once, not at every transition.
    let requestJSON: JSONValue
    var state: SettlementState
    var pending: PendingRequest?
    /// Every msgid used, by step, in order (for the log and reconciliation).
    var msgids: [String: [String]] = [:]
    var person: Person?
    /// The mdtrt_id 2201/2401 returned, when the request had none.
    var registeredMdtrtId: String?
    /// 2206 output.
    var preSettlement: JSONValue?
    /// 2207 output.
    var settlement: JSONValue?
    /// The 2207 whose outcome is unknown, named by the 2601 reversal.
    var reversalTarget: ReversalTarget?
    /// 2207 requests sent so far (each new msgid after a reversal counts).
    var settlementRounds = 0
    var commercial: CommercialLeg?
    /// Compensation steps still to run, first one next, and how the saga ends after them.
    var compensation: [SagaStep] = []
    var ending: Ending?
    var failureReason: String?
    var errMsg: String?
    /// Built and committed before it is published.
    var result: SettlementResult?
    var claimRecord: JSONValue?
    var outputsPublished = false
    var createdAt: Date
    var updatedAt: Date

    /// A request committed to the log; `attempt` counts sends of these same bytes.
    struct PendingRequest: Sendable {
        var step: SagaStep
        var msgid: String
        var topic: String
        var payload: String
        var attempt: Int
    }

    struct Person: Sendable {
        var psnNo: String?
        var insutype: String?
        var insuplcAdmdvs: String?
        var psnName: String?
        var certno: String?
    }

    struct ReversalTarget: Sendable {
        var msgid: String
        var infno: String
    }

    struct CommercialLeg: Sendable {
        var insurerCode: String
        var claimId: String
        var claimed: Money
        var approved: Money = .zero
        var status: SettlementResult.Commercial.Status = .pending
        var rejectReason: String?
        var claimQueued = false
    }

    enum Ending: String, Sendable { case failed, cancelled }

    /// - Throws: `SettlementError.store` when the request cannot be encoded.
    init(id: String, request: SettlementRequest, at date: Date) throws {
        self.init(id: id, request: request, requestJSON: try Self.storedRequest(request), at: date)
    }

    init(id: String, request: SettlementRequest, requestJSON: JSONValue, at date: Date) {
        self.id = id
        self.request = request
        self.requestJSON = requestJSON
        self.state = .received
        self.createdAt = date
        self.updatedAt = date
    }

    /// The visit's mdtrt_id: the HIS's, or the one registration returned.
    var mdtrtId: String? { request.mdtrtId ?? registeredMdtrtId }

    /// Work remains: a step to run or outputs to publish.
    var needsWork: Bool { !state.isTerminal || !outputsPublished }
}
