import Foundation
import Logging
import MedBusKafka

/// What every saga worker shares: the log, the producer, the configuration. Immutable.
struct SagaContext: Sendable {
    let store: SettlementStore
    let producer: KafkaProducer
    let configuration: SettlementConfiguration
    let logger: Logger
    /// The clock for msgids and timestamps (a test may pin it).
    let now: @Sendable () -> Date

    /// Header names on insurer requests beyond MessageEnvelope's.
    static let settlementIDHeader = "medbus-settlement-id"
    static let platformRequests = "insurer.nhsa.requests"
    static let platformReplies = "insurer.nhsa.replies"
    static let requestsTopic = "settlement.requests"
    static let resultsTopic = "settlement.results"

    static func commercialRequests(_ insurer: String) -> String { "insurer.\(insurer).requests" }
    static func commercialReplies(_ insurer: String) -> String { "insurer.\(insurer).replies" }
    static func claims(_ insurer: String) -> String { "settlement.claims.\(insurer)" }
}
