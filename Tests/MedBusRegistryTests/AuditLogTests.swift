import Foundation
import XCTest
@testable import MedBusRegistry

final class AuditLogTests: XCTestCase {
    func testEveryRegistryChangeWritesOneEntryWithoutContent() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let secret = "PATIENT-ZHANG-SAN-110101199001011234"
        let v1 = try registry.publish(name: "his.adt", content: bytes("{\"table\":\"\(secret)\"}"), author: "li", note: "initial load")
        _ = try registry.publish(name: "his.adt", content: bytes("{\"table\":\"other \(secret)\"}"), author: "wang", note: "")
        _ = try registry.rollback(name: "his.adt", to: 1, author: "zhao", note: "bad table")
        // A refused change leaves no entry: it never happened.
        XCTAssertThrowsError(try registry.rollback(name: "his.adt", to: 1, author: "zhao", note: ""))
        XCTAssertThrowsError(try registry.publish(name: "his.adt", content: bytes("{\"table\":\"\(secret)\"}"), author: "li", note: ""))

        let entries = try registry.auditLog.entries()
        XCTAssertEqual(entries.map(\.action), ["mapping.publish", "mapping.publish", "mapping.rollback"])
        XCTAssertEqual(entries.map(\.actor), ["li", "wang", "zhao"])
        XCTAssertEqual(Set(entries.map(\.object)), ["mapping:his.adt"])
        XCTAssertTrue(entries[0].detail.contains("v1") && entries[0].detail.contains(v1.digest) && entries[0].detail.contains("initial load"), entries[0].detail)
        XCTAssertTrue(entries[2].detail.contains("from v2 to v1"), entries[2].detail)
        XCTAssertEqual(entries.map(\.id), entries.map(\.id).sorted())
        for entry in entries { XCTAssertFalse(entry.detail.contains(secret), "audit detail leaks content: \(entry.detail)") }
    }

    func testRecordAndEntriesSinceWithLimit() throws {
        let log = try MappingRegistry.open(directory: makeTemporaryDirectory(self)).auditLog
        let first = try log.record(actor: "li", action: "message.replay", object: "message:42", detail: "to raw.his.jinan")
        Thread.sleep(forTimeInterval: 0.01)
        let cut = Date()
        Thread.sleep(forTimeInterval: 0.01)
        for i in 0..<5 { try log.record(actor: "wang", action: "deadletter.retry", object: "message:\(i)", detail: "") }

        XCTAssertEqual(try log.entries().count, 6)
        XCTAssertEqual(try log.entries().first, first)
        XCTAssertEqual(try log.entries(since: cut).map(\.object), (0..<5).map { "message:\($0)" })
        XCTAssertEqual(try log.entries(since: cut, limit: 2).map(\.object), ["message:0", "message:1"])
        XCTAssertEqual(try log.entries(since: Date().addingTimeInterval(60)), [])
        XCTAssertThrowsRegistryError(.missingAuthor, try log.record(actor: "", action: "x", object: "y", detail: ""))
    }
}
