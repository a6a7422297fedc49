/// Topic names of DESIGN.md's topic table, built in one place so that every component (and the
/// AsyncAPI document) agrees on them.
public enum TopicName {
    public static func rawHIS(hospital: String) throws -> String { try name("raw.his", hospital) }
    public static func rawInsurer(_ insurer: String) throws -> String { try name("raw.insurer", insurer) }
    public static func rawDispatch(centre: String) throws -> String { try name("raw.dispatch", centre) }
    public static func canonical(_ entity: String) throws -> String { try name("canonical", entity) }
    public static func insurerRequests(_ insurer: String) throws -> String { try name("insurer", insurer) + ".requests" }
    public static func insurerReplies(_ insurer: String) throws -> String { try name("insurer", insurer) + ".replies" }
    public static func settlementClaims(insurer: String) throws -> String { try name("settlement.claims", insurer) }
    public static func dispatchPrearrival(hospital: String) throws -> String { try name("dispatch.prearrival", hospital) }
    public static func deadLetter(stage: String) throws -> String { try name("dlq", stage) }

    public static let settlementRequests = "settlement.requests"
    public static let settlementResults = "settlement.results"
    public static let rxIssued = "rx.issued"
    public static let rxEvents = "rx.events"
    public static let dispatchEvents = "dispatch.events"
    public static let mappings = "medbus.mappings"

    /// `prefix.segment`, where the segment (a hospital code, insurer id…) must be a legal,
    /// dot-free Kafka topic-name part, so one party's topic can never alias another's.
    static func name(_ prefix: String, _ segment: String) throws -> String {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
        guard !segment.isEmpty, segment.count <= 64, segment.allSatisfy(allowed.contains) else {
            throw TopicNameError.invalidSegment(segment)
        }
        return "\(prefix).\(segment)"
    }

    /// Kafka's own rule for a topic name: 1–249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
    public static func isValid(_ topic: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
        return !topic.isEmpty && topic.count <= 249 && topic != "." && topic != ".." && topic.allSatisfy(allowed.contains)
    }
}

public enum TopicNameError: Error, Equatable, CustomStringConvertible {
    case invalidSegment(String)

    public var description: String {
        switch self {
        case .invalidSegment(let s): "'\(s)' cannot be part of a topic name (use 1–64 of a-z A-Z 0-9 _ -)"
        }
    }
}
