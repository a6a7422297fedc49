import MedBusCore

/// One task's state, computed from all of its events ordered by **event time** (then lifecycle
/// rank, then event id), never by arrival: a late or out-of-order event lands where it happened,
/// and recomputing from the same events always gives the same state.
///
/// - A lifecycle stage is reached at the earliest time any of its events says.
/// - Scalar facts (destination, ETA, complaint, impression, triage level, pathway, task result,
///   patient fields, vehicle) are those of the latest event, by event time, that carries them.
/// - Each vital sign's latest reading is the one with the latest `acqTime` (the event's time
///   when the reading has none); readings outside the plausible range are kept, flagged.
/// - The patient is on board from leaving the scene with a destination hospital until handover
///   (or completion), unless the task ended as an empty run or a refusal (`taskResult` 2 or 4).
public struct TaskTimeline: Sendable {
    public struct Entry: Sendable, Equatable {
        public var eventId: String
        public var stage: DispatchStage
        public var time: EventTime
    }

    public struct Reading: Sendable, Equatable {
        public var code: String
        /// The number exactly as the CAD wrote it.
        public var value: String
        public var acqTime: EventTime
        public var flagged: Bool
    }

    public let taskId: String
    public private(set) var centre = ""
    /// Every event, in event-time order.
    public private(set) var entries: [Entry] = []
    /// First time each lifecycle stage was reached.
    public private(set) var reached: [DispatchStage: EventTime] = [:]
    public private(set) var facts: [String: JSONValue] = [:]
    public private(set) var patient: [String: JSONValue] = [:]
    /// Latest reading per vital sign, ordered by code.
    public private(set) var vitals: [Reading] = []

    public init(taskId: String, events: [DispatchEvent], vitalSigns: VitalSigns) {
        self.taskId = taskId
        let ordered = events.sorted { a, b in
            if a.time != b.time { return a.time < b.time }
            if a.stage.rank != b.stage.rank { return a.stage.rank < b.stage.rank }
            return a.eventId < b.eventId
        }
        var latest: [String: Reading] = [:]
        for event in ordered {
            if !event.centre.isEmpty { centre = event.centre }
            entries.append(Entry(eventId: event.eventId, stage: event.stage, time: event.time))
            if event.stage.isLifecycle, reached[event.stage] == nil { reached[event.stage] = event.time }
            for field in Self.factFields { if let value = event.body[field] { facts[field] = value } }
            if case .object(let members)? = event.body["patient"] {
                for (name, value) in members { patient[name] = value }
            }
            for reading in event.body["vitals"]?.arrayValue ?? [] {
                guard let code = reading["code"]?.stringValue, let value = reading["value"]?.scalarText else { continue }
                let acq = reading["acqTime"]?.stringValue.flatMap(EventTime.init) ?? event.time
                if let current = latest[code], current.acqTime > acq { continue }
                let plausible = vitalSigns.signs[code].map { $0.range.contains(Double(value) ?? .nan) } ?? false
                latest[code] = Reading(code: code, value: value, acqTime: acq, flagged: !plausible)
            }
        }
        vitals = latest.values.sorted { $0.code < $1.code }
    }

    static let factFields = ["destinationHospital", "eta", "chiefComplaint", "firstImpression", "triageLevel", "pathway", "taskResult", "vehicle", "fmcTime"]

    /// The furthest lifecycle stage reached.
    public var stage: DispatchStage? { reached.keys.max { $0.rank < $1.rank } }
    public var destination: String? { facts["destinationHospital"]?.stringValue }
    public var eta: EventTime? { facts["eta"]?.stringValue.flatMap(EventTime.init) }
    public var isCompleted: Bool { reached[.completed] != nil }

    public var patientOnBoard: Bool {
        guard reached[.leftScene] != nil, destination != nil, reached[.handover] == nil, reached[.completed] == nil else { return false }
        let result = facts["taskResult"]?.scalarText
        return result != "2" && result != "4"
    }

    /// Seconds between the first times of each interval's stages, where both were reached.
    public var intervals: [(DispatchInterval, Int64)] {
        DispatchInterval.allCases.compactMap { interval in
            guard let from = reached[interval.stages.from], let to = reached[interval.stages.to] else { return nil }
            return (interval, (to.microseconds - from.microseconds) / 1_000_000)
        }
    }

    /// The timeline as `medbus dispatch show` prints it and the database keeps it.
    public var json: JSONValue {
        var members: [(String, JSONValue)] = [("taskId", .string(taskId)), ("centre", .string(centre))]
        members.append(("stage", .optional(stage?.rawValue)))
        members.append(("stages", .array(DispatchStage.lifecycle.compactMap { stage in
            reached[stage].map { JSONValue.object([("stage", .string(stage.rawValue)), ("at", .string($0.text))]) }
        })))
        members.append(("patientOnBoard", .bool(patientOnBoard)))
        for field in Self.factFields { if let value = facts[field] { members.append((field, value)) } }
        if !patient.isEmpty { members.append(("patient", .object(patient))) }
        members.append(("vitals", .array(vitals.map { reading in
            var fields: [(String, JSONValue)] = [("code", .string(reading.code)), ("value", .number(reading.value)), ("acqTime", .string(reading.acqTime.text))]
            if reading.flagged { fields.append(("flagged", .bool(true))) }
            return .object(fields)
        })))
        members.append(("intervals", .object(intervals.map { ($0.0.rawValue, JSONValue.number(String($0.1))) })))
        members.append(("events", .array(entries.map { .object([("eventId", .string($0.eventId)), ("stage", .string($0.stage.rawValue)), ("at", .string($0.time.text))]) })))
        return .object(members)
    }
}
