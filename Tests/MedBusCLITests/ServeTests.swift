import Foundation
import MedBusTestSupport
import XCTest

/// `medbus serve` over real sockets: the embedded cluster is usable by an independent client,
/// the standard topics exist, and SIGTERM stops it cleanly.
final class ServeTests: XCTestCase {
    func testServeStartsEmbeddedClusterUsableByKcat() throws {
        let dataDir = temporaryDirectory()
        let serve = try MedBusProcess(["serve", "--data-dir", dataDir, "--topics", "deploy/topics.yaml"])
        defer { serve.signal(SIGKILL) }
        try serve.waitForOutput { $0.contains("Store:") }
        let bootstrap = try XCTUnwrap(serve.stdout.split(separator: "\n").first { $0.hasPrefix("Kafka bootstrap: ") }?
            .dropFirst("Kafka bootstrap: ".count).split(separator: " ").first.map(String.init))
        // The default adapters (`make run`): the manifests of Adapters/HL7MLLP, Adapters/HTTP and Adapters/Dispatch120.
        try serve.waitForOutput { output in
            ["Adapter his-h37010200001 (hl7v2-mllp) listening on 127.0.0.1:2575", "Adapter http-h37010200001 (http-his) listening on 127.0.0.1:8090",
             "Adapter dispatch-jn120 (dispatch-120) listening on 127.0.0.1:7120"].allSatisfy(output.contains)
        }

        // The standard topics of deploy/topics.yaml exist with their partition counts.
        let list = try medbus(["topics", "list", "--data-dir", dataDir])
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("settlement.requests\tpartitions=12\treplication=3"), list.stdout)
        XCTAssertTrue(list.stdout.contains("medbus.mappings\t"), list.stdout)
        let viaBrokers = try medbus(["topics", "describe", "rx.events", "--brokers", bootstrap])
        XCTAssertEqual(viaBrokers.status, 0, viaBrokers.stderr)
        XCTAssertTrue(viaBrokers.stdout.hasPrefix("topic rx.events:"), viaBrokers.stdout)

        // An independent client produces and consumes through it.
        _ = try runTool("/usr/bin/kcat", ["-P", "-b", bootstrap, "-t", "rx.events", "-k", "rx-1"], input: Data("dispensed\n".utf8))
        let read = try runTool("/usr/bin/kcat", ["-C", "-b", bootstrap, "-t", "rx.events", "-e", "-q", "-f", "%k=%s\n"])
        XCTAssertEqual(read, "rx-1=dispensed\n")

        serve.signal(SIGTERM)
        XCTAssertEqual(serve.wait(timeout: 30), 0, serve.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDir + "/embedded-kafka.bootstrap"), "bootstrap file removed on shutdown")
        // Logs are JSON lines.
        for line in serve.stderr.split(separator: "\n") where line.hasPrefix("{") {
            XCTAssertNoThrow(try JSONSerialization.jsonObject(with: Data(line.utf8)), String(line))
        }
    }
}

/// Bad input gives one clear error line and a non-zero exit: never a crash, never a hang.
final class BadInputTests: XCTestCase {
    private func assertFailsCleanly(_ arguments: [String], mentions expected: String, within seconds: TimeInterval = 40, file: StaticString = #filePath, line: UInt = #line) throws {
        let started = Date()
        let result = try medbus(arguments, timeout: seconds)
        XCTAssertLessThan(Date().timeIntervalSince(started), seconds, "no hang", file: file, line: line)
        XCTAssertNotEqual(result.status, 0, file: file, line: line)
        XCTAssertNotEqual(result.status, 9, "killed by the timeout", file: file, line: line)
        let errorLines = result.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errorLines.count, 1, result.stderr, file: file, line: line)
        XCTAssertTrue(errorLines.first?.contains(expected) == true, "expected '\(expected)' in: \(result.stderr)", file: file, line: line)
        XCTAssertFalse(result.stderr.contains("Fatal error"), result.stderr, file: file, line: line)
    }

    func testBrokerUnreachableAtStart() throws {
        try assertFailsCleanly(["serve", "--brokers", "127.0.0.1:1", "--data-dir", temporaryDirectory()], mentions: "unreachable")
    }

    /// The embedded cluster keeps records in memory: without the store's fsync nothing would survive a power loss.
    func testStoreSyncNormalNeedsAnExternalCluster() throws {
        try assertFailsCleanly(["serve", "--store-sync", "normal", "--data-dir", temporaryDirectory()], mentions: "--store-sync normal needs an external Kafka cluster")
        try assertFailsCleanly(["serve", "--store-sync", "sometimes", "--data-dir", temporaryDirectory()], mentions: "store-sync")
    }

    func testUnknownTopic() throws {
        let dataDir = temporaryDirectory()
        let serve = try MedBusProcess(["serve", "--data-dir", dataDir, "--topics", "deploy/topics.yaml"])
        defer { serve.signal(SIGKILL) }
        try serve.waitForOutput { $0.contains("Store:") }
        try assertFailsCleanly(["topics", "describe", "no.such.topic", "--data-dir", dataDir], mentions: "unknown topic 'no.such.topic'")
    }

    func testStoreDirectoryNotWritable() throws {
        // A path below a regular file cannot be created, even by root.
        let file = temporaryDirectory() + "/plain-file"
        FileManager.default.createFile(atPath: file, contents: Data("x".utf8))
        try assertFailsCleanly(["serve", "--data-dir", file + "/data"], mentions: "not writable")
    }

    func testCorruptStoreFile() throws {
        let dataDir = temporaryDirectory()
        var garbage = Data(count: 65536)
        for i in garbage.indices { garbage[i] = UInt8.random(in: 0...255) }
        FileManager.default.createFile(atPath: dataDir + "/medbus.sqlite", contents: garbage)
        try assertFailsCleanly(["serve", "--data-dir", dataDir], mentions: "corrupt")
        try assertFailsCleanly(["messages", "list", "--data-dir", dataDir], mentions: "corrupt")
    }

    func testInvalidTopicsFile() throws {
        let dir = temporaryDirectory()
        let file = dir + "/topics.yaml"
        try "topics:\n  - name: ok.topic\n    partitions: zero\n    replication: 3\n".write(toFile: file, atomically: true, encoding: .utf8)
        try assertFailsCleanly(["serve", "--data-dir", dir, "--topics", file], mentions: "partitions must be a positive integer")
    }

    func testNoClusterForTopicsCommand() throws {
        try assertFailsCleanly(["topics", "list", "--data-dir", temporaryDirectory()], mentions: "no running `medbus serve`")
    }
}
