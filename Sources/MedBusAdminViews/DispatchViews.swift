import Foundation
import MedBusAdmin
import MedBusCore
import MedBusDispatch

/// `GET /v1/dispatch/tasks` (filters `status` active|completed|all, `stage`, `destination`,
/// `from`/`to` on the last update, `limit`/`offset`) and `GET /v1/dispatch/tasks/{id}` (the timeline
/// and its pre-arrival notices): the 120 task timelines, read only.
///
/// Stages, ETA, intervals and vital signs for every role with `states`; the CAD event's `patient`
/// block (name, age, phone…) and other identifiers masked unless the role has `patient-data`, and
/// each view that reveals them is audited (`dispatch.task.view`). Dispatch centres send events to
/// their own listener (:8120); this is the operator's view.
public struct DispatchViews: AdminRoutes {
    let store: TimelineStore

    public init(store: TimelineStore) { self.store = store }

    public struct Detail: Codable, Sendable {
        public var timeline: JSONValue
        public var notices: [Notice]
    }

    public struct Notice: Codable, Sendable {
        public var version: Int
        public var hospital: String
        public var status: String
        public var published: Bool
    }

    public func register(on api: AdminAPI) {
        let trail = api.trail
        api.get("dispatch/tasks", requires: .states) { request, _, _ in
            let q = request.uri.queryParameters
            let status = q.get("status") ?? "active"
            guard ["active", "completed", "all"].contains(status) else { throw Problem.badRequest("status must be one of active, completed, all") }
            let (limit, offset) = (try AdminAPI.limit(request), try AdminAPI.offset(request))
            let rows = try store.tasks(includeCompleted: status == "all", completedOnly: status == "completed", stage: q.get("stage"),
                                       destination: q.get("destination"), updatedFrom: try AdminAPI.time(request, "from"),
                                       to: try AdminAPI.time(request, "to"), limit: limit, offset: offset)
            return try AdminAPI.page("tasks", rows, offset: offset, limit: limit)
        }
        api.get("dispatch/tasks/{id}", requires: .states) { _, context, caller in
            let id = context.parameters.get("id") ?? ""
            guard let timeline = try store.timeline(of: id) else { throw Problem.notFound("no dispatch task \(id)") }
            let reveal = caller.role.allows(.patientData)
            if reveal { try trail.record(caller, action: "dispatch.task.view", object: "dispatch-task:\(id)") }
            let notices = try store.notices(of: id).map {
                Notice(version: $0.notice.version, hospital: $0.notice.hospital, status: $0.notice.status.rawValue, published: $0.published)
            }
            return try AdminAPI.json(Detail(timeline: PatientDataMask.mask(timeline, reveal: reveal, wholeObjects: ["patient"]), notices: notices))
        }
    }
}
