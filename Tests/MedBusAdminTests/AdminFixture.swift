import Foundation
import Logging
import MedBusAdmin
import MedBusAdminViews
import MedBusCore
import MedBusDispatch
import MedBusKafka
import MedBusPrescription
import MedBusRegistry
import MedBusRouting
import MedBusSettlement
import MedBusStore
import XCTest

/// A running admin server over real components: an embedded Kafka cluster on loopback, the SQLite
/// store, registry, token database and the component stores (settlement saga log, prescriptions,
/// dispatch timelines) in a temporary directory, Hummingbird on an ephemeral port. One token per role. Logs of the server go to `logs` (for the tokens-never-logged check).
final class AdminFixture: @unchecked Sendable {
    let directory: String
    let cluster: EmbeddedKafkaCluster
    let kafka: KafkaConfig
    let store: MessageStore
    let registry: MappingRegistry
    let database: AdminDatabase
    let tokenStore: TokenStore
    let trail: AuditTrail
    let settlements: SettlementOrchestrator
    let prescriptions: RxLedger
    let dispatch: TimelineStore
    let server: AdminServer
    let logs = CapturedLogs()
    private(set) var port = 0
    private(set) var tokens: [AdminRole: String] = [:]
    private var serving: Task<Void, Error>?

    static let rawTopic = "raw.his.admintest"

    init(file: StaticString = #filePath, line: UInt = #line) async throws {
        directory = NSTemporaryDirectory() + "medbus-admin-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        cluster = try EmbeddedKafkaCluster(brokers: 1)
        for (topic, partitions) in [(Self.rawTopic, 2), ("dlq.routing", 1), (AuditForwarder.topic, 1),
                                   ("settlement.requests", 1), ("settlement.results", 1), ("insurer.nhsa.requests", 1), ("insurer.nhsa.replies", 1)] {
            try cluster.createTopic(topic, partitions: partitions, replicationFactor: 1)
        }
        kafka = KafkaConfig(bootstrapServers: cluster.bootstrapServers, properties: ["session.timeout.ms": "6000", "log_level": "3"])
        store = try MessageStore.open(directory: directory)
        registry = try MappingRegistry.open(directory: URL(fileURLWithPath: directory))
        database = try AdminDatabase(directory: directory)
        tokenStore = TokenStore(database: database)
        trail = AuditTrail(log: registry.auditLog)
        // A saga that gets no insurer reply fails after one short attempt: a settlement with a result to view.
        settlements = try SettlementOrchestrator(kafka: kafka, storeDirectory: directory,
                                                 configuration: SettlementConfiguration(stepTimeout: .milliseconds(300), maxAttempts: 1),
                                                 logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() })
        prescriptions = try RxLedger(directory: directory)
        dispatch = try TimelineStore.open(directory: directory, vitalSigns: VitalSigns([]))
        for role in AdminRole.allCases {
            tokens[role] = try tokenStore.create(name: "test-\(role.rawValue)", role: role, createdBy: "fixture").token
        }
        var logger = Logger(label: "medbus.admin.test") { [logs] label in CapturingHandler(logs: logs) }
        logger.logLevel = .trace
        let kafkaAdmin = try KafkaAdmin(config: kafka, logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() })
        server = AdminServer(
            configuration: .init(host: "127.0.0.1", port: 0), tokens: tokenStore, trail: trail,
            readiness: .standard(kafka: kafkaAdmin, store: store, timeout: .seconds(1)),
            routes: [MessageRoutes(store: store), RegistryRoutes(registry: registry),
                     DeadLetterRoutes(queue: DeadLetterQueue(kafka: kafka, trail: trail, logger: logger)),
                     SettlementViews(orchestrator: settlements), PrescriptionViews(ledger: prescriptions), DispatchViews(store: dispatch)],
            logger: logger)
        let bound = AsyncStream<Int>.makeStream()
        serving = Task { [server] in try await server.run { bound.continuation.yield($0) } }
        for await port in bound.stream { self.port = port; break }
    }

    func client(_ role: AdminRole?) -> AdminClient {
        AdminClient(server: URL(string: "http://127.0.0.1:\(port)")!, token: role.map { tokens[$0]! })
    }

    func client(token: String) -> AdminClient {
        AdminClient(server: URL(string: "http://127.0.0.1:\(port)")!, token: token)
    }

    /// Stores a message as an adapter would (published), so search and show have something to find.
    func storeMessage(id: String, sourceMessageId: String, payload: String) async throws {
        let message = StoredMessage(id: id, source: "his.admintest", sourceMessageId: sourceMessageId, type: "ADT^A01",
                                    contentType: "x-application/hl7-v2+er7", status: .published, receivedAt: Date(),
                                    correlationId: "corr-\(sourceMessageId)", topic: Self.rawTopic, payload: Data(payload.utf8))
        _ = try await store.insert(message)
    }

    /// A dead letter as the routing core writes it (original at raw topic partition 0, offset `offset`).
    func produceDeadLetter(offset: Int, reason: String = "missing-code") async throws {
        let producer = try KafkaProducer(config: kafka)
        var headers = MessageEnvelope(id: "dead-\(offset)", source: "his.admintest", messageType: "ADT^A01", contentType: "x-application/hl7-v2+er7").headers
        headers += [
            KafkaHeader(key: RoutingHeader.errorReason, string: reason), KafkaHeader(key: RoutingHeader.errorMapping, string: "his.adt"),
            KafkaHeader(key: RoutingHeader.errorMessage, string: "no code for PATIENT-SECRET-NAME"),
            KafkaHeader(key: RoutingHeader.sourceTopic, string: Self.rawTopic), KafkaHeader(key: RoutingHeader.sourcePartition, string: "0"),
            KafkaHeader(key: RoutingHeader.sourceOffset, string: String(offset)),
        ]
        let report = try await producer.send(KafkaProducerMessage(topic: "dlq.routing", key: "patient-1", value: "MSH|^~\\&|dead \(offset)", headers: headers))
        await producer.shutdown()
        XCTAssertNil(report.error)
    }

    func shutdown() async {
        serving?.cancel()
        _ = try? await serving?.value
        try? store.close()
        try? registry.close()
        try? database.close()
        prescriptions.close()
        try? dispatch.close()
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// Every log line of the server, as rendered text (message and metadata).
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var text: String { lock.withLock { lines.joined(separator: "\n") } }
    var count: Int { lock.withLock { lines.count } }
}

struct CapturingHandler: LogHandler {
    let logs: CapturedLogs
    var logLevel: Logger.Level = .trace
    var metadata: Logger.Metadata = [:]
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        logs.append("\(event.level) \(event.message) \(all.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))")
    }
}

extension AdminClient.Reply {
    var json: [String: Any] { (try? JSONSerialization.jsonObject(with: body) as? [String: Any]) ?? [:] }
    var text: String { String(decoding: body, as: UTF8.self) }
}
