import Foundation
import MedBusAdmin
import MedBusKafka
import MedBusRegistry
import XCTest

/// One audit log: registry changes, replays (CLI and API), token changes and payload views land in
/// the registry's append-only log once each, with actor, role, time and outcome, are listed by
/// `/v1/audit`, and are forwarded to `medbus.audit`.
final class AdminAuditTests: XCTestCase {
    func testOperatorSessionIsAuditedOnceEachAndForwarded() async throws {
        let fixture = try await AdminFixture()
        let started = Date().addingTimeInterval(-1)
        // Registry changes, as `medbus mapping publish|rollback` makes them.
        _ = try fixture.registry.publish(name: "his.adt", content: Array("v1".utf8), author: "alice", note: "first")
        _ = try fixture.registry.publish(name: "his.adt", content: Array("v2".utf8), author: "alice", note: "second")
        _ = try fixture.registry.rollback(name: "his.adt", to: 1, author: "alice", note: "back")
        // A replay as `medbus dlq replay` (local) and one over the API; replaying again is skipped, not re-audited.
        try await fixture.produceDeadLetter(offset: 0)
        try await fixture.produceDeadLetter(offset: 1)
        let queue = DeadLetterQueue(kafka: fixture.kafka, trail: fixture.trail)
        let local = try await queue.replay(.init(), positions: [DeadLetterPosition(partition: 0, offset: 0)], actor: "alice", role: "local")
        XCTAssertEqual(local.replayed, ["dlq.routing/0/0"])
        let remote = try await fixture.client(.operator).call("POST", "v1/dlq/0:1/replay", as: DeadLetterQueue.ReplayResult.self)
        XCTAssertEqual(remote.replayed, ["dlq.routing/0/1"])
        let again = try await fixture.client(.admin).call("POST", "v1/dlq/0:1/replay", as: DeadLetterQueue.ReplayResult.self)
        XCTAssertEqual(again.alreadyReplayed, ["dlq.routing/0/1"])
        XCTAssertEqual(again.replayed, [])
        // The replayed originals are back on the raw topic, once each.
        let raw = try await KafkaTopicReader.read(config: fixture.kafka, topic: AdminFixture.rawTopic, since: started)
        XCTAssertEqual(raw.map { $0.valueString ?? "" }.sorted(), ["MSH|^~\\&|dead 0", "MSH|^~\\&|dead 1"])
        // A token change.
        let created = try await fixture.client(.admin).call("POST", "v1/tokens", json: try JSONSerialization.data(withJSONObject: ["name": "bob", "role": "operator"]), as: CreatedToken.self)

        let reply = try await fixture.client(.auditor).send("GET", "v1/audit", query: ["since": ISO8601DateFormatter().string(from: started)])
        XCTAssertEqual(reply.status, 200, reply.text)
        let all = try XCTUnwrap(reply.json["entries"] as? [[String: Any]])
        func entries(_ action: String) -> [[String: Any]] { all.filter { $0["action"] as? String == action } }
        XCTAssertEqual(entries("mapping.publish").count, 2)
        XCTAssertEqual(entries("mapping.rollback").count, 1)
        XCTAssertEqual(entries("mapping.rollback").first?["actor"] as? String, "alice")
        let replays = entries("dlq.replay")
        XCTAssertEqual(replays.map { $0["object"] as? String }, ["dlq.routing/0/0", "dlq.routing/0/1"], "each replay once, the skipped one not at all")
        XCTAssertEqual(replays.map { $0["actor"] as? String }, ["alice", "test-operator"])
        XCTAssertEqual(replays.map { $0["role"] as? String }, ["local", "operator"])
        let tokenEntries = entries("token.create")
        XCTAssertEqual(tokenEntries.count, 1)
        XCTAssertEqual(tokenEntries.first?["object"] as? String, "token:\(created.info.id)")
        XCTAssertEqual(tokenEntries.first?["actor"] as? String, "test-admin")
        for entry in all {
            let at = try XCTUnwrap((entry["at"] as? String).flatMap(ISO8601DateFormatter().date(from:)), "\(entry)")
            XCTAssertGreaterThanOrEqual(at, started.addingTimeInterval(-1))
            XCTAssertFalse((entry["detail"] as? String ?? "").contains(created.token.suffix(64)), "no token in the audit log")
        }
        // Filters.
        let byAlice = try await fixture.client(.admin).call("GET", "v1/audit", query: ["actor": "alice"], as: [String: [AuditRecord]].self)
        XCTAssertEqual(Set(byAlice["entries"]!.map(\.actor)), ["alice"])

        // The feed: every entry on medbus.audit, keyed by id, JSON as /v1/audit shows it.
        let producer = try KafkaProducer(config: fixture.kafka)
        let forwarder = AuditForwarder(trail: fixture.trail, database: fixture.database, producer: producer)
        let forwarded = try await forwarder.forwardPending()
        let second = try await forwarder.forwardPending()
        XCTAssertEqual(second, 0, "nothing forwarded twice")
        await producer.shutdown()
        let logged = try fixture.registry.auditLog.entries()
        XCTAssertEqual(forwarded, logged.count)
        let records = try await KafkaTopicReader.read(config: fixture.kafka, topic: AuditForwarder.topic, since: started)
        XCTAssertEqual(records.compactMap(\.keyString), logged.map { String($0.id) })
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .iso8601
        let first = try decoder.decode(AuditRecord.self, from: Data(try XCTUnwrap(records.first?.value)))
        XCTAssertEqual(first.action, logged.first?.action)
        XCTAssertEqual(first.actor, logged.first?.actor)
        await fixture.shutdown()
    }
}
