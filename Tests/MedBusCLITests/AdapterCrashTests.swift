import Foundation
import MedBusTestSupport
import XCTest

/// kill -9 of the adapter process while senders stream 10,000 messages; restart; the senders
/// retransmit everything they got no ACK for. Afterwards Kafka holds each message exactly once
/// and every ACKed message is there.
final class AdapterCrashTests: XCTestCase {
    static func message(_ n: Int) -> [UInt8] {
        Array("MSH|^~\\&|HIS|H37010200001|MEDBUS|SDJK|20250115103045||ADT^A08^ADT_A01|K\(n)|P|2.5\rEVN|A08|20250115103045\rPID|1||P\(n % 700)^^^H37010200001^MR||测试^\(n)||19900101|F\r".utf8)
    }

    func testKillDashNineDuringStreamLosesAndDuplicatesNothing() async throws {
        try await killDuringStream(total: 10_000, connections: 4, killAfterAcks: 3000)
    }

    /// 32 senders at once: every store transaction carries many senders' messages (group commit),
    /// and the kill lands while such a transaction, or the produce of its messages, is under way.
    func testKillDashNineDuringCoalescedCommitsLosesNothingAcknowledged() async throws {
        try await killDuringStream(total: 4_000, connections: 32, killAfterAcks: 1500)
    }

    /// `--store-sync normal` (no fsync per commit): kill -9 still loses nothing, because the operating
    /// system's page cache outlives the process; the de-duplication rows a retransmission needs are there.
    func testKillDashNineWithStoreSyncNormalLosesAndDuplicatesNothing() async throws {
        try await killDuringStream(total: 4_000, connections: 16, killAfterAcks: 1500, storeSync: "normal")
    }

    private func killDuringStream(total: Int, connections: Int, killAfterAcks: Int, storeSync: String = "full") async throws {
        let kafkaDir = temporaryDirectory()
        let topics = kafkaDir + "/topics.yaml"
        try "topics:\n  - name: raw.his.H37010200001\n    partitions: 6\n    replication: 3\n".write(toFile: topics, atomically: true, encoding: .utf8)
        let kafka = try MedBusProcess(["serve", "--data-dir", kafkaDir, "--topics", topics, "--adapters", kafkaDir + "/none"])
        defer { kafka.signal(SIGKILL) }
        try kafka.waitForOutput { $0.contains("Store:") }
        let bootstrap = try XCTUnwrap(kafka.stdout.split(separator: "\n").first { $0.hasPrefix("Kafka bootstrap: ") }?
            .dropFirst("Kafka bootstrap: ".count).split(separator: " ").first.map(String.init))

        let adapterDir = temporaryDirectory()
        let manifest = adapterDir + "/his.yaml"
        try "kind: hl7v2-mllp\nname: crash-his\nsender: H37010200001\nlisten: 127.0.0.1:0\n".write(toFile: manifest, atomically: true, encoding: .utf8)
        func startAdapter() throws -> (MedBusProcess, Int) {
            let adapter = try MedBusProcess(["adapter", "run", manifest, "--brokers", bootstrap, "--data-dir", adapterDir, "--store-sync", storeSync])
            try adapter.waitForOutput { $0.contains(") listening on") }
            let port = try XCTUnwrap(adapter.stdout.split(separator: "\n").first { $0.hasPrefix("Adapter ") && $0.contains(") listening on") }?.split(separator: ":").last.flatMap { Int($0) })
            return (adapter, port)
        }

        let acked = AckedSet()
        // First pass: stream until the adapter is killed under the senders.
        let (first, firstPort) = try startAdapter()
        let killer = Task {
            while await acked.count < killAfterAcks { try await Task.sleep(for: .milliseconds(20)) }
            first.signal(SIGKILL)
        }
        try await stream(port: firstPort, acked: acked, total: total, connections: connections)
        try await killer.value
        XCTAssertEqual(first.wait(), SIGKILL)
        let ackedBeforeCrash = await acked.snapshot
        XCTAssertLessThan(ackedBeforeCrash.count, total, "killed mid-stream")

        // Restart on the same store; the senders retransmit whatever has no ACK.
        let (second, secondPort) = try startAdapter()
        defer { second.signal(SIGKILL) }
        try await stream(port: secondPort, acked: acked, total: total, connections: connections)
        let ackedAll = await acked.snapshot
        XCTAssertEqual(ackedAll.count, total, "every message acknowledged in the end")

        let read = try runTool("/usr/bin/kcat", ["-C", "-b", bootstrap, "-t", "raw.his.H37010200001", "-e", "-q", "-f", "%h\n"])
        let onKafka = read.split(separator: "\n").compactMap { line in
            line.split(separator: ",").first { $0.hasPrefix("medbus-source-message-id=") }.map { String($0.dropFirst("medbus-source-message-id=H37010200001|".count)) }
        }
        let duplicates = Dictionary(grouping: onKafka, by: { $0 }).filter { $0.value.count > 1 }.keys.sorted()
        XCTAssertEqual(onKafka.count, total, "each message exactly once; duplicated: \(duplicates)")
        if !duplicates.isEmpty {
            print(read.split(separator: "\n").filter { line in duplicates.contains { line.contains("|\($0),") } }.joined(separator: "\n"))
            print("first adapter:\n\(first.stdout)\n\(first.stderr.suffix(3000))\nsecond adapter:\n\(second.stdout)")
        }
        XCTAssertEqual(Set(onKafka), Set((0..<total).map { "K\($0)" }))
        XCTAssertTrue(ackedBeforeCrash.isSubset(of: Set(onKafka)), "every message ACKed before the crash is on Kafka")
    }

    /// Each connection sends its share of the messages not yet ACKed, one at a time; returns
    /// when done or when the adapter goes away.
    private func stream(port: Int, acked: AckedSet, total: Int, connections: Int) async throws {
        let pending = await acked.missing(from: total)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<connections {
                let mine = pending.enumerated().filter { $0.offset % connections == c }.map(\.element)
                group.addTask {
                    let confirmed = try await onThread { () -> [Int] in
                        guard let client = try? MLLPTestClient(port: port, receiveTimeout: 30) else { return [] }
                        var confirmed: [Int] = []
                        for n in mine {
                            client.sendFrame(Self.message(n))
                            guard let ack = client.readFrame() else { break }
                            if String(decoding: ack, as: UTF8.self).contains("MSA|AA") {
                                confirmed.append(n)
                                if confirmed.count % 50 == 0 { let batch = confirmed; Task { await acked.insert(batch) } }
                            }
                        }
                        return confirmed
                    }
                    await acked.insert(confirmed)
                }
            }
            try await group.waitForAll()
        }
    }
}

private actor AckedSet {
    private var ids = Set<Int>()
    var count: Int { ids.count }
    var snapshot: Set<String> { Set(ids.map { "K\($0)" }) }
    func insert(_ batch: [Int]) { ids.formUnion(batch) }
    func missing(from total: Int) -> [Int] { (0..<total).filter { !ids.contains($0) } }
}
