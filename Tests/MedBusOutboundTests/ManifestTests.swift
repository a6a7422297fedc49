import Foundation
import MedBusAdapterSDK
@testable import MedBusOutbound
import XCTest

/// Destination manifests: the two example files, and a specific error for each kind of mistake.
final class ManifestTests: XCTestCase {
    static let mllpExample = """
    # HL7 v2 pre-arrival notices to the emergency department's HIS of one hospital.
    kind: mllp-out
    name: ed-his-h37010200001
    topic: dispatch.prearrival.H37010200001
    connect: 10.20.0.15:2575
    options:
      timeoutSeconds: 10
      maxAttempts: 10
      initialBackoffMilliseconds: 200
      maxBackoffSeconds: 30
    """

    static let httpExample = """
    # Canonical encounters POSTed to the regional platform.
    kind: http-out
    name: regional-platform-encounters
    topic: canonical.encounter
    url: http://10.20.0.16:8080/medbus/encounters
    group: medbus-out.regional-platform
    deadLetterTopic: dlq.outbound
    headers:
      Authorization: Bearer change-me
    options:
      timeoutSeconds: 5
      maxAttempts: 8
    """

    func testExamplesLoad() throws {
        let mllp = try DestinationManifest.parse(yaml: Self.mllpExample)
        XCTAssertEqual(mllp.kind, .mllpOut)
        XCTAssertEqual(mllp.name, "ed-his-h37010200001")
        XCTAssertEqual(mllp.topic, "dispatch.prearrival.H37010200001")
        XCTAssertEqual(mllp.target, .mllp(host: "10.20.0.15", port: 2575))
        XCTAssertEqual(mllp.groupID, "medbus-out.ed-his-h37010200001")
        XCTAssertEqual(mllp.deadLetterTopic, "dlq.outbound")
        XCTAssertEqual(mllp.policy, DeliveryPolicy(maxAttempts: 10, initialBackoff: .milliseconds(200), maxBackoff: .seconds(30), attemptTimeout: .seconds(10)))
        XCTAssertEqual(try mllp.makeTransport().destination, "mllp://10.20.0.15:2575")

        let http = try DestinationManifest.parse(yaml: Self.httpExample)
        XCTAssertEqual(http.kind, .httpOut)
        XCTAssertEqual(http.target, .http(url: "http://10.20.0.16:8080/medbus/encounters"))
        XCTAssertEqual(http.groupID, "medbus-out.regional-platform")
        XCTAssertEqual(http.headers, ["Authorization": "Bearer change-me"])
        XCTAssertEqual(http.policy.maxAttempts, 8)
        XCTAssertEqual(http.policy.attemptTimeout, .seconds(5))
        XCTAssertEqual(http.policy.initialBackoff, .milliseconds(200), "defaults for options not given")
        let transport = try XCTUnwrap(try http.makeTransport() as? HTTPDestination)
        XCTAssertEqual(transport.destination, "http://10.20.0.16:8080/medbus/encounters")
        XCTAssertEqual(transport.timeout, .seconds(5))
        let dispatcher = try http.makeDispatcher(kafka: .init(bootstrapServers: "127.0.0.1:1"))
        XCTAssertEqual(dispatcher.destinationName, "regional-platform-encounters")
        XCTAssertEqual(dispatcher.topic, "canonical.encounter")
    }

    func testLoadAllReadsAFolderAndRefusesDuplicateNames() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("dest-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try Self.mllpExample.write(toFile: "\(directory)/ed-his.yaml", atomically: true, encoding: .utf8)
        try Self.httpExample.write(toFile: "\(directory)/regional.yaml", atomically: true, encoding: .utf8)
        try "not a manifest".write(toFile: "\(directory)/README.md", atomically: true, encoding: .utf8)
        XCTAssertEqual(try DestinationManifest.loadAll(directory: directory).map(\.name), ["ed-his-h37010200001", "regional-platform-encounters"])
        XCTAssertEqual(try DestinationManifest.load(path: "\(directory)/ed-his.yaml").file, "\(directory)/ed-his.yaml")

        try Self.mllpExample.write(toFile: "\(directory)/copy.yaml", atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try DestinationManifest.loadAll(directory: directory)) { error in
            XCTAssertTrue("\(error)".contains("also used in"), "\(error)")
        }
        XCTAssertThrowsError(try DestinationManifest.load(path: "\(directory)/missing.yaml")) { error in
            XCTAssertEqual((error as? ManifestError)?.message, "cannot read file")
        }
    }

    func testMistakesGetSpecificErrors() {
        let base = "kind: mllp-out\nname: n\ntopic: t.x\nconnect: h:2575\n"
        let cases: [(String, String)] = [
            ("kind: mllp-in\nname: n\ntopic: t\nconnect: h:1\n", "'kind' must be one of mllp-out, http-out"),
            ("kind: mllp-out\nname: n\nconnect: h:1\n", "'topic' is required"),
            ("kind: mllp-out\nname: n\ntopic: t\n", "'connect' is required"),
            ("kind: mllp-out\nname: n\ntopic: t\nconnect: h\n", "'connect' must be host:port"),
            ("kind: mllp-out\nname: n\ntopic: t\nconnect: h:70000\n", "'connect' must be host:port"),
            ("kind: mllp-out\nname: n\ntopic: t\nurl: http://h/\n", "'url' belongs to http-out"),
            ("kind: http-out\nname: n\ntopic: t\nurl: http://h/\ntls: {}\n", "'tls' needs an https url"),
            ("kind: http-out\nname: n\ntopic: t\n", "'url' is required"),
            ("kind: http-out\nname: n\ntopic: t\nurl: http://h/\nheaders: [a]\n", "'headers' must be a mapping"),
            (base + "options:\n  maxAttempts: 0\n", "options.maxAttempts must be a positive integer"),
            (base + "options:\n  timeoutSecs: 5\n", "unknown options [\"timeoutSecs\"]"),
            (base + "options:\n  initialBackoffMilliseconds: 5000\n  maxBackoffSeconds: 1\n", "maxBackoffSeconds must not be below"),
            (base + "listen: 0.0.0.0:1\n", "unknown keys [\"listen\"]"),
            (base + "deadLetterTopic: t.x\n", "'deadLetterTopic' must differ from 'topic'"),
            ("kind: mllp-out\nname: a b\ntopic: t\nconnect: h:1\n", "'name' may hold only"),
            ("kind: mllp-out\nname: n\ntopic: bad topic\nconnect: h:1\n", "'topic' is not a valid Kafka topic name"),
            ("- a\n- b\n", "expected a mapping"),
            ("kind: [unclosed\n", "not valid YAML"),
        ]
        for (yaml, expected) in cases {
            XCTAssertThrowsError(try DestinationManifest.parse(yaml: yaml, file: "bad.yaml"), expected) { error in
                guard let error = error as? ManifestError else { return XCTFail("\(error) is not a ManifestError") }
                XCTAssertEqual(error.file, "bad.yaml")
                XCTAssertTrue(error.message.contains(expected), "expected '\(expected)', got '\(error.message)'")
            }
        }
    }
}
