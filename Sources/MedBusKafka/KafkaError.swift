import CRdKafka

/// Every failure of the Kafka layer, carrying librdkafka's own error code.
///
/// librdkafka distinguishes broker errors (positive codes, e.g. `NOT_LEADER_FOR_PARTITION`)
/// from local ones (negative codes, e.g. `_MSG_TIMED_OUT`, `_TRANSPORT`). We keep that code so a
/// caller can decide precisely, and a readable message for operators. Messages never contain
/// payload bytes.
public struct KafkaError: Error, Sendable, CustomStringConvertible, Equatable {
    public let code: Code
    /// What was being attempted plus librdkafka's explanation.
    public let message: String
    /// The operation may succeed if retried (transactions and admin calls report this).
    public let isRetriable: Bool
    /// The client instance is unusable; it must be closed and re-created.
    public let isFatal: Bool
    /// A transactional producer must abort the current transaction before going on.
    public let requiresAbort: Bool

    public init(code: Code, message: String, isRetriable: Bool = false, isFatal: Bool = false, requiresAbort: Bool = false) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.isFatal = isFatal
        self.requiresAbort = requiresAbort
    }

    init(_ err: rd_kafka_resp_err_t, _ context: String) {
        self.init(code: Code(rawValue: err.rawValue), message: "\(context): \(String(cString: rd_kafka_err2str(err)))")
    }

    /// Takes ownership of an `rd_kafka_error_t` (as returned by the transactional API) and frees it.
    init(consuming error: OpaquePointer, _ context: String) {
        defer { rd_kafka_error_destroy(error) }
        self.init(
            code: Code(rawValue: rd_kafka_error_code(error).rawValue),
            message: "\(context): \(String(cString: rd_kafka_error_string(error)))",
            isRetriable: rd_kafka_error_is_retriable(error) != 0,
            isFatal: rd_kafka_error_is_fatal(error) != 0,
            requiresAbort: rd_kafka_error_txn_requires_abort(error) != 0
        )
    }

    static func invalidArgument(_ message: String) -> KafkaError {
        KafkaError(code: .invalidArgument, message: message)
    }

    public var description: String { "\(code.name) (\(code.rawValue)): \(message)" }

    /// A librdkafka error code (`rd_kafka_resp_err_t`). The named constants are the ones MedBus
    /// reacts to; any other code still round-trips through `rawValue` and `name`.
    public struct Code: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: Int32
        public init(rawValue: Int32) { self.rawValue = rawValue }
        init(_ err: rd_kafka_resp_err_t) { self.rawValue = err.rawValue }

        public static let noError = Code(RD_KAFKA_RESP_ERR_NO_ERROR)
        public static let messageTimedOut = Code(RD_KAFKA_RESP_ERR__MSG_TIMED_OUT)
        public static let timedOut = Code(RD_KAFKA_RESP_ERR__TIMED_OUT)
        public static let transport = Code(RD_KAFKA_RESP_ERR__TRANSPORT)
        public static let allBrokersDown = Code(RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN)
        public static let unknownTopic = Code(RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC)
        public static let unknownTopicOrPartition = Code(RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART)
        public static let topicAlreadyExists = Code(RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS)
        public static let notLeaderForPartition = Code(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION)
        public static let requestTimedOut = Code(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT)
        public static let notEnoughReplicas = Code(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS)
        public static let queueFull = Code(RD_KAFKA_RESP_ERR__QUEUE_FULL)
        public static let invalidArgument = Code(RD_KAFKA_RESP_ERR__INVALID_ARG)
        public static let unsupportedFeature = Code(RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE)
        public static let invalidRequest = Code(RD_KAFKA_RESP_ERR_INVALID_REQUEST)
        public static let destroyed = Code(RD_KAFKA_RESP_ERR__DESTROY)
        public static let state = Code(RD_KAFKA_RESP_ERR__STATE)
        public static let fatal = Code(RD_KAFKA_RESP_ERR__FATAL)

        /// librdkafka's symbolic name, e.g. `NOT_LEADER_FOR_PARTITION` or `_MSG_TIMED_OUT`.
        public var name: String { String(cString: rd_kafka_err2name(rd_kafka_resp_err_t(rawValue: rawValue))) }
        public var description: String { name }
    }
}
