import Foundation
import MedBusStore
import XCTest

final class StoreCommandTests: XCTestCase {
    /// A writer killed with SIGKILL mid-stream: the store reopens without corruption and every
    /// message the writer saw committed is present.
    func testStoreSurvivesKillDashNine() throws {
        let dataDir = temporaryDirectory()
        let writer = try MedBusProcess(["store-writer", "--data-dir", dataDir])
        try writer.waitForOutput(timeout: 60) { $0.split(separator: "\n").count >= 3000 }
        writer.signal(SIGKILL)
        XCTAssertEqual(writer.wait(), SIGKILL)
        let committed = writer.stdout.split(separator: "\n").filter { $0.hasPrefix("w") }.map(String.init)
        XCTAssertGreaterThanOrEqual(committed.count, 3000)

        let store = try MessageStore.open(directory: dataDir)
        XCTAssertTrue(try store.integrityCheck())
        for id in committed {
            XCTAssertNotNil(try store.message(id: id), "committed message \(id) lost")
        }
        XCTAssertGreaterThanOrEqual(try store.count(MessageQuery(source: "crash.test")), committed.count)
        try store.close()
    }

    func testMessagesListAndShow() async throws {
        let dataDir = temporaryDirectory()
        let store = try MessageStore.open(directory: dataDir)
        let base = Date(timeIntervalSince1970: 1_736_900_000)
        for i in 0..<30 {
            _ = try await store.insert(StoredMessage(
                id: "msg-\(i)", source: i % 3 == 0 ? "his.h1" : "his.h2", sourceMessageId: "ctl-\(i)",
                type: i % 2 == 0 ? "ADT^A01" : "ORU^R01", contentType: "x-application/hl7-v2+er7",
                receivedAt: base.addingTimeInterval(Double(i)), payload: Data("MSH|^~\\&|PATIENT-NAME-\(i)".utf8)))
        }
        try store.close()

        let list = try medbus(["messages", "list", "--data-dir", dataDir, "--source", "his.h1", "--type", "ADT^A01"])
        XCTAssertEqual(list.status, 0, list.stderr)
        let ids = list.stdout.split(separator: "\n").dropFirst().compactMap { $0.split(separator: "\t").dropFirst().first.map(String.init) }
        XCTAssertEqual(ids, ["msg-24", "msg-18", "msg-12", "msg-6", "msg-0"], list.stdout)
        XCTAssertFalse(list.stdout.contains("PATIENT-NAME"), "listing shows no payloads")

        let window = try medbus(["messages", "list", "--data-dir", dataDir, "--since", "2025-01-15T00:13:30Z", "--until", "2025-01-15T00:13:35Z"])
        XCTAssertTrue(window.stdout.hasSuffix("5 of 5 matching\n"), window.stdout)

        let show = try medbus(["messages", "show", "msg-7", "--data-dir", dataDir])
        XCTAssertEqual(show.status, 0, show.stderr)
        XCTAssertTrue(show.stdout.contains("source message id: ctl-7"), show.stdout)
        XCTAssertFalse(show.stdout.contains("PATIENT-NAME"), "payload only on request")
        let withPayload = try medbus(["messages", "show", "msg-7", "--payload", "--data-dir", dataDir])
        XCTAssertTrue(withPayload.stdout.contains("PATIENT-NAME-7"), withPayload.stdout)

        let missing = try medbus(["messages", "show", "nope", "--data-dir", dataDir])
        XCTAssertEqual(missing.status, 1)
        XCTAssertTrue(missing.stderr.contains("no message with id 'nope'"), missing.stderr)
    }
}

final class PruneCommandTests: XCTestCase {
    func testPruneDeletesOnlyOldMessages() async throws {
        let dataDir = temporaryDirectory()
        let store = try MessageStore.open(directory: dataDir)
        let old = Date().addingTimeInterval(-3 * 86_400)
        _ = try store.insertBatch((0..<200).map { StoredMessage(id: "old-\($0)", source: "his.h1", type: "ADT^A01", contentType: "text/plain", receivedAt: old, payload: Data(count: 2048)) })
        _ = try store.insertBatch((0..<20).map { StoredMessage(id: "new-\($0)", source: "his.h1", type: "ADT^A01", contentType: "text/plain", payload: Data(count: 2048)) })
        try store.close()

        let bad = try medbus(["messages", "prune", "--older-than", "soon", "--data-dir", dataDir])
        XCTAssertEqual(bad.status, 64, "usage error for a malformed age")
        let result = try medbus(["messages", "prune", "--older-than", "2d", "--data-dir", dataDir])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.hasPrefix("deleted 200 messages"), result.stdout)

        let reopened = try MessageStore.open(directory: dataDir)
        XCTAssertEqual(try reopened.count(MessageQuery()), 20)
        XCTAssertNotNil(try reopened.message(id: "new-0"))
        XCTAssertNil(try reopened.message(id: "old-0"))
    }
}
