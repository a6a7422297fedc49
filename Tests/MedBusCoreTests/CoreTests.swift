import Foundation
import MedBusCore
import MedBusKafka
import XCTest

final class EnvelopeTests: XCTestCase {
    func testHeadersRoundTrip() throws {
        let envelope = MessageEnvelope(
            source: "his.H37010200001", sourceMessageId: "HIS01|CTL0001", messageType: "ADT^A01",
            contentType: "x-application/hl7-v2+er7; charset=GB18030",
            receivedAt: Date(timeIntervalSince1970: 1_736_908_245.123), correlationId: "visit-1",
            schemaVersion: "patient/3", traceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
        )
        let decoded = try MessageEnvelope(headers: envelope.headers)
        XCTAssertEqual(decoded, envelope)
        XCTAssertEqual(envelope.headers.string(MessageEnvelope.Header.receivedAt), "2025-01-15T02:30:45.123Z")
    }

    func testOptionalHeadersAreOmittedAndRequiredOnesChecked() throws {
        let envelope = MessageEnvelope(source: "dispatch.jn120", messageType: "dispatch.vitals", contentType: "application/json")
        XCTAssertEqual(envelope.headers.map(\.key), ["medbus-message-id", "medbus-source", "medbus-message-type", "content-type", "medbus-received-at"])
        var headers = envelope.headers
        headers.removeAll { $0.key == MessageEnvelope.Header.source }
        XCTAssertThrowsError(try MessageEnvelope(headers: headers)) { XCTAssertEqual($0 as? EnvelopeError, .missingHeader("medbus-source")) }
        headers = envelope.headers.map { $0.key == MessageEnvelope.Header.receivedAt ? KafkaHeader(key: $0.key, string: "yesterday") : $0 }
        XCTAssertThrowsError(try MessageEnvelope(headers: headers)) {
            XCTAssertEqual($0 as? EnvelopeError, .malformedHeader("medbus-received-at", expected: "RFC 3339 timestamp"))
        }
    }
}

final class TopicNameTests: XCTestCase {
    func testNamesFollowTheConventions() throws {
        XCTAssertEqual(try TopicName.rawHIS(hospital: "H37010200001"), "raw.his.H37010200001")
        XCTAssertEqual(try TopicName.insurerReplies("sdyb"), "insurer.sdyb.replies")
        XCTAssertEqual(try TopicName.deadLetter(stage: "routing"), "dlq.routing")
        // A segment may not smuggle in a dot (another party's topic) or illegal characters.
        XCTAssertThrowsError(try TopicName.rawHIS(hospital: "H1.replies"))
        XCTAssertThrowsError(try TopicName.rawHIS(hospital: ""))
        XCTAssertThrowsError(try TopicName.rawHIS(hospital: "医院"))
        XCTAssertTrue(TopicName.isValid("canonical.patient"))
        XCTAssertFalse(TopicName.isValid(".."))
        XCTAssertFalse(TopicName.isValid(String(repeating: "a", count: 250)))
    }
}

final class TopicsFileTests: XCTestCase {
    func testDeployTopicsFileLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let topics = try TopicsFile.load(path: root.appendingPathComponent("deploy/topics.yaml").path)
        let mappings = try XCTUnwrap(topics.first { $0.name == "medbus.mappings" })
        XCTAssertEqual(mappings.configs["cleanup.policy"], "compact")
        XCTAssertTrue(topics.contains { $0.name == "settlement.requests" })
    }

    func testErrorsNameTheEntry() {
        let cases: [(String, String)] = [
            ("topics: nope", "expected a mapping with a 'topics' list"),
            ("topics:\n  - name: a\n    partitions: 0\n    replication: 1", "topics[0] (a): partitions must be a positive integer"),
            ("topics:\n  - name: a\n    partitions: 1\n    replication: 1\n    colour: red", "topics[0] has unknown keys [\"colour\"]"),
            ("topics:\n  - name: a\n    partitions: 1\n    replication: 1\n  - name: a\n    partitions: 1\n    replication: 1", "topics[1]: topic 'a' listed twice"),
            ("topics:\n  - name: 'bad name'\n    partitions: 1\n    replication: 1", "topics[0].name is missing or not a valid topic name"),
            ("topics: [\n", "not valid YAML"),
        ]
        for (text, expected) in cases {
            XCTAssertThrowsError(try TopicsFile.parse(text, file: "t.yaml")) { error in
                XCTAssertTrue("\(error)".hasPrefix("t.yaml: \(expected)"), "\(error)")
            }
        }
    }
}

final class TopicProvisionerTests: XCTestCase {
    /// Applying twice creates once; an existing topic that differs is reported, never altered.
    func testApplyIsIdempotentAndReportsDrift() async throws {
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic("rx.events", partitions: 3)
        let admin = try KafkaAdmin(config: KafkaConfig(bootstrapServers: cluster.bootstrapServers))
        let provisioner = TopicProvisioner(admin: admin, embedded: cluster)
        let wanted = [
            NewTopic(name: "settlement.requests", partitions: 12, replicationFactor: 3),
            NewTopic(name: "rx.events", partitions: 12, replicationFactor: 3),
        ]
        let first = try await provisioner.apply(wanted)
        XCTAssertEqual(first.map(\.outcome), [.created, .exists(drift: ["partitions 3 (file: 12)"])])
        let second = try await provisioner.apply(wanted)
        XCTAssertEqual(second.map(\.outcome), [.exists(drift: []), .exists(drift: ["partitions 3 (file: 12)"])])
        let created = try await admin.describeTopic("settlement.requests")
        let existing = try await admin.describeTopic("rx.events")
        XCTAssertEqual(created.partitions.count, 12)
        XCTAssertEqual(existing.partitions.count, 3, "never altered")
    }
}
