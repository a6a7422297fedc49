import MedBusCore

/// One CAD event, validated: a step of a vehicle task or an en-route update
/// (`Mappings/schemas/dispatch-event.schema.json`). `body` is the JSON object as the CAD sent it;
/// it is what is stored and published, byte for byte.
public struct DispatchEvent: Sendable {
    /// The CAD's unique id of this event: retransmissions carry the same id.
    public var eventId: String
    /// The vehicle task (任务) id: the Kafka key, so one task's events stay on one partition.
    public var taskId: String
    public var centre: String
    public var stage: DispatchStage
    /// `occurredAt`, or the stage's own time field (`sendCarTime`, …) when `occurredAt` is absent.
    public var time: EventTime
    public var body: JSONValue
    /// Problems that do not refuse the event (implausible vitals).
    public var warnings: [DispatchIssue]
}

/// A specific problem with a CAD event: the `error` (or a `warnings` entry) of its acknowledgement.
public struct DispatchIssue: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable {
        case malformedJSON = "malformed-json"
        case invalidUTF8 = "invalid-utf8"
        case lineTooLong = "line-too-long"
        case notAnObject = "not-an-object"
        case missingField = "missing-field"
        case unknownField = "unknown-field"
        case unknownStage = "unknown-stage"
        case invalidTime = "invalid-time"
        case invalidField = "invalid-field"
        case wrongCentre = "wrong-centre"
        /// A warning: the event is accepted with the value flagged.
        case implausibleVital = "implausible-vital"
        /// Not the sender's fault: the event is not yet safe, send it again.
        case unavailable
    }

    public var code: Code
    /// The JSON field concerned (`taskId`, `vitals[2].value`), when there is one.
    public var field: String?
    /// What is wrong, without patient data (field names, limits and codes only).
    public var reason: String

    public init(_ code: Code, field: String? = nil, _ reason: String) {
        self.code = code
        self.field = field
        self.reason = reason
    }

    public var description: String { "\(code.rawValue)\(field.map { " (\($0))" } ?? ""): \(reason)" }

    var json: JSONValue {
        var members: [(String, JSONValue)] = [("code", .string(code.rawValue))]
        if let field { members.append(("field", .string(field))) }
        members.append(("reason", .string(reason)))
        return .object(members)
    }
}

/// Checks CAD events: required ids, a known stage, RFC 3339 times with offsets, field types, and
/// vital signs against `VitalSigns` (out of range → a warning, not a refusal).
public struct DispatchEventParser: Sendable {
    /// What a line or body turned out to be. A refused event keeps the ids that could be read,
    /// so the acknowledgement can name it.
    public enum Outcome: Sendable {
        case event(DispatchEvent)
        case refused(DispatchIssue, eventId: String?)
    }

    /// The centre this adapter serves; events naming another `centreCode` are refused. Nil
    /// accepts any (the timeline reads events of every centre).
    public let centre: String?
    public let vitalSigns: VitalSigns

    public init(centre: String?, vitalSigns: VitalSigns) {
        self.centre = centre
        self.vitalSigns = vitalSigns
    }

    static let stringFields: Set<String> = [
        "eventId", "taskId", "incidentId", "acceptId", "centreCode", "stage", "eventType", "callAddress", "callPhone",
        "preJudgment", "sickCondition", "chiefComplaint", "firstImpression", "destinationHospital",
    ]
    static let timeFields: Set<String> = Set(DispatchStage.allCases.compactMap(\.timeField) + ["occurredAt", "fmcTime", "eta"])
    static let otherFields: Set<String> = ["taskResult", "triageLevel", "pathway", "patient", "vehicle", "gps", "vitals", "treatments"]
    static let pathways: Set<String> = ["chest-pain", "stroke", "trauma", "maternal", "neonatal", "poisoning", "general"]
    static let genders: Set<String> = ["male", "female", "other", "unknown"]

    public func parse(_ bytes: [UInt8]) -> Outcome {
        guard String(validating: bytes, as: UTF8.self) != nil else {
            return .refused(DispatchIssue(.invalidUTF8, "the event is not valid UTF-8"), eventId: nil)
        }
        let body: JSONValue
        do { body = try JSONParser.parse(bytes) } catch {
            return .refused(DispatchIssue(.malformedJSON, "\(error.message) at byte \(error.offset)"), eventId: nil)
        }
        guard case .object(let members) = body else {
            return .refused(DispatchIssue(.notAnObject, "an event is one JSON object"), eventId: nil)
        }
        let eventId = body["eventId"]?.stringValue.flatMap { $0.isEmpty ? nil : $0 }
        do {
            return .event(try validate(body, members: members))
        } catch {
            return .refused(error, eventId: eventId)
        }
    }

    private func validate(_ body: JSONValue, members: [(String, JSONValue)]) throws(DispatchIssue) -> DispatchEvent {
        for (name, value) in members {
            if Self.stringFields.contains(name) || Self.timeFields.contains(name) {
                guard case .string = value else { throw DispatchIssue(.invalidField, field: name, "must be a string") }
            } else if !Self.otherFields.contains(name) {
                throw DispatchIssue(.unknownField, field: name, "not a field of a dispatch event (see dispatch-event.schema.json)")
            }
        }
        func required(_ name: String, limit: Int = 128) throws(DispatchIssue) -> String {
            guard let value = body[name]?.stringValue, !value.isEmpty else { throw DispatchIssue(.missingField, field: name, "\(name) is required") }
            guard value.utf8.count <= limit else { throw DispatchIssue(.invalidField, field: name, "longer than \(limit) bytes") }
            return value
        }
        let eventId = try required("eventId")
        let taskId = try required("taskId")
        let stageName = try required("stage")
        guard let stage = DispatchStage(rawValue: stageName) else {
            throw DispatchIssue(.unknownStage, field: "stage", "unknown stage; expected one of \(DispatchStage.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let centreCode = body["centreCode"]?.stringValue
        if let centre, let centreCode, centreCode != centre {
            throw DispatchIssue(.wrongCentre, field: "centreCode", "this adapter serves centre \(centre)")
        }
        for field in Self.timeFields {
            if let text = body[field]?.stringValue, EventTime(text) == nil {
                throw DispatchIssue(.invalidTime, field: field, "must be RFC 3339 with an offset, e.g. 2025-01-15T10:40:00+08:00")
            }
        }
        guard let timeText = body["occurredAt"]?.stringValue ?? stage.timeField.flatMap({ body[$0]?.stringValue }), let time = EventTime(timeText) else {
            throw DispatchIssue(.missingField, field: "occurredAt", "occurredAt (or \(stage.timeField ?? "the stage's time field")) is required")
        }
        if let hospital = body["destinationHospital"]?.stringValue, (try? TopicName.dispatchPrearrival(hospital: hospital)) == nil {
            throw DispatchIssue(.invalidField, field: "destinationHospital", "a hospital code of 1–64 of A-Z a-z 0-9 _ -")
        }
        try checkAssessment(body)
        try checkPatient(body["patient"])
        var warnings: [DispatchIssue] = []
        if let vitals = body["vitals"] {
            warnings = try checkVitals(vitals)
        } else if stage == .vitals {
            throw DispatchIssue(.missingField, field: "vitals", "a vitals event needs at least one reading")
        }
        return DispatchEvent(eventId: eventId, taskId: taskId, centre: centreCode ?? centre ?? "", stage: stage, time: time, body: body, warnings: warnings)
    }

    private func checkAssessment(_ body: JSONValue) throws(DispatchIssue) {
        if let level = body["triageLevel"] {
            guard case .number = level, let value = level.intValue, (1...4).contains(value) else {
                throw DispatchIssue(.invalidField, field: "triageLevel", "an integer 1 (most urgent) to 4")
            }
        }
        if let pathway = body["pathway"] {
            guard let name = pathway.stringValue, Self.pathways.contains(name) else {
                throw DispatchIssue(.invalidField, field: "pathway", "one of \(Self.pathways.sorted().joined(separator: ", "))")
            }
        }
        if let result = body["taskResult"] {
            guard let code = result.scalarText, ["1", "2", "3", "4"].contains(code) else {
                throw DispatchIssue(.invalidField, field: "taskResult", "1 aborted, 2 empty run, 3 normal, 4 refused")
            }
        }
        for name in ["vehicle", "gps"] {
            if let value = body[name], !isObject(value) { throw DispatchIssue(.invalidField, field: name, "must be an object") }
        }
        if let treatments = body["treatments"], treatments.arrayValue == nil {
            throw DispatchIssue(.invalidField, field: "treatments", "must be an array")
        }
    }

    private func checkPatient(_ patient: JSONValue?) throws(DispatchIssue) {
        guard let patient else { return }
        guard isObject(patient) else { throw DispatchIssue(.invalidField, field: "patient", "must be an object") }
        if let gender = patient["gender"], !(gender.stringValue.map(Self.genders.contains) ?? false) {
            throw DispatchIssue(.invalidField, field: "patient.gender", "one of female, male, other, unknown")
        }
        if let age = patient["age"], !(age.intValue.map { $0 >= 0 } ?? false) || !isNumber(age) {
            throw DispatchIssue(.invalidField, field: "patient.age", "a non-negative integer")
        }
    }

    private func checkVitals(_ vitals: JSONValue) throws(DispatchIssue) -> [DispatchIssue] {
        guard let readings = vitals.arrayValue, !readings.isEmpty else {
            throw DispatchIssue(.invalidField, field: "vitals", "a non-empty array of {code, value, acqTime}")
        }
        var warnings: [DispatchIssue] = []
        for (index, reading) in readings.enumerated() {
            let field = "vitals[\(index)]"
            guard isObject(reading), let code = reading["code"]?.stringValue else {
                throw DispatchIssue(.invalidField, field: field, "a reading needs a code")
            }
            guard let sign = vitalSigns.signs[code] else {
                throw DispatchIssue(.invalidField, field: "\(field).code", "unknown vital sign; known: \(vitalSigns.signs.keys.sorted().joined(separator: ", "))")
            }
            guard let value = reading["value"], isNumber(value), let number = value.scalarText.flatMap(Double.init) else {
                throw DispatchIssue(.invalidField, field: "\(field).value", "must be a number")
            }
            if let acq = reading["acqTime"], acq.stringValue.flatMap(EventTime.init) == nil {
                throw DispatchIssue(.invalidTime, field: "\(field).acqTime", "must be RFC 3339 with an offset")
            }
            if !sign.range.contains(number) {
                warnings.append(DispatchIssue(.implausibleVital, field: "\(field).value", "\(code) outside the plausible range \(format(sign.range.lowerBound))–\(format(sign.range.upperBound)) \(sign.unit); flagged"))
            }
        }
        return warnings
    }

    private func isObject(_ value: JSONValue) -> Bool { if case .object = value { true } else { false } }
    private func isNumber(_ value: JSONValue) -> Bool { if case .number = value { true } else { false } }
    private func format(_ value: Double) -> String { value == value.rounded() ? String(Int(value)) : String(value) }
}
