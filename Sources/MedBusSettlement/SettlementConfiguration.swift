/// How the orchestrator talks to insurers and how patient it is with them.
public struct SettlementConfiguration: Sendable {
    /// What to do when the commercial insurer does not answer a claim within its retries.
    public enum CommercialFallback: String, Sendable, Codable {
        /// Complete the visit with the patient paying the commercial share and queue a claim on
        /// `settlement.claims.<insurer>` for later reimbursement (default: the patient never waits
        /// at the counter for a commercial insurer).
        case queueClaim
        /// Keep re-sending the claim (same msgid) until the insurer answers.
        case wait
    }

    /// Envelope fields of the national platform that come from configuration, not from requests.
    public struct Platform: Sendable {
        /// Sign-in serial number (from 9001; configured until the NHSA adapter signs in itself).
        public var signNo: String
        public var recerSysCode: String
        public var infver: String
        public var opterType: String
        public var opter: String
        public var opterName: String

        public init(signNo: String, recerSysCode: String = "SDYB", infver: String = "V1.0", opterType: String = "1",
                    opter: String = "medbus", opterName: String = "MedBus") {
            self.signNo = signNo
            self.recerSysCode = recerSysCode
            self.infver = infver
            self.opterType = opterType
            self.opter = opter
            self.opterName = opterName
        }
    }

    public var platform: Platform
    /// Commercial insurers whose `insurer.<id>.replies` topics are consumed (the topics must exist).
    public var commercialInsurers: [String]
    /// How long a step waits for its reply before the request is sent again.
    public var stepTimeout: Duration
    /// Sends of one forward request (same msgid) before the step counts as failed.
    public var maxAttempts: Int
    /// 2207 attempts (each after a confirmed 2601 reversal of the previous one) before giving up.
    public var maxSettlementRounds: Int
    public var commercialFallback: CommercialFallback
    /// Pause before re-sending after `infcode = -1` on steps other than 2207.
    public var retryDelay: Duration
    /// The designated institutions (fixmedins_code) this MedBus settles for; a request from any
    /// other is refused (`SettlementError.unknownHospital`, dead-lettered from the topic). Empty:
    /// every hospital.
    public var hospitals: Set<String>
    /// Where requests that cannot be processed go, with the reason in `medbus-error-reason`.
    public var deadLetterTopic: String

    public init(
        platform: Platform = Platform(signNo: "SN00000000000000"),
        commercialInsurers: [String] = [],
        stepTimeout: Duration = .seconds(5),
        maxAttempts: Int = 3,
        maxSettlementRounds: Int = 3,
        commercialFallback: CommercialFallback = .queueClaim,
        retryDelay: Duration = .milliseconds(200),
        hospitals: Set<String> = [],
        deadLetterTopic: String = "dlq.settlement"
    ) {
        self.platform = platform
        self.commercialInsurers = commercialInsurers
        self.stepTimeout = stepTimeout
        self.maxAttempts = maxAttempts
        self.maxSettlementRounds = maxSettlementRounds
        self.commercialFallback = commercialFallback
        self.retryDelay = retryDelay
        self.hospitals = hospitals
        self.deadLetterTopic = deadLetterTopic
    }
}
