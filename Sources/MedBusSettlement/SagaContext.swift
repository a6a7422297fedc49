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
    /// Signalled with a settlement id once its final state is committed.
    let finished: Waiters<Bool>
    /// Whether replies can be read yet; timeouts before that do not count (`ReplyReadiness`).
    let replies: ReplyReadiness

    /// Header names on insurer requests beyond MessageEnvelope's.
    static let settlementIDHeader = "medbus-settlement-id"
    static let platformRequests = "insurer.nhsa.requests"
    static let platformReplies = "insurer.nhsa.replies"
    static let requestsTopic = "settlement.requests"
    static let resultsTopic = "settlement.results"
    /// Header names of dead letters, the same as the routing core's (`RoutingHeader`), so
    /// `medbus dlq list|show|replay --topic dlq.settlement` reads them.
    static let errorReasonHeader = "medbus-error-reason"
    static let errorMessageHeader = "medbus-error-message"
    static let sourceTopicHeader = "medbus-source-topic"
    static let sourcePartitionHeader = "medbus-source-partition"
    static let sourceOffsetHeader = "medbus-source-offset"
    static let deadLetteredAtHeader = "medbus-dead-lettered-at"

    static func commercialRequests(_ insurer: String) -> String { "insurer.\(insurer).requests" }
    static func commercialReplies(_ insurer: String) -> String { "insurer.\(insurer).replies" }
    static func claims(_ insurer: String) -> String { "settlement.claims.\(insurer)" }
}
