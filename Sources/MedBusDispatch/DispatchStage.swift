/// The steps of a 120 vehicle task (DOMAIN.md §3), as the `stage` of a CAD event.
///
/// Lifecycle stages happen once per task, in this order; their `rank` orders them when two share
/// an event time. `vitals`, `gps` and `assessment` are updates that may come any number of times.
public enum DispatchStage: String, Sendable, CaseIterable, Codable {
    case callReceived = "call-received"
    case dispatched
    case orderReceived = "order-received"
    case departed
    case arrivedScene = "arrived-scene"
    case leftScene = "left-scene"
    case arrivedHospital = "arrived-hospital"
    case handover
    case completed
    case vitals
    case gps
    case assessment

    /// The field real CAD systems name this stage's time with; accepted instead of `occurredAt`.
    public var timeField: String? {
        switch self {
        case .callReceived: "acceptStartTime"
        case .dispatched: "sendCarTime"
        case .orderReceived: "receiveOrderTime"
        case .departed: "outCarTime"
        case .arrivedScene: "arriveSpotTime"
        case .leftScene: "leaveSpotTime"
        case .arrivedHospital: "arrivedHospitalTime"
        case .handover: "handoverTime"
        case .completed: "completeTime"
        case .vitals, .gps, .assessment: nil
        }
    }

    /// Position in the task's lifecycle (1 = call received); 0 for updates.
    public var rank: Int {
        switch self {
        case .callReceived: 1
        case .dispatched: 2
        case .orderReceived: 3
        case .departed: 4
        case .arrivedScene: 5
        case .leftScene: 6
        case .arrivedHospital: 7
        case .handover: 8
        case .completed: 9
        case .vitals, .gps, .assessment: 0
        }
    }

    public var isLifecycle: Bool { rank > 0 }

    /// Once reached, the ambulance is at (or past) the hospital: no more pre-arrival notices.
    var endsPrearrival: Bool { rank >= DispatchStage.arrivedHospital.rank }

    public static let lifecycle: [DispatchStage] = allCases.filter(\.isLifecycle)
}

/// The standard pre-hospital intervals, between the first time each stage was reached.
public enum DispatchInterval: String, Sendable, CaseIterable, Codable {
    case callToDispatch = "call-to-dispatch"
    case dispatchToDeparture = "dispatch-to-departure"
    case departureToScene = "departure-to-scene"
    case onScene = "on-scene"
    case leaveToHospital = "leave-to-hospital"

    public var stages: (from: DispatchStage, to: DispatchStage) {
        switch self {
        case .callToDispatch: (.callReceived, .dispatched)
        case .dispatchToDeparture: (.dispatched, .departed)
        case .departureToScene: (.departed, .arrivedScene)
        case .onScene: (.arrivedScene, .leftScene)
        case .leaveToHospital: (.leftScene, .arrivedHospital)
        }
    }
}
