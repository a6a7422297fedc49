import Foundation
import MedBusTestSupport
import XCTest

/// The HL7 v2 MLLP adapter inside `medbus serve`, driven by an MLLP client not written in this
/// project (`mllp_send` from PyPI's `hl7` package), checked on Kafka with `kcat`.
final class HL7AdapterTests: XCTestCase {
    static let samples = ["adt_a01", "adt_a03", "adt_a04", "adt_a08", "orm_o01", "oml_o21", "oru_r01", "rde_o11", "dft_p03", "adt_a01_gb18030", "adt_a01_custom_delimiters"]

    private func startServe() throws -> (serve: MedBusProcess, port: Int, bootstrap: String, dataDir: String) {
        let dataDir = temporaryDirectory()
        let adapters = dataDir + "/adapters"
        try FileManager.default.createDirectory(atPath: adapters, withIntermediateDirectories: true)
        try """
        kind: hl7v2-mllp
        name: test-his
        sender: H37010200001
        listen: 127.0.0.1:0
        """.write(toFile: adapters + "/his.yaml", atomically: true, encoding: .utf8)
        let serve = try MedBusProcess(["serve", "--data-dir", dataDir, "--adapters", adapters, "--topics", "deploy/topics.yaml"])
        try serve.waitForOutput { $0.contains(") listening on") }
        let port = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Adapter ") && $0.contains(") listening on") }?.split(separator: ":").last.flatMap { Int($0) })
        let bootstrap = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Kafka bootstrap: ") }?
            .dropFirst("Kafka bootstrap: ".count).split(separator: " ").first.map(String.init))
        return (serve, port, bootstrap, dataDir)
    }

    /// The sample messages as one file of MLLP frames, bytes unchanged (GB18030 included).
    private func framedSamples() throws -> String {
        var framed = Data()
        for name in Self.samples {
            let bytes = try Data(contentsOf: packageRoot.appendingPathComponent("Adapters/samples/\(name).hl7"))
            framed.append(0x0B)
            framed.append(bytes)
            framed.append(contentsOf: [0x1C, 0x0D])
        }
        let path = temporaryDirectory() + "/samples.mllp"
        try framed.write(to: URL(fileURLWithPath: path))
        return path
    }

    private func mllpSend(_ file: String, port: Int) throws -> [String] {
        let output = try runTool("/usr/bin/env", ["python3", "-m", "hl7.client", "--file", file, "--port", "\(port)", "127.0.0.1"])
        // Each ACK is printed as its segments separated by CR.
        return output.split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map(String.init).filter { $0.hasPrefix("MSA") }
    }

    func testSamplesFromMllpSendAreAcknowledgedAndOnKafkaExactlyOnce() throws {
        let (serve, port, bootstrap, _) = try startServe()
        defer { serve.signal(SIGKILL) }
        let file = try framedSamples()

        let first = try mllpSend(file, port: port)
        XCTAssertEqual(first.count, Self.samples.count, "one ACK per message")
        for msa in first { XCTAssertTrue(msa.dropFirst(4).hasPrefix("AA") || msa.dropFirst(4).hasPrefix("CA"), msa) }

        // The sender retransmits everything: the same ACKs, nothing published twice.
        let second = try mllpSend(file, port: port)
        XCTAssertEqual(second, first, "retransmissions get the same ACK")

        let topic = "raw.his.H37010200001"
        let read = try runTool("/usr/bin/kcat", ["-C", "-b", bootstrap, "-t", topic, "-e", "-q", "-f", "%h\n"])
        let ids = read.split(separator: "\n").compactMap { line in
            line.split(separator: ",").first { $0.hasPrefix("medbus-source-message-id=") }.map { String($0.dropFirst("medbus-source-message-id=".count)) }
        }
        XCTAssertEqual(ids.count, Self.samples.count, read)
        XCTAssertEqual(Set(ids).count, Self.samples.count, "each message exactly once")
    }

    func testMalformedInputGetsNegativeAckAndConnectionStaysUsable() throws {
        let (serve, port, _, dataDir) = try startServe()
        defer { serve.signal(SIGKILL) }
        let good = try Data(contentsOf: packageRoot.appendingPathComponent("Adapters/samples/adt_a04.hl7"))
        var framed = Data()
        for body in [Data("PID|1||123\r".utf8), Data("MSH|^~\\&|HIS|H1|MEDBUS|X|20250115||ADT^A01|BADCS|P|2.5|||||CHN|NO-SUCH-CHARSET\rPID|1\r".utf8), good] {
            framed.append(0x0B); framed.append(body); framed.append(contentsOf: [0x1C, 0x0D])
        }
        let path = temporaryDirectory() + "/bad.mllp"
        try framed.write(to: URL(fileURLWithPath: path))
        let acks = try mllpSend(path, port: port)
        XCTAssertEqual(acks.count, 3)
        XCTAssertTrue(acks[0].hasPrefix("MSA|AR"), acks[0])
        XCTAssertTrue(acks[1].hasPrefix("MSA|AR") || acks[1].hasPrefix("MSA|AE"), acks[1])
        XCTAssertTrue(acks[1].contains("BADCS"), "MSA-2 names the control id: \(acks[1])")
        XCTAssertTrue(acks[2].hasPrefix("MSA|AA"), "the connection stays usable: \(acks[2])")

        let rejected = try medbus(["messages", "list", "--status", "rejected", "--data-dir", dataDir])
        XCTAssertTrue(rejected.stdout.hasSuffix("2 of 2 matching\n"), rejected.stdout)
    }
}
