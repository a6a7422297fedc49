import Foundation
import MedBusAdmin
import MedBusCore
import MedBusPrescription

/// `GET /v1/prescriptions` (filters `hospital`, `status`, `from`/`to` on issue time, `limit`/`offset`)
/// and `GET /v1/prescriptions/{id}` (with the history): the prescription store, read only.
///
/// Status, repeats, validity and times for every role with `states`; the hospital's prescription
/// number and the trace code masked unless the role has `patient-data`. The signed document (the
/// patient's data) only on `/{id}` with `?document=true`, for `patient-data` roles, audited
/// (`prescription.view`). The QR token is a claim credential and is never shown. Pharmacies use
/// their own API (:8095); this is the operator's view.
public struct PrescriptionViews: AdminRoutes {
    let ledger: RxLedger

    public init(ledger: RxLedger) { self.ledger = ledger }

    public struct Prescription: Codable, Sendable {
        public var rxId: String
        public var fixmedinsCode: String
        public var hospRxno: String
        public var traceCode: String
        public var region: String
        public var status: String
        public var holder: String?
        public var leaseUntil: Date?
        public var validityEnd: Date
        public var usedCount: Int
        public var maxReptCnt: Int
        public var keyId: String
        public var digest: String
        public var createdAt: Date
        public var updatedAt: Date
        /// Only on `/{id}`: the transitions, oldest first (review and dispense details masked unless revealed).
        public var history: [Transition]?
        /// Only on `/{id}?document=true`: the signed canonical document.
        public var document: JSONValue?
    }

    public struct Transition: Codable, Sendable {
        public var version: Int
        public var action: String
        public var from: String?
        public var to: String
        public var actor: String?
        public var reason: String?
        public var detail: JSONValue?
        public var at: Date
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("prescriptions", requires: .states) { request, _, caller in
            let (limit, offset) = (try AdminAPI.limit(request), try AdminAPI.offset(request))
            let rows = try await ledger.list(status: try AdminAPI.choice(request, "status", RxStatus.self), hospital: request.uri.queryParameters.get("hospital"), createdFrom: try AdminAPI.time(request, "from"),
                                             to: try AdminAPI.time(request, "to"), limit: limit, offset: offset)
            let reveal = caller.role.allows(.patientData)
            if reveal, !rows.isEmpty {
                try trail.record(caller, action: "prescription.view", object: "prescriptions", detail: "\(rows.count) rows")
            }
            return try AdminAPI.page("prescriptions", rows.map { Prescription($0, reveal: reveal) }, offset: offset, limit: limit)
        }
        api.get("prescriptions/{id}", requires: .states) { request, context, caller in
            let id = context.parameters.get("id") ?? ""
            let wantsDocument = request.uri.queryParameters.get("document") == "true"
            if wantsDocument, !caller.role.allows(.patientData) {
                _ = try? trail.record(caller, action: "prescription.view", object: "prescription:\(id)", outcome: .denied, detail: "needs patient-data")
                throw Problem.forbidden(caller.role, .patientData)
            }
            guard let record = try await ledger.record(.id(id)) else { throw Problem.notFound("no prescription \(id)") }
            let reveal = caller.role.allows(.patientData)
            if reveal { try trail.record(caller, action: "prescription.view", object: "prescription:\(id)", detail: wantsDocument ? "with document" : "") }
            var view = Prescription(record, reveal: reveal)
            view.history = try await ledger.history(id: id).map {
                Transition(version: $0.version, action: $0.action.rawValue, from: $0.from?.rawValue, to: $0.to.rawValue, actor: $0.actor,
                           reason: $0.reason, detail: $0.detail.map { PatientDataMask.mask($0, reveal: reveal) }, at: $0.at)
            }
            if wantsDocument { view.document = (try? JSONValue.parse(record.document)) ?? .string(String(decoding: record.document, as: UTF8.self)) }
            return try AdminAPI.json(view)
        }
    }
}

extension PrescriptionViews.Prescription {
    init(_ r: RxRecord, reveal: Bool) {
        self.init(rxId: r.id, fixmedinsCode: r.fixmedinsCode, hospRxno: PatientDataMask.mask(r.hospRxno, reveal: reveal)!,
                  traceCode: PatientDataMask.mask(r.traceCode, reveal: reveal)!, region: r.region, status: r.status.rawValue, holder: r.holder,
                  leaseUntil: r.leaseUntil, validityEnd: r.validityEnd, usedCount: r.usedCount, maxReptCnt: r.maxReptCnt, keyId: r.keyID,
                  digest: r.digest, createdAt: r.createdAt, updatedAt: r.updatedAt, history: nil, document: nil)
    }
}
