import Foundation
import MedBusCore
import MedBusKafka
import MedBusTestSupport
import XCTest

/// The per-kind adapter executables (`Adapters/<Kind>/`, written over `AdapterProcess.run`) as an
/// operator starts them: the folder's own manifest, a real embedded cluster, a real MLLP socket.
final class AdapterExecutableTests: XCTestCase {
    static let executables = ["medbus-adapter-mllp", "medbus-adapter-http", "medbus-adapter-file", "medbus-adapter-dispatch"]

    func testMLLPAdapterAcknowledgesASampleAndPublishesItOnce() async throws {
        let topic = "raw.his.H37010200001"
        let cluster = try EmbeddedKafkaCluster(brokers: 3)
        try cluster.createTopic(topic, partitions: 2)
        // The folder's manifest, on a free port instead of 2575 (a `medbus serve` may hold that one).
        let shipped = try String(contentsOf: packageRoot.appendingPathComponent("Adapters/HL7MLLP/manifests/his-h37010200001.yaml"), encoding: .utf8)
        let manifest = shipped.replacingOccurrences(of: "listen: 127.0.0.1:2575", with: "listen: 127.0.0.1:0")
        XCTAssertNotEqual(manifest, shipped, "the shipped manifest listens on 127.0.0.1:2575")
        let dataDir = temporaryDirectory()
        try manifest.write(toFile: dataDir + "/his.yaml", atomically: true, encoding: .utf8)

        let adapter = try MedBusProcess([dataDir + "/his.yaml", "--brokers", cluster.bootstrapServers, "--data-dir", dataDir],
                                        executable: builtExecutable("medbus-adapter-mllp"))
        defer { if adapter.process.isRunning { adapter.signal(SIGKILL) } }
        try adapter.waitForOutput(timeout: 30) { $0.contains("Adapter his-h37010200001 (hl7v2-mllp) listening on 127.0.0.1:") }
        let port = try XCTUnwrap(adapter.stdout.split(separator: "\n").first { $0.contains(") listening on") }?.split(separator: ":").last.flatMap { Int($0) })

        // Original acknowledgement mode (no MSH-15/16): the application ACK is AA once the message is on Kafka.
        let sample = Array(try Data(contentsOf: packageRoot.appendingPathComponent("Adapters/samples/adt_a04.hl7")))
        let client = try MLLPTestClient(port: port)
        var acks: [String] = []
        for _ in 1...2 {  // the second send is the sender's retransmission
            client.sendFrame(sample)
            let ack = String(decoding: try XCTUnwrap(client.readFrame(), "an ACK frame"), as: UTF8.self)
            acks.append(try XCTUnwrap(ack.split(separator: "\r").first { $0.hasPrefix("MSA|") }.map(String.init), ack))
        }
        XCTAssertTrue(acks[0].hasPrefix("MSA|AA|"), acks[0])
        XCTAssertEqual(acks[1], acks[0], "a retransmission gets the same ACK")

        adapter.signal(SIGTERM)
        XCTAssertEqual(adapter.wait(timeout: 20), 0, "graceful stop on SIGTERM; stderr: \(adapter.stderr.suffix(500))")
        let records = try await readCommitted(topic, bootstrap: cluster.bootstrapServers, expecting: 1, timeout: .seconds(30))
        XCTAssertEqual(records.count, 1, "published once")
        XCTAssertEqual(records.first?.headers.string(MessageEnvelope.Header.source), "his.H37010200001")
        XCTAssertEqual(records.first?.value, sample, "the message as received")
    }

    func testEachAdapterExecutableNamesAMissingOrInvalidManifest() throws {
        let dataDir = temporaryDirectory()
        let wrongKind = packageRoot.appendingPathComponent("Adapters/WebService/manifests/soap-h37010200001.yaml").path
        try "kind: hl7v2-mllp\nname: [broken\n".write(toFile: dataDir + "/broken.yaml", atomically: true, encoding: .utf8)
        for name in Self.executables {
            let missing = try run(name, ["--brokers", "127.0.0.1:1", "--data-dir", dataDir])
            XCTAssertNotEqual(missing.status, 0, name)
            XCTAssertTrue(missing.stderr.contains("Missing expected argument '<manifest>'"), "\(name): \(missing.stderr)")

            let absent = try run(name, [dataDir + "/absent.yaml", "--brokers", "127.0.0.1:1", "--data-dir", dataDir])
            XCTAssertNotEqual(absent.status, 0, name)
            XCTAssertTrue(absent.stderr.contains("\(dataDir)/absent.yaml: cannot read file"), "\(name): \(absent.stderr)")

            let broken = try run(name, [dataDir + "/broken.yaml", "--brokers", "127.0.0.1:1", "--data-dir", dataDir])
            XCTAssertNotEqual(broken.status, 0, name)
            XCTAssertTrue(broken.stderr.contains("\(dataDir)/broken.yaml: not valid YAML"), "\(name): \(broken.stderr)")

            let other = try run(name, [wrongKind, "--brokers", "127.0.0.1:1", "--data-dir", dataDir])
            XCTAssertNotEqual(other.status, 0, name)
            XCTAssertTrue(other.stderr.contains("kind is 'soap-his'; this program runs kind "), "\(name): \(other.stderr)")
        }
        // Nothing was started: no message store was made for a manifest that was refused.
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDir + "/medbus.sqlite"))
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stderr: String) {
        let process = try MedBusProcess(arguments, executable: builtExecutable(executable))
        let status = process.wait(timeout: 30)
        return (status, process.stderr)
    }
}
