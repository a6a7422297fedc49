import Foundation
import Logging
import MedBusCore
@testable import MedBusDispatch
import MedBusHL7
import MedBusKafka
import MedBusMapping
import MedBusMLLP
import MedBusOutbound
import MedBusRouting
import NIOConcurrencyHelpers
import XCTest

/// Pre-arrival notices reach an emergency department's HIS as HL7 ADT^A05 through the real chain:
/// CAD over TCP → adapter → `dispatch.events` → timeline → `dispatch.prearrival.<hospital>` →
/// routing core with the shipped mapping (`Mappings/dispatch/prearrival-adt-a05.yaml`) →
/// `outbound.his.H37010200001` → outbound MLLP dispatcher → the HIS (an MLLP server in the test).
final class PrearrivalHL7Tests: XCTestCase {
    static let ed = "H37010200001"
    static let outboundTopic = "outbound.his.H37010200001"

    func testShippedMappingGoldenCasesPass() {
        let report = GoldenTests.run(testFile: URL(fileURLWithPath: DispatchFixture.repository + "/Mappings/dispatch/tests/prearrival-adt-a05.yaml"))
        XCTAssertTrue(report.passed, report.rendered)
    }

    /// The HIS is down at first, then answers AE to the first delivery of every version-2 A05:
    /// each task headed to it still gets every notice version exactly once, in order, and the
    /// last one carries the task's latest vitals and ETA. Tasks for other hospitals send it nothing.
    func testEmergencyDepartmentGetsEveryVersionInOrderThroughOutageAndNack() async throws {
        let fixture = try await DispatchFixture(extraTopics: [Self.outboundTopic, "dlq.routing", "dlq.outbound"])
        let his = EDReceiver { _, version, receipts in version == 2 && receipts == 0 ? .error : .accept }
        let hisPort = try await his.start(port: 0)
        his.stop()  // down until the first notices are waiting

        let routing = RoutingCore(
            configuration: RoutingConfiguration(
                kafka: fixture.kafka, groupID: "test-router", inputTopics: try DispatchFixture.hospitals.map { try TopicName.dispatchPrearrival(hospital: $0) },
                transactionalID: "test-router-\(UUID().uuidString.prefix(6))", maxBatch: 100, recoveryWindow: .seconds(60)
            ),
            router: try ShippedMappingRouter(file: DispatchFixture.repository + "/Mappings/dispatch/prearrival-adt-a05.yaml"),
            logger: DispatchFixture.quiet("test.routing")
        )
        let dispatcher = OutboundDispatcher(
            kafka: fixture.kafka, topic: Self.outboundTopic, groupID: "test-ed-out",
            transport: MLLPDestination(host: "127.0.0.1", port: hisPort, timeout: .seconds(2), logger: DispatchFixture.quiet("test.mllp")),
            policy: DeliveryPolicy(maxAttempts: 1000, initialBackoff: .milliseconds(100), maxBackoff: .milliseconds(500), attemptTimeout: .seconds(2)),
            logger: DispatchFixture.quiet("test.outbound")
        )
        let background = [Task { try await routing.run() }, Task { try await dispatcher.run() }]

        // Six tasks, two per hospital, each en route with three later rounds of vitals and one ETA change.
        let tasks = (0..<6).map { (id: "T-ED-\($0)", hospital: DispatchFixture.hospitals[$0 % 3]) }
        var lines: [[UInt8]] = []
        for task in tasks { lines += Self.untilLeavingScene(task.id, hospital: task.hospital) }
        _ = try await Self.send(lines, to: fixture)
        try await fixture.waitForNotices(tasks: tasks.map(\.id), version: 1)
        try await Task.sleep(for: .seconds(2))  // deliveries fail while the HIS is down
        XCTAssertTrue(his.accepted.isEmpty)
        _ = try await his.start(port: hisPort)

        for round in 1...3 {
            _ = try await Self.send(tasks.map { Self.vitals($0.id, round: round) } + (round == 2 ? tasks.map { Self.eta($0.id) } : []), to: fixture)
            try await fixture.waitForNotices(tasks: tasks.map(\.id), version: round + 1)
        }
        _ = try await Self.send(tasks.map { Self.arrived($0.id) }, to: fixture)

        // Every version of every task for this ED, once, in order; the last with the latest data.
        // (The timeline may still be publishing the last version: read what it sent each time.)
        let headedHere = tasks.filter { $0.hospital == Self.ed }.map(\.id)
        func sent() throws -> [String: [Int]] {
            try Dictionary(uniqueKeysWithValues: headedHere.map { ($0, try fixture.timelines.notices(of: $0).map(\.notice.version)) })
        }
        var expected = try sent()
        let deadline = ContinuousClock.now + .seconds(60)
        while try his.versionsByTask != expected || !fixture.timelines.unpublishedNotices().isEmpty, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(200))
            expected = try sent()
        }
        XCTAssertEqual(expected.count, 2)
        // new + one update per vitals round at least (the ETA change may come in its own batch: one more).
        XCTAssertTrue(expected.values.allSatisfy { $0.count >= 4 && $0 == Array(1...$0.count) }, "\(expected)")
        XCTAssertEqual(his.versionsByTask, expected, "every version once, in order, only for tasks headed to this ED")
        XCTAssertGreaterThan(his.nacked, 0, "the HIS refused some deliveries with AE")
        XCTAssertGreaterThan(dispatcher.statistics.retried, 0, "the dispatcher retried through the outage and the AEs")
        XCTAssertEqual(dispatcher.statistics.deadLettered, 0)
        for (taskId, _) in expected {
            let last = try XCTUnwrap(his.lastMessage[taskId])
            XCTAssertEqual(last[try HL7Path("MSH-9.2")], "A05")
            XCTAssertEqual(last[try HL7Path("PV2-8")], "20250115104800+0800", "the changed ETA")
            let obx = try (1...max(1, last.segments(withID: "OBX").count)).map { n in
                (last[try HL7Path("OBX[\(n)]-3.1")] ?? "", last[try HL7Path("OBX[\(n)]-5")] ?? "")
            }
            XCTAssertTrue(obx.contains { $0 == ("heartRate", "103") }, "round 3 vitals: \(obx)")
        }

        for task in background { task.cancel() }
        for task in background { _ = try? await task.value }
        his.stop()
        await fixture.stop()
    }

    // MARK: The CAD's events

    static func line(_ fields: String) -> [UInt8] { Array("{\(fields)}".utf8) }

    static func untilLeavingScene(_ task: String, hospital: String) -> [[UInt8]] {
        let base = #""taskId":"\#(task)","centreCode":"JN120""#
        return [
            line(#""eventId":"\#(task)-1",\#(base),"stage":"call-received","acceptStartTime":"2025-01-15T10:00:00+08:00","sickCondition":"胸痛""#),
            line(#""eventId":"\#(task)-2",\#(base),"stage":"dispatched","sendCarTime":"2025-01-15T10:02:00+08:00","vehicle":{"carIdentity":"JN120-017","licensePlate":"鲁A12345"}"#),
            line(#""eventId":"\#(task)-3",\#(base),"stage":"departed","outCarTime":"2025-01-15T10:04:00+08:00""#),
            line(#""eventId":"\#(task)-4",\#(base),"stage":"arrived-scene","arriveSpotTime":"2025-01-15T10:15:00+08:00""#),
            line(#""eventId":"\#(task)-5",\#(base),"stage":"assessment","occurredAt":"2025-01-15T10:18:00+08:00","chiefComplaint":"胸痛2小时","firstImpression":"急性冠脉综合征?","triageLevel":1,"pathway":"chest-pain","patient":{"tempId":"JZ-\#(task)","gender":"male","age":58}"#),
            line(#""eventId":"\#(task)-6",\#(base),"stage":"left-scene","leaveSpotTime":"2025-01-15T10:25:00+08:00","destinationHospital":"\#(hospital)","eta":"2025-01-15T10:45:00+08:00""#),
        ]
    }

    static func vitals(_ task: String, round: Int) -> [UInt8] {
        line(#""eventId":"\#(task)-v\#(round)","taskId":"\#(task)","stage":"vitals","occurredAt":"2025-01-15T10:\#(26 + round * 3):00+08:00","vitals":[{"code":"sbp","value":\#(100 + round)},{"code":"heartRate","value":\#(100 + round)},{"code":"spo2","value":95}]"#)
    }

    static func eta(_ task: String) -> [UInt8] {
        line(#""eventId":"\#(task)-g1","taskId":"\#(task)","stage":"gps","occurredAt":"2025-01-15T10:33:00+08:00","gps":{"latitude":36.65,"longitude":117.12},"eta":"2025-01-15T10:48:00+08:00""#)
    }

    static func arrived(_ task: String) -> [UInt8] {
        line(#""eventId":"\#(task)-9","taskId":"\#(task)","stage":"arrived-hospital","arrivedHospitalTime":"2025-01-15T10:47:00+08:00""#)
    }

    static func send(_ lines: [[UInt8]], to fixture: DispatchFixture) async throws -> [JSONValue] {
        let acks = try await sendOverTCP(port: fixture.tcpPort, lines: lines)
        XCTAssertEqual(acks.compactMap(\.status), Array(repeating: "accepted", count: lines.count), "\(acks.map(\.jsonText))")
        return acks
    }
}

extension DispatchFixture {
    /// Waits until each task's notice `version` is on Kafka.
    func waitForNotices(tasks: [String], version: Int, timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        func done() throws -> Bool {
            try tasks.allSatisfy { task in try timelines.notices(of: task).contains { $0.notice.version >= version && $0.published } }
        }
        while try !done(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(100)) }
        XCTAssertTrue(try done(), "notice version \(version) published for every task")
    }
}

/// The router `medbus serve` runs, reduced to what this test needs: the shipped mapping file,
/// compiled by the mapping engine, applied to each notice.
struct ShippedMappingRouter: MessageRouter {
    let catalog: MappingCatalog
    let version = "prearrival-adt-a05@test"
    let targetTopics: Set<String>

    init(file: String) throws {
        let mapping = try Mapping.compile(try MappingBundle.load(mappingFile: URL(fileURLWithPath: file)))
        catalog = MappingCatalog([mapping])
        targetTopics = catalog.targetTopics
    }

    func route(_ message: KafkaConsumerMessage) -> RouteDecision {
        var headers: [String: String] = [:]
        for header in message.headers { if let value = header.stringValue { headers[header.key] = value } }
        switch catalog.apply(MappingInput(payload: message.value ?? [], headers: headers)) {
        case .success(.filtered): return .skip
        case .success(.records(let records)):
            let id = headers[MessageEnvelope.Header.id] ?? "\(message.partition)-\(message.offset)"
            return .route(records.map { record in
                RoutedRecord(topic: record.topic, key: record.key.map { Array($0.utf8) }, value: record.value, headers: [
                    KafkaHeader(key: MessageEnvelope.Header.id, string: "\(id)-\(record.target)"),
                    KafkaHeader(key: MessageEnvelope.Header.contentType, string: record.contentType),
                ])
            })
        case .failure(let failure):
            return .deadLetter(DeadLetter(reason: failure.reason.rawValue, mapping: failure.mapping, message: failure.message))
        }
    }
}

/// The emergency department's HIS: an MLLP server that acknowledges A05s by a script and records,
/// per task (PV1-5), the notice versions (MSH-13) it accepted, each control id (MSH-10) once.
final class EDReceiver: Sendable {
    enum Answer { case accept, error }
    typealias Script = @Sendable (_ task: String, _ version: Int, _ previousReceipts: Int) -> Answer

    private struct State {
        var receipts: [String: Int] = [:]
        var acceptedIDs: Set<String> = []
        var versions: [String: [Int]] = [:]
        var last: [String: HL7Message] = [:]
        var nacked = 0
    }

    private let state = NIOLockedValueBox(State())
    private let server = NIOLockedValueBox<MLLPServer?>(nil)
    private let script: Script

    init(script: @escaping Script) { self.script = script }

    var versionsByTask: [String: [Int]] { state.withLockedValue { $0.versions } }
    var accepted: Set<String> { state.withLockedValue { $0.acceptedIDs } }
    var lastMessage: [String: HL7Message] { state.withLockedValue { $0.last } }
    var nacked: Int { state.withLockedValue { $0.nacked } }

    /// Listens on `port` (0: any) and returns the bound port.
    func start(port: Int) async throws -> Int {
        let acks = HL7AckBuilder()
        let server = MLLPServer(configuration: MLLPServer.Configuration(port: port), logger: DispatchFixture.quiet("test.ed")) { [self] unit, _ in
            guard case .message(let bytes) = unit, let message = try? HL7Message(parsing: bytes),
                  let control = message[try! HL7Path("MSH-10")], let task = message[try! HL7Path("PV1-5")],
                  let version = message[try! HL7Path("MSH-13")].flatMap(Int.init) else { return nil }
            let answer = state.withLockedValue { state -> Answer in
                let seen = state.receipts[control, default: 0]
                state.receipts[control] = seen + 1
                let answer = script(task, version, seen)
                if answer == .error { state.nacked += 1 } else if state.acceptedIDs.insert(control).inserted {
                    state.versions[task, default: []].append(version)
                    state.last[task] = message
                }
                return answer
            }
            let issues = answer == .error ? [HL7Issue(code: .applicationInternalError, diagnostic: "HIS busy")] : []
            return try? acks.acknowledge(message, issues: issues)?.serialize()
        }
        self.server.withLockedValue { $0 = server }
        let bound = NIOLockedValueBox(0)
        Task { try await server.run { port in bound.withLockedValue { $0 = port } } }
        while bound.withLockedValue({ $0 }) == 0 { try await Task.sleep(for: .milliseconds(10)) }
        return bound.withLockedValue { $0 }
    }

    func stop() { server.withLockedValue { $0?.shutdown() } }
}
