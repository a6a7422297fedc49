import Foundation
import XCTest
@testable import MedBusRegistry

final class MappingRegistryTests: XCTestCase {
    func testPublishNumbersVersionsPerNameFromOne() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let a1 = try registry.publish(name: "his.adt", content: bytes("a1"), author: "li", note: "first")
        let a2 = try registry.publish(name: "his.adt", content: bytes("a2"), author: "li", note: "second")
        let b1 = try registry.publish(name: "insurer.claim", content: bytes("b1"), author: "wang", note: "")
        let a3 = try registry.publish(name: "his.adt", content: bytes("a3"), author: "zhao", note: "third")

        XCTAssertEqual([a1.version, a2.version, a3.version, b1.version], [1, 2, 3, 1])
        XCTAssertEqual(a1.digest, MappingVersion.digest(of: bytes("a1")))
        XCTAssertEqual(a1.digest.count, 64)
        XCTAssertTrue(a3.isIntact)
        XCTAssertEqual(try registry.versions(name: "his.adt").map(\.version), [1, 2, 3])
        XCTAssertEqual(try registry.versions(name: "his.adt").map(\.author), ["li", "li", "zhao"])
        XCTAssertEqual(try registry.active(name: "his.adt"), a3)
        XCTAssertEqual(try registry.active(), [a3, b1])
        XCTAssertEqual(try registry.version(name: "his.adt", version: 2), a2)
        XCTAssertNil(try registry.version(name: "his.adt", version: 4))
        XCTAssertNil(try registry.active(name: "nothing"))
    }

    func testPublishedVersionsAreImmutable() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let v1 = try registry.publish(name: "m", content: bytes("{\"one\":1}"), author: "li", note: "v1")
        _ = try registry.publish(name: "m", content: bytes("{\"two\":2}"), author: "li", note: "v2")
        XCTAssertEqual(try registry.version(name: "m", version: 1), v1)
        XCTAssertEqual(try registry.version(name: "m", version: 1)?.content, bytes("{\"one\":1}"))

        // The database itself refuses to rewrite history, not only this module's API.
        XCTAssertThrowsError(try registry.database.write { db in
            try db.execute(sql: "UPDATE mapping_versions SET content = x'00' WHERE name = 'm' AND version = 1")
        }) { XCTAssertTrue("\($0)".contains("immutable"), "\($0)") }
        XCTAssertThrowsError(try registry.database.write { db in
            try db.execute(sql: "DELETE FROM mapping_versions WHERE name = 'm'")
        })
        XCTAssertThrowsError(try registry.database.write { db in
            try db.execute(sql: "UPDATE mapping_activations SET version = 2 WHERE sequence = 1")
        })
        XCTAssertThrowsError(try registry.database.write { db in try db.execute(sql: "DELETE FROM audit_log") })
        XCTAssertEqual(try registry.version(name: "m", version: 1), v1)
    }

    func testPublishingTheActiveContentAgainIsRefused() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let v1 = try registry.publish(name: "m", content: bytes("same"), author: "li", note: "")
        XCTAssertThrowsRegistryError(.unchanged(name: "m", activeVersion: 1, digest: v1.digest),
                                     try registry.publish(name: "m", content: bytes("same"), author: "wang", note: "again"))
        XCTAssertEqual(try registry.versions(name: "m").count, 1)
        XCTAssertEqual(try registry.history(name: "m").count, 1)

        // Only the *active* content counts: after v2, v1's content may come back as v3.
        _ = try registry.publish(name: "m", content: bytes("other"), author: "li", note: "")
        XCTAssertEqual(try registry.publish(name: "m", content: bytes("same"), author: "li", note: "").version, 3)
    }

    func testRollbackReactivatesAnEarlierVersionAndHistoryShowsWhoDidWhat() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        let v1 = try registry.publish(name: "his.adt", content: bytes("v1"), author: "li", note: "initial")
        _ = try registry.publish(name: "his.adt", content: bytes("v2"), author: "wang", note: "new code table")
        let before = Date()
        let restored = try registry.rollback(name: "his.adt", to: 1, author: "zhao", note: "v2 rejects ADT^A08")

        XCTAssertEqual(restored, v1)
        XCTAssertEqual(try registry.active(name: "his.adt"), v1)
        XCTAssertEqual(try registry.versions(name: "his.adt").map(\.version), [1, 2], "a rollback creates no version")
        let history = try registry.history(name: "his.adt")
        XCTAssertEqual(history.map(\.action), [.publish, .publish, .rollback])
        XCTAssertEqual(history.map(\.version), [1, 2, 1])
        XCTAssertEqual(history.map(\.author), ["li", "wang", "zhao"])
        XCTAssertEqual(history.last?.note, "v2 rejects ADT^A08")
        XCTAssertGreaterThanOrEqual(history.last!.at, before.addingTimeInterval(-0.001))
        XCTAssertEqual(history.map(\.sequence), history.map(\.sequence).sorted())
        XCTAssertEqual(Set(history.map(\.sequence)).count, 3)

        // Rolling forward again is a rollback to v2; to the active version it is refused.
        XCTAssertEqual(try registry.rollback(name: "his.adt", to: 2, author: "li", note: "fixed upstream").version, 2)
        XCTAssertThrowsRegistryError(.alreadyActive(name: "his.adt", version: 2),
                                     try registry.rollback(name: "his.adt", to: 2, author: "li", note: ""))
        // Publishing v1's content now is a new version, since v2 is active.
        XCTAssertEqual(try registry.publish(name: "his.adt", content: bytes("v1"), author: "li", note: "").version, 3)
    }

    func testUnknownNamesVersionsAndBadInputAreSpecificErrors() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        _ = try registry.publish(name: "m", content: bytes("x"), author: "li", note: "")
        XCTAssertThrowsRegistryError(.unknownMapping("nope"), try registry.rollback(name: "nope", to: 1, author: "li", note: ""))
        XCTAssertThrowsRegistryError(.unknownVersion(name: "m", version: 7, latest: 1), try registry.rollback(name: "m", to: 7, author: "li", note: ""))
        XCTAssertThrowsRegistryError(.unknownVersion(name: "m", version: 0, latest: 1), try registry.rollback(name: "m", to: 0, author: "li", note: ""))
        XCTAssertThrowsRegistryError(.unknownMapping("nope"), try registry.versions(name: "nope"))
        XCTAssertThrowsRegistryError(.unknownMapping("nope"), try registry.history(name: "nope"))
        XCTAssertThrowsRegistryError(.missingAuthor, try registry.publish(name: "m", content: bytes("y"), author: "  ", note: ""))
        XCTAssertThrowsRegistryError(.emptyContent(name: "m"), try registry.publish(name: "m", content: [], author: "li", note: ""))
        for bad in ["", "has space", ".hidden", "-x", "名字", "a\nb", String(repeating: "x", count: 201)] {
            XCTAssertThrowsError(try registry.publish(name: bad, content: bytes("x"), author: "li", note: "")) { error in
                guard case .invalidName = error as? RegistryError else { return XCTFail("\(bad): \(error)") }
            }
        }
        XCTAssertNoThrow(try registry.publish(name: "his/jinan-1:ADT_A01.v2", content: bytes("x"), author: "li", note: ""))
        XCTAssertEqual("\(RegistryError.unknownVersion(name: "m", version: 7, latest: 1))", "mapping m has no version 7 (versions are 1 to 1)")
    }

    func testReopeningKeepsEverything() throws {
        let directory = try makeTemporaryDirectory(self)
        var registry = try MappingRegistry.open(directory: directory)
        let v1 = try registry.publish(name: "m", content: bytes("one"), author: "li", note: "n1")
        let v2 = try registry.publish(name: "m", content: Array(repeating: 0xAB, count: 300_000), author: "li", note: "big")
        _ = try registry.rollback(name: "m", to: 1, author: "wang", note: "back")
        let history = try registry.history(name: "m")
        let audit = try registry.auditLog.entries()
        try registry.close()
        XCTAssertThrowsRegistryError(.closed, try registry.active())

        registry = try MappingRegistry.open(directory: directory)
        XCTAssertTrue(try registry.integrityCheck())
        XCTAssertEqual(try registry.versions(name: "m"), [v1, v2])
        XCTAssertEqual(try registry.history(name: "m"), history)
        XCTAssertEqual(try registry.active(name: "m"), v1)
        XCTAssertEqual(try registry.auditLog.entries(), audit)
        XCTAssertEqual(try registry.publish(name: "m", content: bytes("three"), author: "li", note: "").version, 3)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory.appendingPathComponent("registry.sqlite").path))
    }

    func testOpeningAFileThatIsNotADatabaseIsReportedAsCorrupt() throws {
        let directory = try makeTemporaryDirectory(self)
        try Data(repeating: 0x42, count: 8192).write(to: directory.appendingPathComponent("registry.sqlite"))
        XCTAssertThrowsError(try MappingRegistry.open(directory: directory)) { error in
            guard case .corrupt = error as? RegistryError else { return XCTFail("\(error)") }
        }
    }

    /// Two handles (as two CLI processes would have) publishing the same name at once: every publish gets its
    /// own number, none is lost, numbers have no gaps.
    func testConcurrentPublishesFromTwoHandlesGetDistinctNumbers() throws {
        let directory = try makeTemporaryDirectory(self)
        let first = try MappingRegistry.open(directory: directory)
        let second = try MappingRegistry.open(directory: directory)
        let perHandle = 25
        let results = NSLock()
        nonisolated(unsafe) var versions: [Int] = []
        nonisolated(unsafe) var failures: [String] = []
        DispatchQueue.concurrentPerform(iterations: 2 * perHandle) { i in
            let registry = i.isMultiple(of: 2) ? first : second
            do {
                let version = try registry.publish(name: "shared", content: bytes("content \(i)"), author: "op\(i % 2)", note: "")
                results.withLock { versions.append(version.version) }
            } catch {
                results.withLock { failures.append("\(error)") }
            }
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(versions.sorted(), Array(1...(2 * perHandle)))
        XCTAssertEqual(try first.versions(name: "shared").map(\.version), Array(1...(2 * perHandle)))
        XCTAssertEqual(try second.history(name: "shared").count, 2 * perHandle)
        XCTAssertEqual(try first.auditLog.entries().count, 2 * perHandle)
    }

    func testUnannouncedListsOnlyTheCurrentActivationPerName() throws {
        let registry = try MappingRegistry.open(directory: makeTemporaryDirectory(self))
        _ = try registry.publish(name: "a", content: bytes("a1"), author: "li", note: "")
        let a2 = try registry.publish(name: "a", content: bytes("a2"), author: "li", note: "")
        let b1 = try registry.publish(name: "b", content: bytes("b1"), author: "li", note: "")

        var pending = try registry.unannounced()
        XCTAssertEqual(pending.map(\.0), [a2, b1], "a's v1 is superseded and must never be announced after v2")
        XCTAssertEqual(pending.map(\.1.version), [2, 1])

        try registry.markAnnounced(pending[0].1, actor: "cli")
        pending = try registry.unannounced()
        XCTAssertEqual(pending.map(\.0), [b1])
        try registry.markAnnounced(pending[0].1)
        XCTAssertTrue(try registry.unannounced().isEmpty)

        // A rollback is a new activation that needs announcing, of the old version.
        let restored = try registry.rollback(name: "a", to: 1, author: "wang", note: "")
        XCTAssertEqual(try registry.unannounced().map(\.0), [restored])
        XCTAssertEqual(try registry.unannounced().first?.1.action, .rollback)

        let bogus = Activation(sequence: 999, name: "a", version: 1, action: .publish, author: "x", at: Date(), note: "")
        XCTAssertThrowsRegistryError(.unknownVersion(name: "a", version: 1, latest: 2), try registry.markAnnounced(bogus))
        let announceEntries = try registry.auditLog.entries().filter { $0.action == "mapping.announce" }
        XCTAssertEqual(announceEntries.map(\.actor), ["cli", "medbus"])
    }
}
