import Foundation
import MedBusCore

/// "Admission upon boarding" (上车即入院): what the receiving emergency department learns while
/// the ambulance is en route (`Mappings/schemas/prearrival-notice.schema.json`), published to
/// `dispatch.prearrival.<hospital>` keyed by task id. `Mappings/dispatch/prearrival-adt-a05.yaml`
/// turns it into HL7 ADT^A05 for HISs that speak only HL7 v2.
///
/// Versions count per task from 1 (`new`); each change of what the hospital sees (vitals, ETA,
/// assessment) is a new version (`updated`). If the destination changes, the first hospital gets
/// `cancelled` and the new one `new`.
public struct PrearrivalNotice: Sendable, Equatable {
    public enum Status: String, Sendable {
        case new, updated, cancelled
    }

    public static let messageType = "dispatch.prearrival"
    public static let schemaVersion = "prearrival-notice@1"

    public var taskId: String
    public var hospital: String
    public var version: Int
    public var status: Status
    /// Everything but the notice's own id, version, status and send time: compared to decide
    /// whether the hospital needs an update.
    public var content: JSONValue

    public var noticeId: String { "PAN-\(taskId)-\(version)" }
    public var contentHash: String { SHA256.hex(content.jsonBytes) }

    /// The published payload.
    public func payload(sentAt: Date) -> [UInt8] {
        guard case .object(let members) = content else { return content.jsonBytes }
        let head: [(String, JSONValue)] = [
            ("noticeId", .string(noticeId)), ("status", .string(status.rawValue)), ("version", .int(version)),
            ("taskId", .string(taskId)),
        ]
        var rest = members
        rest.insert(("sentAt", .string(MessageEnvelope.formatTimestamp(sentAt))), at: min(2, rest.count))
        return JSONValue.object(head + rest).jsonBytes
    }

    /// The content of a notice for `timeline`, or nil while none is due (patient not on board, no
    /// destination, or the ambulance already at the hospital).
    static func content(of timeline: TaskTimeline, vitalSigns: VitalSigns) -> JSONValue? {
        guard timeline.patientOnBoard, let hospital = timeline.destination,
              !timeline.reached.keys.contains(where: \.endsPrearrival) else { return nil }
        var members: [(String, JSONValue)] = [("dispatchCentre", .string(timeline.centre)), ("hospital", .string(hospital))]
        if let eta = timeline.eta { members.append(("eta", .string(eta.text))) }
        var patient: [(String, JSONValue)] = [("tempId", timeline.patient["tempId"] ?? .string(timeline.taskId))]
        for field in ["name", "gender", "age", "idNumber"] { if let value = timeline.patient[field] { patient.append((field, value)) } }
        members.append(("patient", .object(patient)))
        for field in ["chiefComplaint", "firstImpression", "pathway", "triageLevel"] {
            if let value = timeline.facts[field] { members.append((field, value)) }
        }
        if let time = timeline.reached[.arrivedScene] { members.append(("arriveSpotTime", .string(time.text))) }
        if let time = timeline.reached[.leftScene] { members.append(("leaveSpotTime", .string(time.text))) }
        members.append(("vitals", .array(timeline.vitals.map { reading in
            let sign = vitalSigns.signs[reading.code]
            var fields: [(String, JSONValue)] = [("code", .string(reading.code))]
            if let sign { fields += [("name", .string(sign.name))] }
            fields.append(("value", .number(reading.value)))
            if let sign { fields += [("unit", .string(sign.unit))] }
            fields.append(("acqTime", .string(reading.acqTime.text)))
            if reading.flagged { fields.append(("flagged", .bool(true))) }
            return .object(fields)
        })))
        if case .object(let vehicle)? = timeline.facts["vehicle"] {
            let kept = vehicle.filter { ["carIdentity", "licensePlate"].contains($0.0) }
            if !kept.isEmpty { members.append(("vehicle", .object(kept))) }
        }
        return .object(members)
    }

    /// What to publish for `timeline`, given the last notice sent for the task.
    static func due(for timeline: TaskTimeline, last: PrearrivalNotice?, vitalSigns: VitalSigns) -> [PrearrivalNotice] {
        guard let content = content(of: timeline, vitalSigns: vitalSigns), let hospital = timeline.destination else { return [] }
        let version = (last?.version ?? 0) + 1
        guard let last, last.status != .cancelled else {
            return [PrearrivalNotice(taskId: timeline.taskId, hospital: hospital, version: version, status: .new, content: content)]
        }
        if last.hospital != hospital {
            return [
                PrearrivalNotice(taskId: timeline.taskId, hospital: last.hospital, version: version, status: .cancelled, content: last.content),
                PrearrivalNotice(taskId: timeline.taskId, hospital: hospital, version: version + 1, status: .new, content: content),
            ]
        }
        guard last.content != content else { return [] }
        return [PrearrivalNotice(taskId: timeline.taskId, hospital: hospital, version: version, status: .updated, content: content)]
    }
}
