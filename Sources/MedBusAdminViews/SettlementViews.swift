import Foundation
import MedBusAdmin
import MedBusCore
import MedBusSettlement

/// `GET /v1/settlements` (filters `hospital`, `state`, `from`/`to` on creation time, `limit`/`offset`)
/// and `GET /v1/settlements/{id}` (with the transition history): the orchestrator's saga log, read only.
///
/// States, amounts and times for every role with `states`; the charge batch number and the patient
/// identifiers inside the result (`psn_no`, `certno`, `mdtrt_id`, …) masked unless the role has
/// `patient-data`, and each view that reveals them is audited (`settlement.view`). Hospitals call
/// the partner API on its own listener (`POST /v1/settlements`, :8092); this is the operator's view.
public struct SettlementViews: AdminRoutes {
    let orchestrator: SettlementOrchestrator

    public init(orchestrator: SettlementOrchestrator) { self.orchestrator = orchestrator }

    public struct Settlement: Codable, Sendable {
        public var settlementId: String
        public var fixmedinsCode: String
        public var chrgBchno: String
        public var state: String
        public var failureReason: String?
        /// The settlement-result document once final, identifiers masked unless revealed.
        public var result: JSONValue?
        public var createdAt: Date
        public var updatedAt: Date
        /// Only on `/v1/settlements/{id}`: the saga's transitions, oldest first.
        public var history: [Transition]?
    }

    public struct Transition: Codable, Sendable {
        public var from: String?
        public var to: String
        public var step: String?
        public var attempt: Int
        public var reason: String?
        public var at: Date
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("settlements", requires: .states) { request, _, caller in
            let (limit, offset) = (try AdminAPI.limit(request), try AdminAPI.offset(request))
            let rows = try await orchestrator.list(state: try AdminAPI.choice(request, "state", SettlementState.self),
                                                   hospital: request.uri.queryParameters.get("hospital"), createdFrom: try AdminAPI.time(request, "from"),
                                                   to: try AdminAPI.time(request, "to"), limit: limit, offset: offset)
            let reveal = caller.role.allows(.patientData)
            if reveal, !rows.isEmpty {
                try trail.record(caller, action: "settlement.view", object: "settlements", detail: "\(rows.count) rows")
            }
            return try AdminAPI.page("settlements", rows.map { Settlement($0, reveal: reveal) }, offset: offset, limit: limit)
        }
        api.get("settlements/{id}", requires: .states) { _, context, caller in
            let id = context.parameters.get("id") ?? ""
            let status: SettlementStatus
            do { status = try await orchestrator.status(id) } catch SettlementError.notFound { throw Problem.notFound("no settlement \(id)") }
            let reveal = caller.role.allows(.patientData)
            if reveal { try trail.record(caller, action: "settlement.view", object: "settlement:\(id)") }
            var view = Settlement(status, reveal: reveal)
            view.history = try await orchestrator.history(id).map {
                Transition(from: $0.from?.rawValue, to: $0.to.rawValue, step: $0.step, attempt: $0.attempt, reason: $0.reason, at: $0.at)
            }
            return try AdminAPI.json(view)
        }
    }
}

extension SettlementViews.Settlement {
    init(_ status: SettlementStatus, reveal: Bool) {
        self.init(settlementId: status.id, fixmedinsCode: status.fixmedinsCode, chrgBchno: PatientDataMask.mask(status.chrgBchno, reveal: reveal)!,
                  state: status.state.rawValue, failureReason: status.failureReason,
                  result: status.result.map { PatientDataMask.mask($0.jsonValue, reveal: reveal) },
                  createdAt: status.createdAt, updatedAt: status.updatedAt, history: nil)
    }
}
