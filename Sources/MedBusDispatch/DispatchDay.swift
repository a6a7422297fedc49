import MedBusCore

/// A synthetic but realistic day of one 120 centre, for replay tests and `medbus bench dispatch`:
/// tasks spread over 24 hours, each with its lifecycle (call → dispatch → crew acknowledges →
/// departure → GPS → on scene → assessment → vitals → leave scene with a destination and ETA →
/// vitals and ETA updates en route → arrival → handover → completion), about one in ten an empty
/// run. Deterministic for a seed. No real patient data: names are generated codes.
public struct DispatchDay: Sendable {
    public struct Event: Sendable {
        public var eventId: String
        public var taskId: String
        public var stage: DispatchStage
        public var time: EventTime
        public var line: [UInt8]
    }

    /// What a task's timeline must end up as.
    public struct Plan: Sendable {
        public var taskId: String
        public var eventIds: [String]
        public var reached: [DispatchStage: EventTime]
        public var destination: String?
        public var eta: EventTime?
        /// Latest value per vital sign (the number's text) with its acquisition time.
        public var vitals: [String: (value: String, acqTime: EventTime)]
        public var emptyRun: Bool
    }

    public let centre: String
    public let plans: [Plan]
    /// Every event, in true time order across tasks.
    public let events: [Event]

    /// - Parameter idPrefix: starts every task id, so several days can share one pipeline.
    public init(tasks: Int, centre: String = "JN120", hospitals: [String], seed: UInt64 = 120, idPrefix: String = "T20250115") {
        var random = SplitMix(seed: seed)
        var plans: [Plan] = []
        var events: [Event] = []
        let dayStart = EventTime("2025-01-15T00:00:00+08:00")!.microseconds / 1_000_000
        for index in 0..<tasks {
            let taskId = "\(idPrefix)\(centre)\(String(format: "%05d", index))"
            var plan = Plan(taskId: taskId, eventIds: [], reached: [:], vitals: [:], emptyRun: random.next(100) < 10)
            var clock = dayStart + Int64(random.next(86_000))
            var sequence = 0
            func add(_ stage: DispatchStage, after seconds: ClosedRange<Int>, _ fields: [(String, JSONValue)] = []) {
                clock += Int64(seconds.lowerBound + random.next(seconds.upperBound - seconds.lowerBound + 1))
                let time = EventTime(Self.format(clock))!
                let eventId = "\(taskId)-\(String(format: "%03d", sequence))"
                sequence += 1
                var members: [(String, JSONValue)] = [
                    ("eventId", .string(eventId)), ("taskId", .string(taskId)), ("centreCode", .string(centre)),
                    ("stage", .string(stage.rawValue)),
                ]
                if let field = stage.timeField { members.append((field, .string(time.text))) } else { members.append(("occurredAt", .string(time.text))) }
                if stage == .vitals {
                    members.append(("vitals", .array(Self.vitals(&random, at: time).map { reading in
                        plan.vitals[reading.code] = (reading.value, time)
                        return .object([("code", .string(reading.code)), ("value", .number(reading.value)), ("acqTime", .string(time.text))])
                    })))
                }
                members += fields
                if stage.isLifecycle, plan.reached[stage] == nil { plan.reached[stage] = time }
                if let eta = fields.first(where: { $0.0 == "eta" })?.1.stringValue { plan.eta = EventTime(eta) }
                plan.eventIds.append(eventId)
                events.append(Event(eventId: eventId, taskId: taskId, stage: stage, time: time, line: JSONValue.object(members).jsonBytes))
            }
            let pathway = ["chest-pain", "stroke", "trauma", "general"][random.next(4)]
            add(.callReceived, after: 0...0, [
                ("incidentId", .string("I\(taskId)")), ("eventType", .string("急救")),
                ("sickCondition", .string(["胸痛", "言语不清", "车祸外伤", "发热"][random.next(4)])),
            ])
            add(.dispatched, after: 40...150, [("vehicle", .object([("carIdentity", .string("\(centre)-\(random.next(60))")), ("sendStation", .string("S\(random.next(20))"))]))])
            add(.orderReceived, after: 10...50)
            add(.departed, after: 20...100)
            for _ in 0..<(3 + random.next(4)) { add(.gps, after: 60...150, [("gps", Self.position(&random))]) }
            add(.arrivedScene, after: 60...300, [("fmcTime", .string(Self.format(clock + 90)))])
            add(.assessment, after: 30...120, [
                ("chiefComplaint", .string("主诉\(random.next(50))")), ("firstImpression", .string("初步印象\(random.next(50))")),
                ("triageLevel", .int(1 + random.next(4))), ("pathway", .string(pathway)),
                ("patient", .object([("name", .string("患者\(index)")), ("gender", .string(["male", "female"][random.next(2)])), ("age", .int(18 + random.next(70)))])),
            ])
            for _ in 0..<(5 + random.next(7)) { add(.vitals, after: 40...120) }
            if plan.emptyRun {
                add(.completed, after: 120...600, [("taskResult", .string("2"))])
            } else {
                let hospital = hospitals[random.next(hospitals.count)]
                plan.destination = hospital
                add(.leftScene, after: 60...300, [("destinationHospital", .string(hospital)), ("eta", .string(Self.format(clock + 1800)))])
                var arrival = clock + 1500
                for _ in 0..<(11 + random.next(12)) {
                    add(.vitals, after: 30...90)
                    if random.next(4) == 0 {
                        arrival += Int64(random.next(120)) - 40
                        add(.gps, after: 5...20, [("gps", Self.position(&random)), ("eta", .string(Self.format(max(arrival, clock + 60))))])
                    }
                }
                add(.arrivedHospital, after: 60...300)
                add(.handover, after: 120...600)
                add(.completed, after: 300...1200, [("taskResult", .string("3"))])
            }
            plans.append(plan)
        }
        self.centre = centre
        self.plans = plans
        self.events = events.sorted { ($0.time, $0.eventId) < ($1.time, $1.eventId) }
    }

    /// The day as a CAD with a jittery network would send it: each event displaced by up to
    /// `window` positions, and about `duplicatePercent` % of events sent a second time up to 200
    /// positions later (a retransmission after a lost acknowledgement).
    public func stream(window: Int, duplicatePercent: Int, seed: UInt64 = 7) -> [Event] {
        var random = SplitMix(seed: seed)
        var keyed = events.enumerated().map { (Double($0.offset) + Double(random.next(window + 1)), $0.element) }
        for (index, event) in events.enumerated() where random.next(100) < duplicatePercent {
            keyed.append((Double(index) + 1 + Double(random.next(200)) + 0.5, event))
        }
        return keyed.sorted { $0.0 < $1.0 }.map(\.1)
    }

    static func format(_ seconds: Int64) -> String {
        // Local time of the centre (UTC+8), as CAD systems write it.
        let local = seconds + 8 * 3600
        let days = Int(local / 86_400), secondOfDay = Int(local % 86_400)
        let (year, month, day) = civil(fromDays: days)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d+08:00", year, month, day, secondOfDay / 3600, secondOfDay / 60 % 60, secondOfDay % 60)
    }

    private static func civil(fromDays z: Int) -> (Int, Int, Int) {
        let z = z + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let day = doy - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        return (yoe + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    private static func position(_ random: inout SplitMix) -> JSONValue {
        .object([("latitude", .number("36.\(600_000 + random.next(100_000))")), ("longitude", .number("117.\(000_000 + random.next(100_000))"))])
    }

    /// A set of readings; about one in a hundred SpO2 values is implausible (a probe artefact).
    private static func vitals(_ random: inout SplitMix, at time: EventTime) -> [(code: String, value: String)] {
        let spo2 = random.next(100) == 0 ? 130 : 88 + random.next(12)
        return [
            ("sbp", String(90 + random.next(80))), ("dbp", String(50 + random.next(50))), ("heartRate", String(50 + random.next(90))),
            ("spo2", String(spo2)), ("breath", String(12 + random.next(16))), ("temperature", "3\(6 + random.next(3)).\(random.next(10))"),
        ]
    }
}

/// A small deterministic generator (SplitMix64), so a day is the same on every machine.
struct SplitMix {
    private var state: UInt64
    init(seed: UInt64) { state = seed }

    /// A number in `0..<bound`.
    mutating func next(_ bound: Int) -> Int {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        return Int(z % UInt64(max(bound, 1)))
    }
}
